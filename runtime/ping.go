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
	"syscall"
	"time"

	"github.com/hostpersist/hpr/idmap"
	"github.com/moby/sys/user"
)

// PingTimeout bounds one probe of an endpoint during detection.
const PingTimeout = 750 * time.Millisecond

// Ping asks the engine at uri what it is, with one GET /_ping: an engine that
// sends a Libpod-API-Version header is Podman, any other that answers is
// Docker. Errors wrap ErrUnreachable or ErrPermission and say why.
func Ping(ctx context.Context, uri string) (idmap.Kind, error) {
	tr, base, err := transport(uri)
	if err != nil {
		return "", err
	}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, PingTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/_ping", nil)
	if err != nil {
		return "", fmt.Errorf("pinging %s: %w", uri, err)
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
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

// transport returns an HTTP transport dialling uri and the base URL to use.
func transport(uri string) (*http.Transport, string, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return nil, "", fmt.Errorf("parsing endpoint %q: %w", uri, err)
	}
	d := &net.Dialer{Timeout: PingTimeout}
	switch u.Scheme {
	case "unix":
		path := u.Path
		return &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "unix", path)
		}}, "http://engine", nil
	case "tcp", "http":
		return &http.Transport{DialContext: d.DialContext}, "http://" + u.Host, nil
	default:
		return nil, "", fmt.Errorf("endpoint %q: unsupported scheme %q (use unix:// or tcp://)", uri, u.Scheme)
	}
}

// DialError explains why an endpoint could not be reached, wrapping
// ErrPermission or ErrUnreachable: what Ping says about an endpoint that
// does not answer.
func DialError(uri string, err error) error {
	switch {
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
