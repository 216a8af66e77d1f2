package sshconn

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// ControlPersist is how long hpr's ssh connection to a host stays open
// after its last use (OpenSSH's ControlPersist). Every ssh hpr runs is a
// session of one master connection per user, host and port (ControlMaster),
// so only the first pays for the key exchange and login; within this time
// the next hpr does not pay for it either. The master is OpenSSH's own
// process: it ends by itself, and `ssh -O exit -o ControlPath=…` ends it
// at once.
const ControlPersist = 60 * time.Second

// maxControlDir bounds the control directory's path: the socket's path is
// the directory, "/", the 40 hex digits of %C and, while the master binds
// it, a random suffix of 17 characters, within the 104 bytes a unix socket
// path may have on the systems ssh runs on.
const maxControlDir = 104 - 1 - 40 - 17 - 1

// controlDir is where hpr's ssh control sockets are: $XDG_RUNTIME_DIR/hpr/ssh,
// else hpr-UID/ssh in the temporary directory. It is "" — no multiplexing,
// every ssh logs in anew — when the directory cannot be made or cannot be
// trusted: a socket there is handed the connection's traffic, so the
// directory and its parent must be the user's own and writable by no one
// else (in a shared /tmp another user could have made hpr-UID first).
func controlDir() string {
	base, hpr := os.Getenv("XDG_RUNTIME_DIR"), "hpr"
	if base == "" {
		base, hpr = os.TempDir(), fmt.Sprintf("hpr-%d", os.Getuid())
	}
	dir := filepath.Join(base, hpr, "ssh")
	// ssh reads the option's value as a word of its configuration, with %
	// as its escape.
	if len(dir) > maxControlDir || strings.ContainsAny(dir, " \t\"'%\\") || os.MkdirAll(dir, 0o700) != nil {
		return ""
	}
	for _, d := range []string{filepath.Dir(dir), dir} {
		if !private(d) {
			return ""
		}
	}
	return dir
}

// private reports whether d is a directory (not a symlink) of this user's
// that no one else may write to.
func private(d string) bool {
	var st syscall.Stat_t
	if err := syscall.Lstat(d, &st); err != nil {
		return false
	}
	return st.Mode&syscall.S_IFMT == syscall.S_IFDIR && int(st.Uid) == os.Getuid() && st.Mode&0o022 == 0
}

// muxArgs are the options that make an ssh a session of the shared master
// connection (starting it when there is none), or none without a control
// directory.
func muxArgs() []string {
	dir := controlDir()
	if dir == "" {
		return nil
	}
	return []string{
		"-o", "ControlMaster=auto",
		"-o", "ControlPath=" + filepath.Join(dir, "%C"),
		"-o", fmt.Sprintf("ControlPersist=%d", int(ControlPersist/time.Second)),
	}
}
