#!/usr/bin/env bash
# engines.sh — bring up, as root, the five real container engines hpr's
# integration tests (and a developer trying hpr) use, for a non-root test user:
#
#   docker-rootful       the system dockerd            unix:///var/run/docker.sock
#   docker-userns-remap  a second dockerd, remapped    unix:///run/hpr-docker-remap/docker.sock
#   docker-rootless      dockerd-rootless.sh as user   unix://$XDG_RUNTIME_DIR/docker.sock
#   podman-rootless      podman system service as user unix://$XDG_RUNTIME_DIR/podman/podman.sock
#   podman-rootful       podman system service as root unix:///run/podman/podman.sock
#
# and a locally made debian:bookworm-slim in each image store (debootstrap from
# the Debian mirror configured in this machine's apt sources; nothing is pulled
# from a registry).
#
# It also starts an sshd of its own on 127.0.0.1 only (its own port, host key
# and config; key-only logins for the test user and a second local user), so
# that ssh://hprtest@127.0.0.1:PORT reaches these engines, and creates that
# second user (hprlocal: another uid, no engines of its own) holding a key that
# logs in as the test user, so tests can run hpr as someone whose uid differs
# from the remote user's.
#
# usage: scripts/engines.sh up | down | status | env | restart ENGINE
#
#   up      install what is missing, create the test user, start what is not
#           running, import the base image where it is missing. Idempotent.
#   down    stop what `up` started (by the pid files it wrote), nothing else.
#   status  one line per engine: up/down, endpoint, pid.
#   restart ENGINE
#           stop one engine this script started (by its pid file: SIGTERM to
#           the daemon alone, as systemd's KillMode=process does for dockerd,
#           so that it shuts down as on an upgrade; SIGKILL to its process
#           group only if it is still there after 30 s) and start it again.
#           For the fault tests (internal/faults): a daemon restarted mid-run.
#   env     shell `export` lines: HPR_TEST_USER, HPR_TEST_UID, HPR_TEST_GID,
#           HPR_TEST_ENGINES ("mode=endpoint ..." for every engine that is up);
#           while the harness's sshd answers, also HPR_SSH_HOST, HPR_SSH_PORT,
#           HPR_LOCAL_USER, HPR_LOCAL_UID, HPR_SSH_TEST_KEY (the test user's
#           key: logs in as the test user and as the local user) and
#           HPR_SSH_LOCAL_KEY (the local user's key: logs in as the test user).
#
# Environment: HPR_TEST_USER (default hprtest), HPR_TEST_UID (default 2000),
# HPR_LOCAL_USER (default hprlocal), HPR_LOCAL_UID (default 2001),
# HPR_SSH_PORT (default 2222), HPR_ENGINES (default: all five modes, space
# separated) to start a subset.
set -euo pipefail

# The daemons started here live on after this script: they must not inherit
# its open files. A caller holding a lock (flock LOCKFILE engines.sh up)
# would otherwise pass the lock to the daemon, which holds it for as long as
# it runs.
for fd in /proc/$$/fd/*; do
  fd=${fd##*/}
  if [ "$fd" -gt 2 ] 2>/dev/null; then eval "exec $fd>&-" 2>/dev/null || true; fi
done

TEST_USER=${HPR_TEST_USER:-hprtest}
TEST_UID=${HPR_TEST_UID:-2000}
ENGINES=${HPR_ENGINES:-"docker-rootful docker-userns-remap docker-rootless podman-rootless podman-rootful"}
STATE=/run/hpr-harness            # pid files, env file (tmpfs: gone on reboot, as the processes are)
LOGS=/var/log/hpr-harness
CACHE=/var/cache/hpr-harness      # the debootstrap tarball survives reboots
BASE_IMAGE=debian:bookworm-slim
BASE_TAR=$CACHE/debian-bookworm-minbase.tar
REMAP_ROOT=/var/lib/hpr-docker-remap
REMAP_EXEC=/run/hpr-docker-remap
REMAP_SOCK=$REMAP_EXEC/docker.sock
REMAP_BRIDGE=hpr-remap0
REMAP_CIDR=10.213.0.1/24          # a private bridge of its own, local to this machine
PODMAN_GROUP=hpr-podman           # owns /run/podman/podman.sock, like group docker does for Docker
PODMAN_ROOTFUL_SOCK=/run/podman/podman.sock
# A mount point of shared propagation, made before rootlesskit starts: a
# filesystem a test mounts below it later is seen in rootless Docker's
# mount namespace too (rootlesskit's --propagation=rslave; / is private on
# these machines, so a mount elsewhere made after the daemon is not).
SHARED_MNT=/var/lib/hpr-harness/mnt
LOCAL_USER=${HPR_LOCAL_USER:-hprlocal}  # a second user, no engines: runs hpr over ssh to the test user
LOCAL_UID=${HPR_LOCAL_UID:-2001}
SSH_HOST=127.0.0.1                # the harness's sshd listens here only
SSH_PORT=${HPR_SSH_PORT:-2222}
SSH_DIR=/var/lib/hpr-harness/ssh  # its host key, config and authorized keys (root's)

