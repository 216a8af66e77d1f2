// Package rundir names hpr's directory for this user's sockets and lock
// files ($XDG_RUNTIME_DIR/hpr), and makes it only where it can be trusted:
// what lies there is handed a connection's traffic (ssh's control sockets)
// or decides who may go ahead (the Podman create lock), so it must be the
// user's own and writable by no one else.
package rundir
