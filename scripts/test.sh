#!/usr/bin/env bash
# test.sh [all|unit|integration|root] — hpr's test command (make test runs it).
#
# all          the engines' check, then unit, then integration, then root
#              (make test)
# unit         go vet, gofmt, go test ./..., a short fuzz of hpr.toml loading;
#              no engines needed (make unit)
# integration  the engines' check, then the `integration`-tagged tests
#              against every engine of the harness, then root (make
#              integration)
# root         the engines' check, then the fault tests (tagged `integration
#              && root`: internal/faults), run as root because they restart
#              engines (scripts/engines.sh restart), mount small filesystems
#              and read the daemons' /proc files; hpr runs in them as the test
#              user. Run only when test.sh runs as root; otherwise the run
#              says it left them out.
#
# Engines come from HPR_TEST_ENGINES ("mode=endpoint ..."), else from the
# harness's /run/hpr-harness/env (scripts/engines.sh). As root, when the
# harness is not up, it is started first (scripts/engines.sh up), as make
# demo does; as anyone else, no engines is a failure that says how to start
# them. Before any package runs, every engine is checked once (the detect
# package's TestHarness: ping, Info, mode, base image, a container whose file
# lands as the test user), each within 30 s: an engine that fails it stops
# the run there, named. As root, the integration test binaries are built as
# root and run as the harness's non-root test user, from a copy of the tree
# that user owns.
#
# Every test and subtest is counted from test2json events
# (internal/testreport). The run ends with the skipped tests and their
# reasons, the failed tests, and the line "N passed, N failed, N skipped".
# A skip is allowed only when scripts/skips.txt names it; with
# HPR_REQUIRE_ENGINES=1 (CI) any other skip fails the run, and so does a
# mode of the harness that is not listed.
#
# GOTESTFLAGS: extra test flags ('-test.run ^TestX$'). HPR_TEST_PACKAGES: the
# integration packages to run ('./cmd/hpr ./doctor'; default all). HPR_BIN: an
# hpr binary to test instead of bin/hpr (the integration tests run it).
set -euo pipefail
cd "$(dirname "$0")/.."
TAGS=${TAGS:-$(cat scripts/tags)}
export CGO_ENABLED=0
what=${1:-all}
case $what in all | unit | integration | root) ;; *)
  echo "usage: $0 [all|unit|integration|root]" >&2
  exit 2
  ;;
esac
LOG=$(mktemp -d /tmp/hpr-test.XXXXXX)
work=
status=0
cleanup() {
  [ -z "$work" ] || rm -rf "$work"
  if [ $status = 0 ]; then rm -rf "$LOG"; else echo "test events and output kept in $LOG"; fi
}
trap cleanup EXIT
go build -o "$LOG/testreport" ./internal/testreport

# events NAME [-each]: keep the test2json events on stdin as $LOG/NAME.json
# and print what ends as it comes (with -each, every top-level test).
events() { "$LOG/testreport" stream ${2:-} -o "$LOG/$1.json"; }

# failed NAME WHY: a step that is not a test failed (vet, gofmt, a test
# binary that does not build): print why, and count it as a failure.
failed() {
  echo "FAIL  $1: $2"
  local why=${2//\\/\\\\}
  printf '{"Action":"output","Package":"%s","Output":"%s\\n"}\n{"Action":"fail","Package":"%s"}\n' "$1" "${why//\"/\\\"}" "$1" >"$LOG/$1.step.json"
  status=1
}

unit() {
  echo "== vet"
  go vet -tags "$TAGS integration" ./... || failed vet "go vet found problems (above)"
  local unformatted
  unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './bin/*'))
  [ -z "$unformatted" ] || failed gofmt "not formatted: $(echo $unformatted)"
  echo "== unit tests"
  go test -json -tags "$TAGS" -count=1 ${GOTESTFLAGS:-} ./... 2>&1 | events unit || status=1
  # A count, not a duration: with -fuzztime as a duration, Go 1.26's fuzz
  # coordinator can fail the target with a bare "context deadline exceeded"
  # at the deadline (golang/go#75804, fixed in 1.27; seen here under load).
  echo "== fuzz hpr.toml loading (${HPR_FUZZTIME:-15000x})"
  go test -json -tags "$TAGS" -run '^$' -fuzz '^FuzzLoad$' -fuzztime "${HPR_FUZZTIME:-15000x}" -fuzzminimizetime 2000x \
    ./project 2>&1 | events fuzz || status=1
}

