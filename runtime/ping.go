package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/runtime/sshconn"
	"github.com/moby/sys/user"
)

// PingTimeout bounds one probe of a local or tcp endpoint during detection.
const PingTimeout = 750 * time.Millisecond

// SSHPingTimeout bounds one probe of an ssh:// endpoint: ssh's connect
// timeout, its key exchange and login, and (Docker) the remote CLI's start
// all come before the engine's answer.
const SSHPingTimeout = sshconn.ConnectTimeout

// Endpoint is an engine's URI and what reaching it takes.
type Endpoint struct {
	URI string
	// Kind is what the endpoint is expected to be ("" when unknown). For
	// ssh:// it decides how the remote engine is reached (see
	// sshconn.Target.Dialer).
	Kind idmap.Kind
	// SSH are a configured connection's ssh options (identity, machine).
	SSH sshconn.Options
}

// Ping asks the engine at uri what it is; see PingEndpoint.
func Ping(ctx context.Context, uri string) (idmap.Kind, error) {
	return PingEndpoint(ctx, Endpoint{URI: uri})
}

// PingEndpoint asks the engine at ep what it is, with one GET /_ping: an
// engine that sends a Libpod-API-Version header is Podman, any other that
// answers is Docker. Errors wrap ErrUnreachable or ErrPermission and say why
// in one line.
func PingEndpoint(ctx context.Context, ep Endpoint) (idmap.Kind, error) {
	uri := ep.URI
	timeout := PingTimeout
	if strings.HasPrefix(uri, "ssh:") {
		timeout = SSHPingTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tr, err := transport(ctx, ep)
	if err != nil {
		return "", err
	}
	defer tr.close()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, tr.base+"/_ping", nil)
	if err != nil {
		return "", fmt.Errorf("pinging %s: %w", uri, err)
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		if why := tr.cause(); why != nil {
			err = why
		}
		return "", DialError(uri, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<10))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%w: %s answered /_ping with %s", ErrUnreachable, uri, resp.Status)
	}
	if resp.Header.Get("Libpod-API-Version") != "" {
		return idmap.KindPodman, nil
	}
	return idmap.KindDocker, nil
}

// pingTransport is an HTTP transport to one endpoint.
type pingTransport struct {
	*http.Transport
	base  string       // the base URL
	close func()       // releases it
	cause func() error // why a request failed, when it knows better (an ssh tunnel)
}

// transport returns an HTTP transport dialling ep.
func transport(ctx context.Context, ep Endpoint) (*pingTransport, error) {
	uri := ep.URI
	u, err := url.Parse(uri)
	if err != nil {
		return nil, fmt.Errorf("parsing endpoint %q: %w", uri, err)
	}
	d := &net.Dialer{Timeout: PingTimeout}
	unix := func(path string) *http.Transport {
		return &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "unix", path)
		}}
	}
	tr := &pingTransport{base: "http://engine", cause: func() error { return nil }}
	tr.close = func() { tr.CloseIdleConnections() }
	switch u.Scheme {
	case "unix":
		tr.Transport = unix(u.Path)
	case "tcp", "http":
		tr.Transport, tr.base = &http.Transport{DialContext: d.DialContext}, "http://"+u.Host
	case "ssh":
		t, err := sshconn.Parse(uri, ep.SSH)
		if err != nil {
			return nil, err
		}
		if t.ViaDocker(ep.Kind) {
			tr.Transport = &http.Transport{DialContext: t.DialDocker}
			break
		}
		tu, err := t.Tunnel(ctx, os.Getenv("XDG_RUNTIME_DIR"))
		if err != nil {
			return nil, DialError(uri, err)
		}
		tr.Transport, tr.cause = unix(strings.TrimPrefix(tu.URI(), "unix://")), tu.Err
		tr.close = func() { tr.CloseIdleConnections(); tu.Close() }
	default:
		return nil, fmt.Errorf("endpoint %q: unsupported scheme %q (use unix://, tcp:// or ssh://)", uri, u.Scheme)
	}
	return tr, nil
}

// DialError explains why an endpoint could not be reached, wrapping
// ErrPermission or ErrUnreachable: what Ping says about an endpoint that
// does not answer.
func DialError(uri string, err error) error {
	var se *sshconn.Error
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("%w: %s: %s", ErrUnreachable, uri, se.Cause)
	case errors.Is(err, syscall.EACCES), errors.Is(err, os.ErrPermission):
		return fmt.Errorf("%w: %s: %s", ErrPermission, uri, permissionHint(uri))
	case errors.Is(err, syscall.ENOENT):
		return fmt.Errorf("%w: %s: no such socket", ErrUnreachable, uri)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("%w: %s: connection refused (stale socket: the engine is not running)", ErrUnreachable, uri)
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return fmt.Errorf("%w: %s: no answer (timed out)", ErrUnreachable, uri)
	default:
		return fmt.Errorf("%w: %s: %v", ErrUnreachable, uri, err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// permissionHint says which group gives access to a socket.
func permissionHint(uri string) string {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "unix" {
		return "permission denied"
	}
	for p := u.Path; p != "/" && p != "."; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			continue
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			if g := groupName(int(st.Gid)); g != "" && st.Gid != 0 {
				return fmt.Sprintf("permission denied; %s belongs to group %s: add yourself to it (sudo usermod -aG %s $USER, then log in again)", p, g, g)
			}
		}
		break
	}
	return "permission denied; ask the engine's administrator for access to the socket, or use a rootless engine"
}

func groupName(gid int) string {
	g, err := user.LookupGid(gid)
	if err != nil {
		return ""
	}
	return g.Name
}
