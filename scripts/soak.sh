#!/usr/bin/env bash
# soak.sh — hpr run for a long while on every harness engine → SOAK.md
# (`make soak` runs it after `make build`; not part of make test).
#
# HPR_SOAK_RUNS sequential `hpr run -- true` (default 2000) spread over the
# engines, then HPR_SOAK_SIGNALS runs (default 200) each sent a signal at a
# random phase, then one plain run per engine; before and after, each
# engine's containers (Buildah's storage containers too), images, networks,
# volumes, overlay mounts in the daemon's mount namespace and the daemon's
# open files, and hpr's memo files; hpr's peak RSS per run (internal/soak).
# It runs as root, to read the daemons' /proc files; hpr runs as the
# harness's test user. HPR_SOAK_LIMIT (default 45m) bounds it: no run starts
# after that, and the report says how many ran. HPR_SOAK_OUT: the report
# (default SOAK.md). HPR_SOAK_SEED: the random signals and phases.
set -euo pipefail
cd "$(dirname "$0")/.."
export CGO_ENABLED=0
TAGS=${TAGS:-$(cat scripts/tags)}
[ "$(id -u)" = 0 ] || { echo "soak: run as root (sudo make soak): it reads the daemons' /proc files; hpr runs as the test user" >&2; exit 1; }
if [ -z "${HPR_TEST_ENGINES:-}" ] && [ -r /run/hpr-harness/env ]; then
  # shellcheck disable=SC1091
  . /run/hpr-harness/env
fi
[ -n "${HPR_TEST_ENGINES:-}" ] || { echo "soak: no engines (HPR_TEST_ENGINES empty): sudo scripts/engines.sh up" >&2; exit 1; }
[ -x bin/hpr ] || { echo "soak: bin/hpr missing: run make build (or make soak)" >&2; exit 1; }
tmp=$(mktemp -d /tmp/hpr-soak-bin.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
chmod 0755 "$tmp"
# The test user runs this copy: the tree may be in a directory it cannot enter.
cp bin/hpr "$tmp/hpr"
go build -tags "$TAGS" -o "$tmp/soak" ./internal/soak
"$tmp/soak" -hpr "$tmp/hpr" -engines "$HPR_TEST_ENGINES" -user "${HPR_TEST_USER:-hprtest}" \
  -runs "${HPR_SOAK_RUNS:-2000}" -signals "${HPR_SOAK_SIGNALS:-200}" -limit "${HPR_SOAK_LIMIT:-45m}" \
  ${HPR_SOAK_SEED:+-seed "$HPR_SOAK_SEED"} -repo-version "$(git describe --tags --always --dirty 2>/dev/null || echo dev)" \
  -out "${HPR_SOAK_OUT:-SOAK.md}"