# harness_up: the harness wrote an env file naming at least one engine.
harness_up() { [ -r /run/hpr-harness/env ] && grep -q '=unix' /run/hpr-harness/env; }

# engines: HPR_TEST_ENGINES, from the harness, started first when root may.
engines() {
  if [ -z "${HPR_TEST_ENGINES:-}" ] && ! harness_up && [ "$(id -u)" = 0 ]; then
    echo "== the engine harness is not up: starting it (scripts/engines.sh up; minutes the first time)"
    bash scripts/engines.sh up
  fi
  if [ -z "${HPR_TEST_ENGINES:-}" ] && [ -r /run/hpr-harness/env ]; then
    # shellcheck disable=SC1091
    . /run/hpr-harness/env
  fi
  if [ -z "${HPR_TEST_ENGINES:-}" ]; then
    failed engines "no engines to test on: the harness is not up. Start it as root (sudo scripts/engines.sh up, or sudo make test, which starts it), or set HPR_TEST_ENGINES='mode=unix:///path.sock ...'; make unit runs the unit tests alone"
    return 1
  fi
}

# prepare: a copy of the tree the test user owns (tests read testdata and
# examples, and the containers they start write into them), the hpr binary
# under test in it, and the test user.
prepare() {
  [ -x "${HPR_BIN:-bin/hpr}" ] || { echo "${HPR_BIN:-bin/hpr} missing: run make build"; return 1; }
  work=$(mktemp -d /tmp/hpr-it.XXXXXX)
  chmod 0755 "$work"
  tar --exclude=./.git -cf - . | tar -C "$work" -xf -
  cp "${HPR_BIN:-bin/hpr}" "$work/bin/hpr"
  user=${HPR_TEST_USER:-$(id -un)}
  if [ "$(id -u)" = 0 ]; then chown -R "$user:" "$work"; fi
}

# binary PKG: builds PKG's integration test binary into $work once, prints
# its path.
binary() {
  local out
  out="$work/$(echo "${1#./}" | tr / _).test"
  [ -x "$out" ] || go test -c -tags "$TAGS integration" -o "$out" "$1" >&2 || return 1
  echo "$out"
}

# as_tester DIR CMD...: runs CMD in DIR as the test user, with the tests'
# environment; as root through runuser, with a clean login-like environment.
as_tester() {
  local dir=$1
  shift
  local envs=(HPR_TEST_ENGINES="$HPR_TEST_ENGINES" HPR_TEST_USER="$user"
    HPR_TEST_UID="${HPR_TEST_UID:-$(id -u "$user")}" HPR_TEST_GID="${HPR_TEST_GID:-$(id -g "$user")}"
    HPR_REQUIRE_ENGINES="${HPR_REQUIRE_ENGINES:-}" HPR_BIN="$work/bin/hpr" HPR_SRC="$work")
  if [ "$(id -u)" = 0 ] && [ "$user" != root ]; then
    local uid
    uid=$(id -u "$user")
    (cd "$dir" && runuser -u "$user" -- env -i HOME="$(getent passwd "$user" | cut -d: -f6)" USER="$user" LOGNAME="$user" \
      PATH=/usr/local/bin:/usr/bin:/bin XDG_RUNTIME_DIR="/run/user/$uid" "${envs[@]}" "$@")
  else
    (cd "$dir" && env "${envs[@]}" "$@")
  fi
}

# run_tests PKG NAME FLAGS...: runs PKG's test binary as the test user, its
# events kept as NAME.
run_tests() {
  local p=$1 name=$2 bin
  shift 2
  bin=$(binary "$p") || { failed "$name" "the test binary of $p does not build (above)"; return 1; }
  as_tester "$work/$p" "$bin" -test.v=test2json -test.count=1 "$@" 2>&1 |
    go tool test2json -t -p "github.com/hostpersist/hpr/${p#./}" | events "$name" -each
  [ "${PIPESTATUS[0]}" = 0 ]
}

# preflight: every engine checked once, before any package runs.
preflight() {
  echo "== engines: each checked once before the tests (TestHarness)"
  run_tests ./runtime/detect preflight -test.run '^TestHarness$' -test.timeout=90s && return
  echo "the engines above failed their check: no test package was run. scripts/engines.sh status shows what runs; sudo scripts/engines.sh up starts what is down"
  return 1
}

# tagged PATTERN: the packages with a test file whose build line matches
# PATTERN, narrowed to HPR_TEST_PACKAGES when it is set.
tagged() {
  local p want=" "
  for p in ${HPR_TEST_PACKAGES:-}; do want+="./${p#./} "; done
  for p in $(grep -rlE "$1" --include='*_test.go' . | xargs -r -n1 dirname | sort -u); do
    case "${HPR_TEST_PACKAGES:+$want}" in "" | *" $p "*) echo "$p" ;; esac
  done
}

