#!/usr/bin/env bash
# bench.sh — hpr's benchmarks on the harness engines → BENCHMARKS.md
# (`make bench` runs it after `make build`).
#
# It builds the bench program (internal/bench) and an unstripped hpr (for the
# binary's size by package), prepares a workspace in /tmp owned by the
# harness's test user (HPR_TEST_USER, default hprtest: a 1-file and a
# 100 000-file project, seed-style compose projects, a copy of
# examples/blog), and runs every measure as that user with a clean
# environment. Run it as root (it switches to the test user, and installs
# Debian's docker-compose if it is missing) or as the test user itself.
#
# HPR_BENCH_RUNS      interleaved rounds per measure (default 15; measures 1 and 2 run twice as many)
# HPR_BENCH_SLOW_RUNS rounds of the keep-id first run (default 5)
# HPR_BENCH_ANCHOR_RUNS rounds of docker-compose up --build, 100k files (default 3)
# HPR_BENCH_MEASURES  which measures, e.g. "1,5" (default all: 1,2,3,4,5,6,7,8)
# HPR_BENCH_KEEP=1    keep the workspace and the raw samples (bench.json)
# HPR_BENCH_OUT       where the report goes (default BENCHMARKS.md)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TAGS=${TAGS:-$(cat scripts/tags)}
export CGO_ENABLED=0
OUT=${HPR_BENCH_OUT:-$ROOT/BENCHMARKS.md}

if [ -z "${HPR_TEST_ENGINES:-}" ] && [ -r /run/hpr-harness/env ]; then
  # shellcheck disable=SC1091
  . /run/hpr-harness/env
fi
if [ -z "${HPR_TEST_ENGINES:-}" ]; then
  echo "bench: no engines (HPR_TEST_ENGINES empty): run 'sudo scripts/engines.sh up' first" >&2
  exit 1
fi
[ -x bin/hpr ] || { echo "bench: bin/hpr missing: run make build (or make bench)" >&2; exit 1; }

user=${HPR_TEST_USER:-$(id -un)}
if [ "$(id -u)" = 0 ] && [ "$user" = root ]; then
  echo "bench: refusing to measure as root: set HPR_TEST_USER (the harness's test user)" >&2
  exit 1
fi
if [ "$(id -u)" != 0 ] && [ "$user" != "$(id -un)" ]; then
  echo "bench: run as root (to switch to $user) or as $user" >&2
  exit 1
fi
uid=$(id -u "$user")
home=$(getent passwd "$user" | cut -d: -f6)

if ! command -v docker-compose >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "bench: installing Debian's docker-compose (the seed's flow, measured as the anchor)"
    apt-get install -y -qq docker-compose >/dev/null ||
      { apt-get update -qq && apt-get install -y -qq docker-compose >/dev/null; } ||
      echo "bench: could not install docker-compose: the compose anchor will say so" >&2
  else
    echo "bench: docker-compose is missing (apt-get install docker-compose): the compose anchor will say so" >&2
  fi
fi

WORK=$(mktemp -d /tmp/hpr-bench.XXXXXX)
chmod 0755 "$WORK"
cleanup() {
  if [ "${HPR_BENCH_KEEP:-}" = 1 ]; then
    echo "bench: workspace kept in $WORK"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

echo "bench: building the bench program, an unstripped hpr and one program per backend (for sizes)"
go build -tags "$TAGS" -o "$WORK/bench" ./internal/bench
go build -trimpath -tags "$TAGS" -o "$WORK/hpr.unstripped" ./cmd/hpr
go tool nm -size -sort size "$WORK/hpr.unstripped" >"$WORK/nm.txt"
rm -f "$WORK/hpr.unstripped"
backend_sizes=""
for b in podman docker; do
  go build -trimpath -tags "$TAGS" -ldflags "-s -w" -o "$WORK/only-$b" "./internal/bench/backendsize/$b"
  backend_sizes="$backend_sizes$b=$(stat -c %s "$WORK/only-$b") "
  rm -f "$WORK/only-$b"
done
cp bin/hpr "$WORK/hpr"
cp -r examples/blog "$WORK/blog"
rm -rf "$WORK/blog/_site" "$WORK/blog/.jekyll-cache"
if [ "$(id -u)" = 0 ]; then chown -R "$user:" "$WORK"; fi

args=(-hpr "$WORK/hpr" -work "$WORK" -out "$WORK/BENCHMARKS.md" -nm "$WORK/nm.txt" -backend-sizes "$backend_sizes"
  -runs "${HPR_BENCH_RUNS:-15}" -slow-runs "${HPR_BENCH_SLOW_RUNS:-5}" -anchor-runs "${HPR_BENCH_ANCHOR_RUNS:-3}" -measures "${HPR_BENCH_MEASURES:-1,2,3,4,5,6,7,8}"
  -repo-version "$(git describe --tags --always --dirty 2>/dev/null || echo dev)")
if [ "${HPR_BENCH_KEEP:-}" = 1 ]; then args+=(-raw "$WORK/bench.json"); fi
envs=(HOME="$home" XDG_RUNTIME_DIR="/run/user/$uid" PATH=/usr/bin:/bin HPR_TEST_ENGINES="$HPR_TEST_ENGINES"
  HPR_SSH_HOST="${HPR_SSH_HOST:-}" HPR_SSH_PORT="${HPR_SSH_PORT:-}" HPR_TEST_USER="$user")
if [ "$(id -u)" = 0 ]; then
  (cd "$WORK" && runuser -u "$user" -- env -i "${envs[@]}" "$WORK/bench" "${args[@]}")
else
  (cd "$WORK" && env -i "${envs[@]}" "$WORK/bench" "${args[@]}")
fi
cp "$WORK/BENCHMARKS.md" "$OUT"
echo "bench: wrote $OUT"
