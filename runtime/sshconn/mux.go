package sshconn

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hostpersist/hpr/internal/rundir"
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

// controlDir is where hpr's ssh control sockets are: ssh in hpr's
// directory for this user (rundir). An error says why there is none, and
// every ssh then logs in anew: the directory cannot be made or cannot be
// trusted (a socket there is handed the connection's traffic), or its path
// cannot be a socket's or a word of ssh's configuration.
func controlDir() (string, error) {
	dir := filepath.Join(rundir.Path(), "ssh")
	if len(dir) > maxControlDir {
		return "", fmt.Errorf("%s is too long for a directory of ssh control sockets (%d bytes, at most %d)", dir, len(dir), maxControlDir)
	}
	// ssh reads the option's value as a word of its configuration, with %
	// as its escape.
	if strings.ContainsAny(dir, " \t\"'%\\") {
		return "", fmt.Errorf("%s cannot be ssh's ControlPath: it has a blank, a quote, %% or \\", dir)
	}
	return rundir.Make("ssh")
}

// control is controlDir, found once per process: every ssh hpr runs needs
// it, and making and checking the directory for each would repeat the same
// system calls for the same answer.
var control = sync.OnceValues(controlDir)

// muxArgs are the options that make an ssh a session of the shared master
// connection (starting it when there is none), or none without a control
// directory.
func muxArgs() []string {
	return muxOptions(control())
}

// muxOptions are muxArgs for the control directory dir, or none when
// finding it failed with err.
func muxOptions(dir string, err error) []string {
	if err != nil {
		return nil
	}
	return []string{
		"-o", "ControlMaster=auto",
		"-o", "ControlPath=" + filepath.Join(dir, "%C"),
		"-o", fmt.Sprintf("ControlPersist=%d", int(ControlPersist/time.Second)),
	}
}
