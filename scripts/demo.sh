#!/usr/bin/env bash
# demo.sh — `make demo`: the Jekyll blog of examples/blog served by hpr run.
#
# On a fresh Debian machine, as root: brings up the engine harness when no
# engine answers (scripts/engines.sh up), builds hpr, and runs the blog as the
# harness's test user (hpr is for non-root users; root would own its files
# anyway). As a normal user with an engine: builds hpr and runs the blog as you.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PORT=${HPR_DEMO_PORT:-5000}

make -s build

if [ "$(id -u)" = 0 ]; then
  if [ ! -r /run/hpr-harness/env ] || ! grep -q "=unix" /run/hpr-harness/env; then
    echo "demo: no engines yet: starting them (scripts/engines.sh up, ~1-2 min the first time)"
    bash scripts/engines.sh up
  fi
  # shellcheck disable=SC1091
  . /run/hpr-harness/env
  user=$HPR_TEST_USER
  work=$(runuser -u "$user" -- mktemp -d /tmp/hpr-demo.XXXXXX)
  cp -r examples/blog "$work/"
  cp bin/hpr "$work/hpr"
  chown -R "$user:" "$work"
  chmod 0755 "$work"
  echo "demo: serving examples/blog as $user from $work/blog"
  echo "demo: open http://localhost:$PORT — add a post in $work/blog/_posts and reload; Ctrl-C stops it"
  cd "$work/blog"
  [ "$PORT" = 5000 ] || sed -i "s/\"5000:5000\"/\"$PORT:5000\"/" hpr.toml
  exec runuser -u "$user" -- env -i HOME="$(getent passwd "$user" | cut -d: -f6)" USER="$user" \
    PATH=/usr/local/bin:/usr/bin:/bin XDG_RUNTIME_DIR="/run/user/$HPR_TEST_UID" TERM="${TERM:-xterm}" \
    "$work/hpr" run
fi

if ! bin/hpr engines >/dev/null 2>&1; then
  echo "demo: no container engine answers for $(id -un): start Docker or Podman (or, as root, run: sudo make demo)" >&2
  exit 1
fi
echo "demo: open http://localhost:$PORT — add a post in examples/blog/_posts and reload; Ctrl-C stops it"
cd "$ROOT/examples/blog"
exec "$ROOT/bin/hpr" run