log() { printf '%s engines.sh: %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (sudo $0 $*)"

test_home() { getent passwd "$TEST_USER" | cut -d: -f6; }
xdg() { echo "/run/user/$(id -u "$TEST_USER")"; }

# as_user CMD...: run CMD as the test user with a login-like environment.
as_user() {
  local home; home=$(test_home)
  runuser -u "$TEST_USER" -- env -i \
    HOME="$home" USER="$TEST_USER" LOGNAME="$TEST_USER" \
    PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
    XDG_RUNTIME_DIR="$(xdg)" XDG_CONFIG_HOME="$home/.config" XDG_DATA_HOME="$home/.local/share" \
    "$@"
}

# alive PID: the process exists and is not a zombie (a killed daemon whose
# parent has not reaped it yet still answers kill -0).
alive() {
  [ -n "${1:-}" ] && [ -r "/proc/$1/stat" ] || return 1
  local state
  state=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}
pidof_file() { [ -f "$1" ] && cat "$1" 2>/dev/null || true; }

# answers SOCKET: the engine behind SOCKET replies to /_ping.
answers() {
  [ -S "$1" ] && curl -fsS --max-time 2 --unix-socket "$1" http://d/_ping >/dev/null 2>&1
}

# wait_for SOCKET NAME LOG: wait until the engine answers, up to 60 s.
wait_for() {
  local i
  for i in $(seq 1 120); do
    answers "$1" && return 0
    sleep 0.5
  done
  log "$2 did not answer on $1 within 60 s; last lines of $3:"
  tail -n 30 "$3" >&2 || true
  return 1
}

want() { case " $ENGINES " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

# healthy NAME SOCKET: the engine answers, and if this script started it, its
# working directory still exists (an engine started from a since-deleted
# directory answers pings but its conmon cannot start containers). An
# unhealthy engine we started is stopped so that up starts it again.
healthy() {
  answers "$2" || return 1
  local pid; pid=$(pidof_file "$STATE/$1.pid")
  local member stale=
  if alive "$pid"; then
    for member in $(pgrep -g "$pid" 2>/dev/null); do
      readlink "/proc/$member/cwd" 2>/dev/null | grep -q ' (deleted)$' && stale=1
    done
  fi
  if [ -n "$stale" ]; then
    log "$1: started from a directory that was deleted since: restarting it"
    kill -TERM -- -"$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    local i
    for i in $(seq 1 40); do alive "$pid" || break; sleep 0.25; done
    alive "$pid" && kill -KILL -- -"$pid" 2>/dev/null
    rm -f "$STATE/$1.pid" "$2"
    return 1
  fi
}

# --- 1. packages -------------------------------------------------------------
install_packages() {
  local pkgs=(docker.io podman uidmap slirp4netns fuse-overlayfs rootlesskit debootstrap curl iptables iproute2 runc)
  local missing=() p
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  install_openssh
  # rootless networking (slirp4netns) needs /dev/net/tun for the test user.
  [ -c /dev/net/tun ] || { mkdir -p /dev/net; mknod /dev/net/tun c 10 200; }
  chmod 0666 /dev/net/tun
}

# install_openssh: openssh-server without the package's own daemon. Its
# install scripts would start sshd on every address; a policy-rc.d that denies
# every service start keeps them from it (one already there is put back after).
install_openssh() {
  if ! dpkg-query -W -f='${Status}' openssh-server 2>/dev/null | grep -q "install ok installed"; then
    local policy=/usr/sbin/policy-rc.d saved=
    if [ -e "$policy" ]; then saved=$policy.hpr-saved; mv "$policy" "$saved"; fi
    printf '#!/bin/sh\n# written by hpr scripts/engines.sh while it installs openssh-server\nexit 101\n' >"$policy"
    chmod 0755 "$policy"
    log "installing openssh-server (service starts denied)"
    local rc=0
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssh-server openssh-client >/dev/null || rc=$?
    rm -f "$policy"
    if [ -n "$saved" ]; then mv "$saved" "$policy"; fi
    [ $rc = 0 ] || die "installing openssh-server failed"
  fi
  # Only the harness's sshd, on 127.0.0.1, may listen.
  if ss -Hltn 2>/dev/null | awk '{print $4}' | grep -qE '^(0\.0\.0\.0|\[::\]|\*):22$'; then
    die "something listens on port 22 of every address (the package's sshd?): stop it; the harness runs its own on $SSH_HOST:$SSH_PORT"
  fi
}

# --- 2. the test user ----------------------------------------------------------
ensure_user() {
  if ! id "$TEST_USER" >/dev/null 2>&1; then
    log "creating user $TEST_USER (uid $TEST_UID)"
    useradd --create-home --uid "$TEST_UID" --user-group --shell /bin/bash "$TEST_USER"
  fi
  local uid; uid=$(id -u "$TEST_USER")
  getent group docker >/dev/null || groupadd --system docker
  getent group "$PODMAN_GROUP" >/dev/null || groupadd --system "$PODMAN_GROUP"
  usermod -aG "docker,$PODMAN_GROUP" "$TEST_USER"
  # A subordinate id range for rootless engines (useradd usually adds one).
  if ! grep -qE "^($TEST_USER|$uid):[0-9]+:[1-9]" /etc/subuid 2>/dev/null; then
    local start=$((100000 + (uid % 1000) * 65536))
    usermod --add-subuids "$start-$((start + 65535))" --add-subgids "$start-$((start + 65535))" "$TEST_USER"
  fi
  grep -qE "^($TEST_USER|$uid):[0-9]+:[1-9]" /etc/subgid || die "no subgid range for $TEST_USER in /etc/subgid"
  local rt; rt=$(xdg)
  mkdir -p "$rt"
  chown "$TEST_USER:" "$rt"
  chmod 0700 "$rt"
  # The test user's Podman: runc (crun fails on hybrid cgroups), cgroupfs and
  # file events (no systemd), native overlay storage (the default here is vfs,
  # which copies the whole image for every container).
  local home; home=$(test_home)
  as_user mkdir -p "$home/.config/containers"
  as_user tee "$home/.config/containers/containers.conf" >/dev/null <<'EOF'
# written by hpr scripts/engines.sh
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
[containers]
init = false
EOF
  as_user tee "$home/.config/containers/storage.conf" >/dev/null <<'EOF'
# written by hpr scripts/engines.sh
[storage]
driver = "overlay"
EOF
}

# ensure_local_user: a second user with a uid of its own and no engines (no
# docker or podman group, no subordinate ids): it runs hpr over ssh as someone
# other than the remote user. Both users' password fields are '*' (no
# password), not '!' (locked): the harness's sshd runs without PAM, and
# OpenSSH then refuses locked accounts even for key logins.
ensure_local_user() {
  if ! id "$LOCAL_USER" >/dev/null 2>&1; then
    log "creating user $LOCAL_USER (uid $LOCAL_UID)"
    useradd --create-home --uid "$LOCAL_UID" --user-group --shell /bin/bash --password '*' "$LOCAL_USER"
  fi
  local u
  for u in "$TEST_USER" "$LOCAL_USER"; do
    [ "$(getent shadow "$u" | cut -d: -f2)" = '*' ] || usermod --password '*' "$u"
  done
}

rootful_podman_conf() {
  mkdir -p /etc/containers
  local f=/etc/containers/containers.conf
  if [ -f "$f" ] && ! grep -q 'written by hpr scripts/engines.sh' "$f"; then cp "$f" "$f.hpr-orig"; fi
  # Rootful Podman gives containers nofile=1048576 and a large nproc unless
  # told otherwise; where root lacks CAP_SYS_RESOURCE (sandboxed machines) runc
  # then fails with "error setting rlimit type 7/6": stay within the limits.
  # Podman lowers its own nproc to kernel.pid_max; ask for no more than that.
  local nofile nproc pidmax
  nofile=$(ulimit -Hn)
  nproc=$(ulimit -Hu)
  pidmax=$(cat /proc/sys/kernel/pid_max)
  [ "$nproc" = unlimited ] || [ "$nproc" -gt "$pidmax" ] && nproc=$pidmax
  cat >"$f" <<EOF
# written by hpr scripts/engines.sh (the original, if any, is containers.conf.hpr-orig)
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
init = false
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
}

# --- 3. the engines --------------------------------------------------------------
# start NAME SOCKET LOG CMD...: start CMD in its own session, record its pid.
start() {
  local name=$1 sock=$2 logf=$3; shift 3
  log "starting $name"
  # From /: a daemon inherits its working directory, and so do the conmon
  # processes Podman starts for every container; a clone that CI deletes
  # afterwards would leave them failing with "Failed to get working directory".
  (cd / && exec setsid "$@" >>"$logf" 2>&1 </dev/null) &
  echo $! >"$STATE/$name.pid"
  wait_for "$sock" "$name" "$logf"
}

up_docker_rootful() {
  local sock=/var/run/docker.sock
  if healthy docker-rootful "$sock"; then log "docker-rootful: already up"; return; fi
  local old; old=$(pidof_file /var/run/docker.pid)
  if alive "$old"; then
    # Perhaps still starting: give it the time a start takes.
    wait_for "$sock" "the running dockerd (pid $old)" "$LOGS/docker-rootful.log" && return
    die "a dockerd (pid $old) runs but does not answer on $sock: stop it or fix it, then run up again"
  fi
  rm -f /var/run/docker.pid "$sock"
  start docker-rootful "$sock" "$LOGS/docker-rootful.log" \
    dockerd --host "unix://$sock" --group docker --pidfile /var/run/docker.pid
}

up_docker_remap() {
  if healthy docker-userns-remap "$REMAP_SOCK"; then log "docker-userns-remap: already up"; return; fi
  local old; old=$(pidof_file "$STATE/docker-userns-remap.pid")
  alive "$old" && kill "$old" && sleep 1
  rm -rf "$REMAP_EXEC"
  mkdir -p "$REMAP_EXEC" "$REMAP_ROOT"
  # Its own bridge: --bridge=none would delete docker0 under the first daemon.
  if ! ip link show "$REMAP_BRIDGE" >/dev/null 2>&1; then
    ip link add "$REMAP_BRIDGE" type bridge
    ip addr add "$REMAP_CIDR" dev "$REMAP_BRIDGE"
  fi
  ip link set "$REMAP_BRIDGE" up
  start docker-userns-remap "$REMAP_SOCK" "$LOGS/docker-userns-remap.log" \
    dockerd --userns-remap=default \
    --host "unix://$REMAP_SOCK" --group docker \
    --data-root "$REMAP_ROOT" --exec-root "$REMAP_EXEC" \
    --pidfile "$REMAP_EXEC/docker.pid" --bridge "$REMAP_BRIDGE"
}

# shared_mnt: SHARED_MNT, a bind mount of itself with shared propagation.
shared_mnt() {
  mkdir -p "$SHARED_MNT"
  chmod 0755 "$(dirname "$SHARED_MNT")" "$SHARED_MNT"
  mountpoint -q "$SHARED_MNT" || mount --bind "$SHARED_MNT" "$SHARED_MNT"
  mount --make-shared "$SHARED_MNT"
}

up_docker_rootless() {
  local rt; rt=$(xdg)
  local sock=$rt/docker.sock
  if healthy docker-rootless "$sock"; then log "docker-rootless: already up"; return; fi
  # Stale state from a killed session: pid file, rootlesskit dir, socket.
  local old; old=$(pidof_file "$STATE/docker-rootless.pid")
  alive "$old" && kill -- -"$old" 2>/dev/null && sleep 1
  old=$(pidof_file "$rt/docker.pid")
  alive "$old" && kill "$old" 2>/dev/null && sleep 1
  rm -rf "$rt/docker.pid" "$sock" "$rt/dockerd-rootless" "$rt/docker"
  shared_mnt
  start docker-rootless "$sock" "$LOGS/docker-rootless.log" \
    runuser -u "$TEST_USER" -- env -i \
    HOME="$(test_home)" USER="$TEST_USER" LOGNAME="$TEST_USER" \
    PATH=/usr/share/docker.io/contrib:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
    XDG_RUNTIME_DIR="$rt" \
    DOCKERD_ROOTLESS_ROOTLESSKIT_NET=slirp4netns \
    DOCKERD_ROOTLESS_ROOTLESSKIT_PORT_DRIVER=builtin \
    dockerd-rootless.sh --host "unix://$sock" --storage-driver overlay2
}

up_podman_rootless() {
  local rt; rt=$(xdg)
  local sock=$rt/podman/podman.sock
  if healthy podman-rootless "$sock"; then log "podman-rootless: already up"; return; fi
  local old; old=$(pidof_file "$STATE/podman-rootless.pid")
  alive "$old" && kill -- -"$old" 2>/dev/null && sleep 1
  rm -f "$sock"
  as_user mkdir -p "$rt/podman"
  # A store first made with vfs keeps vfs: migrate it so overlay takes effect.
  if as_user podman info --format '{{.Store.GraphDriverName}}' 2>/dev/null | grep -qv overlay; then
    log "podman-rootless: resetting a non-overlay store"
    as_user podman system reset --force >/dev/null 2>&1 || true
  fi
  start podman-rootless "$sock" "$LOGS/podman-rootless.log" \
    runuser -u "$TEST_USER" -- env -i \
    HOME="$(test_home)" USER="$TEST_USER" LOGNAME="$TEST_USER" \
    PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin XDG_RUNTIME_DIR="$rt" \
    podman system service --time=0 "unix://$sock"
}

up_podman_rootful() {
  local sock=$PODMAN_ROOTFUL_SOCK
  if healthy podman-rootful "$sock"; then log "podman-rootful: already up"; else
    local old; old=$(pidof_file "$STATE/podman-rootful.pid")
    alive "$old" && kill -- -"$old" 2>/dev/null && sleep 1
    rm -f "$sock"
    mkdir -p "$(dirname "$sock")"
    # The socket must be the group's from the moment it exists: a client
    # that reconnects while the service restarts would otherwise find it
    # root's and be refused. The setgid directory gives it the group, the
    # umask its mode.
    chgrp "$PODMAN_GROUP" "$(dirname "$sock")"
    chmod 2750 "$(dirname "$sock")"
    rootful_podman_conf
    start podman-rootful "$sock" "$LOGS/podman-rootful.log" \
      sh -c 'umask 007; exec "$@"' sh podman system service --time=0 "unix://$sock"
  fi
  # Give the test user's group access, as group docker does for Docker
  # (a service started before the above may have made the socket root's).
  chgrp "$PODMAN_GROUP" "$(dirname "$sock")" "$sock"
  chmod 2750 "$(dirname "$sock")"
  chmod 0660 "$sock"
}

# --- 4. the harness's sshd ---------------------------------------------------------
home_of() { getent passwd "$1" | cut -d: -f6; }

# user_key USER: prints USER's ~/.ssh/id_ed25519, made by USER when missing
# (the default identity, so plain `ssh` and hpr find it with no -i).
user_key() {
  local home; home=$(home_of "$1")
  # shellcheck disable=SC2016
  runuser -u "$1" -- sh -c '
    umask 077; mkdir -p "$1/.ssh"
    if [ ! -s "$1/.ssh/id_ed25519" ] || [ ! -s "$1/.ssh/id_ed25519.pub" ]; then
      rm -f "$1/.ssh/id_ed25519" "$1/.ssh/id_ed25519.pub"
      ssh-keygen -q -t ed25519 -N "" -C "$2@hpr-harness" -f "$1/.ssh/id_ed25519"
    fi' sh "$home" "$1"
  echo "$home/.ssh/id_ed25519"
}

# known_host USER: USER's known_hosts holds the harness's host key for
# [127.0.0.1]:PORT, and no other key for that address.
known_host() {
  local kh line
  kh=$(home_of "$1")/.ssh/known_hosts
  line="[$SSH_HOST]:$SSH_PORT $(cut -d' ' -f1,2 "$SSH_DIR/ssh_host_ed25519_key.pub")"
  if [ -f "$kh" ] && grep -qxF "$line" "$kh" && [ "$(grep -cF "[$SSH_HOST]:$SSH_PORT " "$kh")" = 1 ]; then
    return
  fi
  # shellcheck disable=SC2016
  runuser -u "$1" -- sh -c '
    touch "$1"; ssh-keygen -q -R "$2" -f "$1" >/dev/null 2>&1; rm -f "$1.old"
    printf "%s\n" "$3" >>"$1"' sh "$kh" "[$SSH_HOST]:$SSH_PORT" "$line"
}

sshd_config() {
  cat <<EOF
# written by hpr scripts/engines.sh: the harness's sshd, on $SSH_HOST only
Port $SSH_PORT
ListenAddress $SSH_HOST
HostKey $SSH_DIR/ssh_host_ed25519_key
PidFile none
AuthorizedKeysFile $SSH_DIR/authorized_keys/%u
AllowUsers $TEST_USER $LOCAL_USER
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
UsePAM no
AllowAgentForwarding no
# Podman over ssh forwards the service's unix socket; OpenSSH grants that
# only where it grants local TCP forwarding too.
AllowTcpForwarding local
AllowStreamLocalForwarding local
X11Forwarding no
PrintMotd no
EOF
}

# ssh_setup: the host key, the users' keys, who may log in as whom, their
# known_hosts, the config.
ssh_setup() {
  mkdir -p "$SSH_DIR/authorized_keys" /run/sshd
  chmod 0755 "$SSH_DIR" "$SSH_DIR/authorized_keys" /run/sshd
  if [ ! -s "$SSH_DIR/ssh_host_ed25519_key" ] || [ ! -s "$SSH_DIR/ssh_host_ed25519_key.pub" ]; then
    rm -f "$SSH_DIR/ssh_host_ed25519_key" "$SSH_DIR/ssh_host_ed25519_key.pub"
    ssh-keygen -q -t ed25519 -N '' -C hpr-harness-host -f "$SSH_DIR/ssh_host_ed25519_key"
  fi
  local test_key local_key u
  test_key=$(user_key "$TEST_USER")
  local_key=$(user_key "$LOCAL_USER")
  # The test user logs in as itself and as the local user; the local user
  # logs in as the test user.
  cat "$test_key.pub" "$local_key.pub" >"$SSH_DIR/authorized_keys/$TEST_USER.tmp"
  cat "$test_key.pub" >"$SSH_DIR/authorized_keys/$LOCAL_USER.tmp"
  for u in "$TEST_USER" "$LOCAL_USER"; do
    chmod 0644 "$SSH_DIR/authorized_keys/$u.tmp"
    mv "$SSH_DIR/authorized_keys/$u.tmp" "$SSH_DIR/authorized_keys/$u"
    known_host "$u"
  done
  sshd_config >"$SSH_DIR/sshd_config.tmp"
  /usr/sbin/sshd -t -f "$SSH_DIR/sshd_config.tmp" || die "the harness's sshd config does not pass sshd -t"
  mv "$SSH_DIR/sshd_config.tmp" "$SSH_DIR/sshd_config"
}

# ssh_answers: something on 127.0.0.1:PORT greets like an sshd.
ssh_answers() {
  # shellcheck disable=SC2016
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2" && head -c 4 <&3' sh "$SSH_HOST" "$SSH_PORT" 2>/dev/null | grep -q '^SSH-'
}

up_sshd() {
  ssh_setup
  local pid; pid=$(pidof_file "$STATE/sshd.pid")
  if alive "$pid" && ssh_answers; then
    kill -HUP "$pid" # rereads the config (a new port needs down, then up)
    log "sshd: already up"
    return
  fi
  if alive "$pid"; then kill "$pid"; sleep 0.5; fi
  rm -f "$STATE/sshd.pid"
  if ssh_answers; then
    die "something else listens on $SSH_HOST:$SSH_PORT: stop it, or choose another HPR_SSH_PORT"
  fi
  log "starting sshd on $SSH_HOST:$SSH_PORT"
  (cd / && exec setsid /usr/sbin/sshd -D -e -f "$SSH_DIR/sshd_config" >>"$LOGS/sshd.log" 2>&1 </dev/null) &
  pid=$!
  echo "$pid" >"$STATE/sshd.pid"
  local i
  for i in $(seq 1 40); do
    ssh_answers && return 0
    alive "$pid" || break
    sleep 0.25
  done
  tail -n 20 "$LOGS/sshd.log" >&2 || true
  die "the harness's sshd did not answer on $SSH_HOST:$SSH_PORT"
}

# --- 5. the base image -----------------------------------------------------------
# debian_mirror: the Debian mirror configured in apt sources (deb822 or one-line).
debian_mirror() {
  local m
  m=$(awk '
    /^Types:/ { deb = ($0 ~ /(^|[ \t])deb([ \t]|$)/) }
    /^URIs:/ { uri = $2 }
    /^Suites:/ { if (deb && $0 ~ /bookworm([ \t]|$)/ && uri != "") { print uri; exit } }
    /^$/ { deb = 0; uri = "" }
  ' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1)
  if [ -z "$m" ]; then
    m=$(grep -hE '^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?[a-z]+://[^ ]+[[:space:]]+bookworm[[:space:]]' \
      /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
      sed -E 's/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?//' | awk '{print $1; exit}')
  fi
  [ -n "$m" ] || die "no Debian bookworm mirror found in /etc/apt/sources.list{,.d}"
  echo "$m"
}

make_base_tar() {
  [ -s "$BASE_TAR" ] && return
  mkdir -p "$CACHE"
  local mirror dir
  mirror=$(debian_mirror)
  dir=$(mktemp -d "$CACHE/rootfs.XXXXXX")
  chmod 0755 "$dir" # mktemp makes 0700: a 0700 image root locks non-root users out of /
  log "debootstrap minbase bookworm from the configured mirror (one time, ~1-3 min)"
  debootstrap --variant=minbase bookworm "$dir" "$mirror" >"$LOGS/debootstrap.log" 2>&1 ||
    { tail -n 20 "$LOGS/debootstrap.log" >&2; rm -rf "$dir"; die "debootstrap failed"; }
  # Slim it like the official image: no apt lists, no docs or man pages.
  rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin "$dir"/usr/share/doc/* "$dir"/usr/share/man/* "$dir"/usr/share/info/*
  chmod 0755 "$dir"
  tar --numeric-owner --xattrs -C "$dir" -cf "$BASE_TAR.tmp" .
  mv "$BASE_TAR.tmp" "$BASE_TAR"
  rm -rf "$dir"
}

IMPORT_CHANGES=(--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' --change 'CMD ["bash"]')

import_docker() { # NAME SOCKET
  if DOCKER_HOST="unix://$2" docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then return; fi
  log "$1: importing $BASE_IMAGE"
  DOCKER_HOST="unix://$2" docker import "${IMPORT_CHANGES[@]}" "$BASE_TAR" "$BASE_IMAGE" >/dev/null
}

import_podman() { # NAME SOCKET
  if podman --url "unix://$2" image exists "$BASE_IMAGE" 2>/dev/null; then return; fi
  log "$1: importing $BASE_IMAGE"
  podman --url "unix://$2" import "${IMPORT_CHANGES[@]}" "$BASE_TAR" "$BASE_IMAGE" >/dev/null
}

# --- endpoints -------------------------------------------------------------------
endpoint() {
  case $1 in
  docker-rootful) echo unix:///var/run/docker.sock ;;
  docker-userns-remap) echo "unix://$REMAP_SOCK" ;;
  docker-rootless) echo "unix://$(xdg)/docker.sock" ;;
  podman-rootless) echo "unix://$(xdg)/podman/podman.sock" ;;
  podman-rootful) echo "unix://$PODMAN_ROOTFUL_SOCK" ;;
  *) die "unknown engine $1" ;;
  esac
}

print_env() {
  local pairs=() e
  for e in $ENGINES; do
    answers "$(endpoint "$e" | sed 's|^unix://||')" && pairs+=("$e=$(endpoint "$e")")
  done
  echo "export HPR_TEST_USER=$TEST_USER"
  echo "export HPR_TEST_UID=$(id -u "$TEST_USER")"
  echo "export HPR_TEST_GID=$(id -g "$TEST_USER")"
  echo "export HPR_TEST_ENGINES='${pairs[*]}'"
  echo "export HPR_BASE_TAR=$BASE_TAR"
  mountpoint -q "$SHARED_MNT" && echo "export HPR_SHARED_MNT=$SHARED_MNT"
  if alive "$(pidof_file "$STATE/sshd.pid")" && ssh_answers; then
    echo "export HPR_SSH_HOST=$SSH_HOST"
    echo "export HPR_SSH_PORT=$SSH_PORT"
    echo "export HPR_LOCAL_USER=$LOCAL_USER"
    echo "export HPR_LOCAL_UID=$(id -u "$LOCAL_USER")"
    echo "export HPR_SSH_TEST_KEY=$(home_of "$TEST_USER")/.ssh/id_ed25519"
    echo "export HPR_SSH_LOCAL_KEY=$(home_of "$LOCAL_USER")/.ssh/id_ed25519"
  fi
}

# canary: a file only root may read, for the hostile-project tests
# (internal/testenv.Canaries): a project whose container reads or changes it
# reached root's files through the engine.
canary() {
  local dir=/var/lib/hpr-harness/canary
  mkdir -p "$dir"
  chmod 0755 /var/lib/hpr-harness "$dir"
  [ -f "$dir/secret" ] || printf 'hpr-root-canary-c4a7\n' >"$dir/secret"
  chown root:root "$dir/secret"
  chmod 0600 "$dir/secret"
}

cmd_up() {
  mkdir -p "$STATE" "$LOGS" "$CACHE"
  install_packages
  ensure_user
  ensure_local_user
  canary
  want docker-rootful && up_docker_rootful
  want docker-userns-remap && up_docker_remap
  want docker-rootless && up_docker_rootless
  want podman-rootless && up_podman_rootless
  want podman-rootful && up_podman_rootful
  make_base_tar
  local e
  for e in $ENGINES; do
    case $e in
    docker-*) import_docker "$e" "$(endpoint "$e" | sed 's|^unix://||')" ;;
    podman-*) import_podman "$e" "$(endpoint "$e" | sed 's|^unix://||')" ;;
    esac
  done
  up_sshd
  print_env >"$STATE/env"
  chmod 0644 "$STATE/env"
  cmd_status
}

cmd_down() {
  local e pid
  for e in sshd podman-rootful podman-rootless docker-rootless docker-userns-remap docker-rootful; do
    pid=$(pidof_file "$STATE/$e.pid")
    [ -n "$pid" ] || continue
    if alive "$pid"; then
      log "stopping $e (pid $pid)"
      kill -TERM -- -"$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
      local i
      for i in $(seq 1 40); do alive "$pid" || break; sleep 0.25; done
      alive "$pid" && kill -KILL -- -"$pid" 2>/dev/null || true
    fi
    rm -f "$STATE/$e.pid"
  done
  rm -f "$STATE/env"
}

# stop_engine NAME: stop the engine NAME by its pid file, as cmd_restart
# describes; nothing when it is not running.
stop_engine() {
  local name=$1 pid i
  pid=$(pidof_file "$STATE/$name.pid")
  [ -n "$pid" ] || die "$name: no pid file in $STATE: this script did not start it"
  if alive "$pid"; then
    # A rootless engine runs under runuser, which answers a SIGTERM by
    # killing its child 2 s later: signal the daemon (its child) instead.
    local target=$pid
    if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = runuser ]; then
      target=$(pgrep -P "$pid" | head -n1)
      [ -n "$target" ] || target=$pid
    fi
    log "stopping $name (pid $target)"
    kill -TERM "$target" 2>/dev/null || true
    for i in $(seq 1 120); do alive "$pid" || break; sleep 0.25; done
    if alive "$pid"; then
      log "$name (pid $pid) still runs 30 s after SIGTERM: killing its process group"
      kill -KILL -- -"$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
      for i in $(seq 1 40); do alive "$pid" || break; sleep 0.25; done
    fi
  fi
  rm -f "$STATE/$name.pid"
}

cmd_restart() {
  local name=${1:-}
  case $name in
  docker-rootful | docker-userns-remap | docker-rootless | podman-rootless | podman-rootful) ;;
  *) die "restart: want one of docker-rootful docker-userns-remap docker-rootless podman-rootless podman-rootful, got '$name'" ;;
  esac
  mkdir -p "$STATE" "$LOGS"
  stop_engine "$name"
  case $name in
  docker-rootful) up_docker_rootful ;;
  docker-userns-remap) up_docker_remap ;;
  docker-rootless) up_docker_rootless ;;
  podman-rootless) up_podman_rootless ;;
  podman-rootful) up_podman_rootful ;;
  esac
  log "$name: up again"
}

cmd_status() {
  local e ep pid state
  for e in $ENGINES; do
    ep=$(endpoint "$e")
    pid=$(pidof_file "$STATE/$e.pid")
    if answers "${ep#unix://}"; then state=up; else state=down; fi
    printf '%-20s %-5s %-50s %s\n' "$e" "$state" "$ep" "${pid:+pid $pid}"
  done
  pid=$(pidof_file "$STATE/sshd.pid")
  if alive "$pid" && ssh_answers; then state=up; else state=down; fi
  printf '%-20s %-5s %-50s %s\n' sshd "$state" "ssh://$TEST_USER@$SSH_HOST:$SSH_PORT" "${pid:+pid $pid}"
}

case ${1:-} in
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
env) print_env ;;
restart) cmd_restart "${2:-}" ;;
*) echo "usage: $0 up|down|status|env|restart ENGINE" >&2; exit 2 ;;
esac
