package sshconn

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/hostpersist/hpr/idmap"
)

// The engine's host, seen over the same ssh connection as the engine: who
// owns a directory there (the user a project's files must land as), files
// hpr publishes there for its containers to mount, files it reads there.
// Each is one remote sh script, a session of the master connection.

// Quote makes s one word for a POSIX shell.
func Quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// Owner says who owns dir on the remote host — uid, gid, name, and their
// subordinate id ranges there (/etc/subuid, /etc/subgid) — and the uid hpr
// logs in as there, whose a rootless engine reached this way is.
func (t Target) Owner(ctx context.Context, dir string) (idmap.Host, int, error) {
	q := Quote(dir)
	script := `d=` + q + `
[ -d "$d" ] || { echo "$d: no such directory there (hpr copies no files: put the project's copy there first)" >&2; exit 3; }
s=$(stat -L -c '%u %g %U' -- "$d") || exit 3
echo "owner $s"
echo "login $(id -u)"
set -- $s
for f in subuid subgid; do
	[ -r /etc/$f ] && awk -F: -v u="$1" -v n="$3" -v f=$f '($1 == u || $1 == n) && $2 > 0 && $3 > 0 { print f, $2, $3 }' /etc/$f
done
exit 0
`
	out, err := t.Script(ctx, script)
	if err != nil {
		return idmap.Host{}, 0, err
	}
	return parseOwner(out)
}

// parseOwner reads Owner's script's answer.
func parseOwner(out string) (idmap.Host, int, error) {
	var (
		h     idmap.Host
		login = -1
		found bool
	)
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		n := make([]int, len(f))
		for i := 1; i < len(f); i++ {
			n[i], _ = strconv.Atoi(f[i])
		}
		switch {
		case f[0] == "owner" && len(f) == 4:
			h.UID, h.GID, found = n[1], n[2], true
			if f[3] != "UNKNOWN" {
				h.Name = f[3]
			}
		case f[0] == "login" && len(f) == 2:
			login = n[1]
		case f[0] == "subuid" && len(f) == 3:
			h.SubUIDs = append(h.SubUIDs, idmap.IDRange{HostID: int64(n[1]), Count: int64(n[2])})
		case f[0] == "subgid" && len(f) == 3:
			h.SubGIDs = append(h.SubGIDs, idmap.IDRange{HostID: int64(n[1]), Count: int64(n[2])})
		}
	}
	if !found || login < 0 {
		return idmap.Host{}, 0, fmt.Errorf("reading who owns the directory: unexpected answer %q", out)
	}
	return h, login, h.Validate()
}

// Publish writes files (name → content) to hpr's cache on the remote host
// ($XDG_CACHE_HOME/hpr/identity there, else ~/.cache/hpr/identity), mode
// 0644 for any container user to read, and returns their paths there by
// name. Names are content-addressed (as runtime/cache's): a file already
// there is kept.
func (t Target) Publish(ctx context.Context, files map[string][]byte) (map[string]string, error) {
	var b strings.Builder
	b.WriteString(`umask 077
d="${XDG_CACHE_HOME:-$HOME/.cache}/hpr/identity"
case $d in /*) ;; *) echo "no cache directory for hpr there (HOME is not set)" >&2; exit 3 ;; esac
mkdir -p "$d" || exit 3
put() {
	[ -f "$d/$1" ] || { printf '%s' "$2" >"$d/$1.$$" && chmod 0644 "$d/$1.$$" && mv -f "$d/$1.$$" "$d/$1"; } || exit 3
	printf '%s\n' "$d/$1"
}
`)
	names := slices.Sorted(maps.Keys(files))
	for _, name := range names {
		if strings.ContainsAny(name, "/\n") || name == "" || name[0] == '.' {
			return nil, fmt.Errorf("publishing %q: not a file name", name)
		}
		fmt.Fprintf(&b, "put %s %s\n", Quote(name), Quote(string(files[name])))
	}
	out, err := t.Script(ctx, b.String())
	if err != nil {
		return nil, err
	}
	paths := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(paths) != len(names) {
		return nil, fmt.Errorf("publishing files there: unexpected answer %q", out)
	}
	res := make(map[string]string, len(names))
	for i, name := range names {
		res[name] = paths[i]
	}
	return res, nil
}

// ReadFile returns the content of the file at path on the remote host.
func (t Target) ReadFile(ctx context.Context, path string) ([]byte, error) {
	out, err := t.Output(ctx, "cat", "--", Quote(path))
	return []byte(out), err
}

// SocketStamp names the engine's socket on the remote host as it is now —
// the socket file (device, inode, modification time) and the engines'
// programs there (size, modification time) — so that what an engine said
// about itself can be remembered while the stamp holds: a restarted
// service makes a new socket, a reboot a new /run, an upgrade new
// programs. It is "" when the URI names no socket.
func (t Target) SocketStamp(ctx context.Context) (string, error) {
	if t.Path == "" {
		return "", nil
	}
	out, err := t.Script(ctx, `stat -L -c '%d:%i:%Y' -- `+Quote(t.Path)+` || exit 3
for p in podman dockerd docker; do
	b=$(command -v $p) && stat -L -c "$p:%s:%Y" -- "$b"
done
exit 0
`)
	return strings.Join(strings.Fields(out), " "), err
}
