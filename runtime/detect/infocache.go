package detect

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"

	"github.com/hostpersist/hpr/runtime"
	"github.com/hostpersist/hpr/runtime/cache"
	"github.com/hostpersist/hpr/runtime/sshconn"
)

// Engine Info is remembered between runs, because asking can cost more than
// a whole run's other API calls (libpod's system info walks the store;
// BENCHMARKS.md). An answer is reused only while
// the process listening on the socket is the one that gave it: the cache is
// keyed by that process's pid and start time (SO_PEERCRED and
// /proc/PID/stat), so a restarted daemon — which may have been reconfigured
// (userns-remap on or off) — is asked again. When the listener cannot be
// identified (a socket systemd holds for activation, another pid namespace,
// a TCP endpoint) nothing is cached. An ssh:// engine's socket is on
// another machine: there the socket file and the engine's programs stand
// for the listener (remoteListener).

type cachedInfo struct {
	Listener string       `json:"listener"`
	Info     runtime.Info `json:"info"`
}

// listener identifies the process listening on a unix endpoint, or "";
// for an ssh:// endpoint that names a socket, the socket and the engine's
// programs on the remote host (sshconn.Target.SocketStamp): no process
// there can be asked for its peer, and libpod's info over ssh is what
// caching saves most.
func listener(ctx context.Context, cand Candidate) string {
	u, err := url.Parse(cand.URI)
	if err == nil && u.Scheme == "ssh" {
		return remoteListener(ctx, cand)
	}
	return unixListener(cand.URI)
}

// unixListener identifies the process listening on a unix endpoint: its
// pid, name and start time; "" when it cannot be told.
func unixListener(uri string) string {
	pid := ListenerPID(uri)
	if pid <= 1 {
		return ""
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	// pid (comm) state ppid ... field 22 is the start time; comm may hold
	// spaces, so split after its closing parenthesis.
	s := string(stat)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return ""
	}
	comm := s[open+1 : end]
	fields := strings.Fields(s[end+1:])
	if len(fields) < 20 || comm == "systemd" {
		return ""
	}
	return fmt.Sprintf("%d/%s/%s", pid, comm, fields[19])
}

// ListenerPID is the pid, in this process's pid namespace, of the process
// listening on a unix endpoint (SO_PEERCRED of a connection to it); 0 when
// it cannot be told (not a unix socket, nothing listening, another pid
// namespace).
func ListenerPID(uri string) int {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "unix" {
		return 0
	}
	c, err := net.DialTimeout("unix", u.Path, runtime.DialTimeout)
	if err != nil {
		return 0
	}
	defer c.Close()
	raw, err := c.(*net.UnixConn).SyscallConn()
	if err != nil {
		return 0
	}
	var cred *syscall.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil || cerr != nil || cred == nil {
		return 0
	}
	return int(cred.Pid)
}

// remoteListener is listener for an ssh:// endpoint: "ssh " and the
// socket's stamp, or "".
func remoteListener(ctx context.Context, c Candidate) string {
	t, err := sshconn.Parse(c.URI, c.SSH)
	if err != nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, runtime.SSHPingTimeout)
	defer cancel()
	stamp, err := t.SocketStamp(ctx)
	if err != nil || stamp == "" {
		return ""
	}
	return "ssh " + stamp
}

// loadInfo returns the remembered Info of uri if its listener is unchanged.
func loadInfo(uri, who string) (runtime.Info, bool) {
	if who == "" {
		return runtime.Info{}, false
	}
	data, ok := cache.Open().Read(cache.Engines, cache.Key(uri))
	if !ok {
		return runtime.Info{}, false
	}
	var c cachedInfo
	if json.Unmarshal(data, &c) != nil || c.Listener != who || c.Info.Endpoint != uri {
		return runtime.Info{}, false
	}
	return c.Info, true
}

// storeInfo remembers info for uri's current listener (best effort).
func storeInfo(uri, who string, info runtime.Info) {
	if who == "" {
		return
	}
	if data, err := json.Marshal(cachedInfo{Listener: who, Info: info}); err == nil {
		cache.Open().Write(cache.Engines, cache.Key(uri), data)
	}
}
