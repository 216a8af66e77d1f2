package sshconn

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"time"
)

// ConnectTimeout bounds how long ssh may take to reach the host (its
// ConnectTimeout, whole seconds). Callers bound the whole exchange with
// their context.
const ConnectTimeout = 2 * time.Second

// ErrURL is wrapped by every error about an ssh:// endpoint itself.
var ErrURL = errors.New("invalid ssh endpoint")

// Options are what a configured connection adds to its URI.
type Options struct {
	// Identity is a private key file to offer (ssh -i), as a Podman
	// connection records it; empty leaves the choice to ssh and its config.
	Identity string
	// Machine marks a podman machine's connection: Podman does not check the
	// host key of its own VMs (they get a new one with every `podman
	// machine init`), and neither does hpr for them.
	Machine bool
}

// Target is an ssh:// endpoint: ssh://[user@]host[:port][/socket/path].
type Target struct {
	User string
	Host string
	Port string
	// Path is the engine's unix socket on the remote host; empty means the
	// remote CLI's default (Docker) or the service's own (Podman: asked of
	// `podman info`).
	Path string
	Options
}

var (
	// Names that cannot be mistaken for ssh options or break out of the
	// remote command line: the host and user go to ssh as arguments, the
	// socket path into the remote shell's command.
	validHost = regexp.MustCompile(`^[A-Za-z0-9_.:%-]+$`)
	validUser = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)
	validPath = regexp.MustCompile(`^/[A-Za-z0-9_./@+-]*$`)
)

// Parse reads an ssh:// URI. It refuses a password, a query or a fragment,
// and names that could be read as ssh options.
func Parse(uri string, o Options) (Target, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return Target{}, fmt.Errorf("%w %q: %v", ErrURL, uri, errors.Unwrap(err))
	}
	if u.Scheme != "ssh" {
		return Target{}, fmt.Errorf("%w %q: scheme %q, want ssh", ErrURL, uri, u.Scheme)
	}
	t := Target{Host: u.Hostname(), Port: u.Port(), Path: u.Path, Options: o}
	if u.User != nil {
		t.User = u.User.Username()
		if _, ok := u.User.Password(); ok {
			return Target{}, fmt.Errorf("%w %q: a password in the URI is not supported: use a key (ssh-agent, IdentityFile in ~/.ssh/config)", ErrURL, redact(u))
		}
	}
	switch {
	case u.RawQuery != "" || u.Fragment != "":
		return Target{}, fmt.Errorf("%w %q: no query or fragment allowed", ErrURL, uri)
	case !validHost.MatchString(t.Host) || t.Host[0] == '-':
		return Target{}, fmt.Errorf("%w %q: host %q", ErrURL, uri, t.Host)
	case t.User != "" && !validUser.MatchString(t.User):
		return Target{}, fmt.Errorf("%w %q: user %q", ErrURL, uri, t.User)
	case t.Path == "/":
		t.Path = ""
	case t.Path != "" && (!validPath.MatchString(t.Path) || path.Clean(t.Path) != t.Path):
		return Target{}, fmt.Errorf("%w %q: socket path %q: want a clean absolute path of letters, digits and / . _ - + @", ErrURL, uri, t.Path)
	}
	return t, nil
}

func redact(u *url.URL) string {
	c := *u
	c.User = url.User(u.User.Username())
	return c.String()
}

// Dest names the destination in messages: [user@]host[:port].
func (t Target) Dest() string {
	d := t.Host
	if t.User != "" {
		d = t.User + "@" + d
	}
	if t.Port != "" {
		d += ":" + t.Port
	}
	return d
}

// args returns ssh's arguments: the fixed options, those that share the
// master connection, then extra (ssh options such as -L), then the
// destination and the remote command, if any.
func (t Target) args(extra []string, remote ...string) []string {
	return t.argv(muxArgs(), extra, remote...)
}

// argv is args with the given multiplexing options (muxArgs).
func (t Target) argv(mux, extra []string, remote ...string) []string {
	a := []string{
		"-o", "BatchMode=yes",
		"-o", fmt.Sprintf("ConnectTimeout=%d", int(ConnectTimeout/time.Second)),
		"-T",
	}
	a = append(a, mux...)
	if t.Identity != "" {
		a = append(a, "-i", t.Identity)
	}
	if t.Machine {
		a = append(a, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null")
	}
	if t.User != "" {
		a = append(a, "-l", t.User)
	}
	if t.Port != "" {
		a = append(a, "-p", t.Port)
	}
	a = append(a, extra...)
	a = append(a, "--", t.Host)
	return append(a, remote...)
}

// dockerCommand is the remote command that connects stdio to the Docker
// daemon, as docker/cli's connection helper runs it: with --host when the
// URI names a socket (any docker CLI since 18.09 takes both).
func (t Target) dockerCommand() []string {
	if t.Path == "" {
		return []string{"docker", "system", "dial-stdio"}
	}
	return []string{"docker", "'--host=unix://" + t.Path + "'", "system", "dial-stdio"}
}