integration() {
  echo "== integration tests"
  local pkgs p flags
  pkgs=$(tagged '^//go:build integration$')
  for p in $pkgs; do
    echo "-- $p"
    flags=(-test.timeout=30m ${GOTESTFLAGS:-})
    # TestHarness ran as the preflight.
    [ "$p" != ./runtime/detect ] || flags+=(-test.skip '^TestHarness$')
    run_tests "$p" "$(echo "${p#./}" | tr / _)" "${flags[@]}" || status=1
  done
}

# root_phase: the fault tests, as root (see root above), each package's
# test binary run from the test user's copy of the tree with the tests'
# environment; engines.sh is the one of this tree (root's), not the copy's.
root_phase() {
  local pkgs p bin name here=$PWD
  pkgs=$(tagged '^//go:build integration && root$')
  [ -n "$pkgs" ] || return 0
  if [ "$(id -u)" != 0 ]; then
    echo "== root phase: left out (it restarts engines and mounts filesystems: run as root, e.g. sudo make test)"
    return 0
  fi
  echo "== root phase: fault tests as root, hpr as $user"
  for p in $pkgs; do
    echo "-- $p"
    name="$(echo "${p#./}" | tr / _).root"
    bin="$work/$name.test"
    go test -c -tags "$TAGS integration root" -o "$bin" "$p" || { failed "$name" "the test binary of $p does not build (above)"; continue; }
    (cd "$work/$p" && env HPR_TEST_ENGINES="$HPR_TEST_ENGINES" HPR_TEST_USER="$user" \
      HPR_REQUIRE_ENGINES="${HPR_REQUIRE_ENGINES:-}" HPR_BIN="$work/bin/hpr" HPR_SRC="$work" \
      HPR_ENGINES_SCRIPT="$here/scripts/engines.sh" \
      "$bin" -test.v=test2json -test.count=1 -test.timeout=30m ${GOTESTFLAGS:-}) 2>&1 |
      go tool test2json -t -p "github.com/hostpersist/hpr/${p#./}" | events "$name" -each
    [ "${PIPESTATUS[0]}" = 0 ] || status=1
  done
}

main() {
  if [ "$what" != unit ]; then
    engines && prepare && preflight || return 1
  fi
  case $what in all | unit) unit ;; esac
  case $what in all | integration) integration ;; esac
  case $what in all | integration | root) root_phase ;; esac
}

main || status=1
echo
req=()
[ "${HPR_REQUIRE_ENGINES:-}" != 1 ] || req=(-require)
shopt -s nullglob
"$LOG/testreport" summary -allow scripts/skips.txt "${req[@]}" "$LOG"/*.json || status=1
exit $status
