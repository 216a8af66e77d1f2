package podman

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/containers/podman/v5/pkg/bindings"
	"github.com/containers/podman/v5/pkg/bindings/system"
	"github.com/containers/podman/v5/pkg/errorhandling"
	"github.com/containers/podman/v5/pkg/specgen"
	jsoniter "github.com/json-iterator/go"
	"go.podman.io/storage/pkg/idtools"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/runtime"
	"github.com/hostpersist/hpr/runtime/sshconn"
)

var _ runtime.Engine = (*Engine)(nil)

// Engine is a runtime.Engine over one Podman service endpoint, spoken to
// through the libpod API (never the Docker-compatible one). It is safe for
// concurrent use.
type Engine struct {
	endpoint string
	// socket is the unix socket path, empty for tcp endpoints.
	socket string
	// conn is the bindings' connection context: the bindings keep their
	// client in a context value, so this is the one context hpr keeps in a
	// struct. Calls never use it directly; see call.
	conn context.Context
	// closeConn cancels conn.
	closeConn context.CancelCauseFunc
	// attachFailed holds the OCI runtime's complaint about a container's
	// command when Attach met it (id → error); Start reports it.
	attachFailed sync.Map
	// forward carries the bindings' connections over ssh for an ssh://
	// endpoint; nil otherwise.
	forward *sshconn.Tunnel
}

// errClosed is the cause conn is cancelled with by Close.
var errClosed = errors.New("podman engine closed")

// New connects to the Podman service at endpoint (unix:///run/podman/podman.sock,
// unix:///run/user/N/podman/podman.sock, tcp://host:port, or
// ssh://user@host/run/user/N/podman/podman.sock: see sshconn). It pings the
// service and fails within about runtime.DialTimeout (runtime.SSHPingTimeout
// over ssh), with an error wrapping runtime.ErrUnreachable or
// runtime.ErrPermission, when that does not work.
func New(ctx context.Context, endpoint string, opts ...Option) (*Engine, error) {
	return connect(ctx, endpoint, true, opts)
}

// Connect is New for an endpoint that has just answered a ping as Podman
// (runtime.Ping, as engine detection does): it skips New's own bounded ping.
// The bindings still ping once; that ping is bounded by runtime.DialTimeout.
func Connect(ctx context.Context, endpoint string, opts ...Option) (*Engine, error) {
	return connect(ctx, endpoint, false, opts)
}

func connect(ctx context.Context, endpoint string, pingFirst bool, opts []Option) (_ *Engine, err error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, fmt.Errorf("parsing podman endpoint %q: %w", endpoint, err)
	}
	e := &Engine{endpoint: endpoint}
	network, addr, uri, bound := u.Scheme, u.Host, endpoint, runtime.DialTimeout
	switch u.Scheme {
	case "unix":
		addr = u.Path
		if u.Host != "" { // unix://run/podman/podman.sock
			addr = "/" + u.Host + u.Path
		}
		e.socket = addr
	case "tcp":
	case "ssh":
		if e.forward, err = tunnel(ctx, endpoint, opts); err != nil {
			return nil, fmt.Errorf("connecting: %w", err)
		}
		defer e.closeForwardOnError(&err)
		uri, bound = e.forward.URI(), runtime.SSHPingTimeout
		network, addr = "unix", strings.TrimPrefix(uri, "unix://")
	default:
		return nil, fmt.Errorf("connecting to %s: scheme %q: %w (use unix://, tcp:// or ssh://)", endpoint, u.Scheme, runtime.ErrUnsupported)
	}

	// The bindings' own ping retries a failed dial, sleeping between tries,
	// and has no timeout: ping first with a bounded one, unless the caller
	// just did.
	if pingFirst {
		if err := ping(ctx, network, addr, bound); err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("connecting to %s: %w", endpoint, context.Cause(ctx))
			}
			return nil, fmt.Errorf("connecting: %w", e.translate(ctx, e.forwarded(err)))
		}
	}

	// The connection context outlives New, so it cannot be ctx. It is
	// cancelled if the bindings' ping outlasts bound or ctx, and by Close.
	base, cancel := context.WithCancelCause(context.Background())
	timer := time.AfterFunc(bound, func() {
		cancel(fmt.Errorf("no answer within %v", bound))
	})
	stop := context.AfterFunc(ctx, func() { cancel(context.Cause(ctx)) })
	conn, err := bindings.NewConnection(base, uri)
	timer.Stop()
	stop()
	if err == nil && context.Cause(base) != nil {
		err = context.Cause(base)
	}
	if err != nil {
		if ctx.Err() != nil {
			cancel(err)
			return nil, fmt.Errorf("connecting to %s: %w", endpoint, context.Cause(ctx))
		}
		if cause := context.Cause(base); cause != nil {
			err = fmt.Errorf("%w (%v)", err, cause)
		}
		cancel(err)
		return nil, fmt.Errorf("connecting: %w", e.translate(ctx, e.forwarded(err)))
	}
	e.conn, e.closeConn = conn, cancel
	go warmCodecs()
	return e, nil
}

// warmCodecs builds jsoniter's encoder for the container spec (the
// bindings' create marshals it with jsoniter) on another core, while hpr
// inspects the image and plans: built on first use, it would be built inside
// the create, on the run's critical path (BENCHMARKS.md, measure 1).
func warmCodecs() {
	_, _ = jsoniter.MarshalToString(specgen.NewSpecGenerator("", false))
}

// ping asks the service at addr for /_ping within bound.
func ping(ctx context.Context, network, addr string, bound time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://d/_ping", nil)
	if err != nil {
		return err
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("ping answered %s", resp.Status)
	}
	if resp.Header.Get("Libpod-API-Version") == "" {
		return fmt.Errorf("%s answers, but not as Podman (no Libpod-API-Version header; a Docker socket?): %w", addr, runtime.ErrUnsupported)
	}
	return nil
}

// call returns the context for one bindings call: it carries the
// connection and ends when ctx ends. The caller must call the CancelFunc.
func (e *Engine) call(ctx context.Context) (context.Context, context.CancelFunc) {
	c, cancel := context.WithCancelCause(e.conn)
	stop := context.AfterFunc(ctx, func() { cancel(context.Cause(ctx)) })
	return c, func() {
		stop()
		cancel(context.Canceled)
	}
}

// untilDone runs f, a bindings call made with a context from call, and
// returns when f does or as soon as ctx ends, with ctx's error: a request
// whose context ends fails at once, but the bindings then sleep before
// retrying it. For calls that block for long (Wait, Exec, Build).
func untilDone(ctx context.Context, f func() error) error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close releases the engine's connections. Calls after Close fail.
func (e *Engine) Close() error {
	if c, err := bindings.GetClient(e.conn); err == nil {
		c.Client.CloseIdleConnections()
	}
	e.closeConn(errClosed)
	if e.forward != nil {
		return e.forward.Close()
	}
	return nil
}

// Info asks the service about itself through libpod's /info: the Docker
// compatible endpoint does not say whether Podman is rootless.
func (e *Engine) Info(ctx context.Context) (runtime.Info, error) {
	c, cancel := e.call(ctx)
	defer cancel()
	in, err := system.Info(c, nil)
	if err != nil {
		return runtime.Info{}, fmt.Errorf("asking %s for info: %w", e.endpoint, e.translate(ctx, err))
	}
	if in.Host == nil || in.Store == nil {
		return runtime.Info{}, fmt.Errorf("asking %s for info: the answer has no host or store section; is this a Podman service?", e.endpoint)
	}
	facts := idmap.Engine{
		Kind:       idmap.KindPodman,
		Rootless:   in.Host.Security.Rootless,
		Version:    in.Version.Version,
		APIVersion: in.Version.APIVersion,
		UIDMap:     idRanges(in.Host.IDMappings.UIDMap),
		GIDMap:     idRanges(in.Host.IDMappings.GIDMap),
	}
	return runtime.NewInfo(e.endpoint, facts, runtime.Platform{OS: in.Host.OS, Arch: in.Host.Arch, StorageDriver: in.Store.GraphDriverName,
		SELinux: in.Host.Security.SELinuxEnabled})
}

func idRanges(m []idtools.IDMap) []idmap.IDRange {
	if len(m) == 0 {
		return nil
	}
	r := make([]idmap.IDRange, len(m))
	for i, x := range m {
		r[i] = idmap.IDRange{ContainerID: int64(x.ContainerID), HostID: int64(x.HostID), Count: int64(x.Size)}
	}
	return r
}

// apiError is a bindings error classified as one of runtime's sentinels. Its
// text is the client's, with what to do when the sentinel is about the
// endpoint itself.
type apiError struct {
	kind error
	msg  string
	err  error
}

func (a *apiError) Error() string { return a.msg }
func (a *apiError) Unwrap() []error {
	if a.err == nil {
		return []error{a.kind}
	}
	return []error{a.kind, a.err}
}

// translate classifies a bindings error into runtime's sentinels, keeping
// the client's text. ctx is the caller's: when it has ended, that is the
// error.
func (e *Engine) translate(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return &apiError{kind: ctx.Err(), msg: err.Error(), err: err}
	}
	kind := e.classify(err)
	switch kind {
	case nil:
		return err
	case runtime.ErrUnreachable:
		return &apiError{kind: kind, msg: fmt.Sprintf("podman at %s did not answer: %v; is the service running (podman system service)?", e.endpoint, err), err: err}
	case runtime.ErrPermission:
		return &apiError{kind: kind, msg: e.permissionHint(err), err: err}
	default:
		return &apiError{kind: kind, msg: err.Error(), err: err}
	}
}

// classify returns the runtime sentinel err stands for, or nil.
func (e *Engine) classify(err error) error {
	var model *errorhandling.ErrorModel
	if errors.As(err, &model) {
		switch model.Code() {
		case 404:
			return runtime.ErrNotFound
		case 409:
			return runtime.ErrConflict
		}
		return classifyText(model.Error())
	}
	var apiVersion *bindings.APIVersionError
	if errors.As(err, &apiVersion) {
		return runtime.ErrUnsupported
	}
	// Errors from the socket itself: these are about the endpoint.
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		if errors.Is(err, fs.ErrPermission) {
			return runtime.ErrPermission
		}
		return runtime.ErrUnreachable
	}
	if errors.As(err, new(bindings.ConnectError)) {
		if strings.Contains(err.Error(), "too old") {
			return runtime.ErrUnsupported
		}
		return runtime.ErrUnreachable
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return runtime.ErrUnreachable
	}
	return classifyText(err.Error())
}

// classifyText classifies errors the bindings only give as text (some
// return http.Response.Status, "404 Not Found").
func classifyText(s string) error {
	l := strings.ToLower(s)
	switch {
	case strings.HasPrefix(l, "404 "),
		strings.Contains(l, "no such container"), strings.Contains(l, "no such image"),
		strings.Contains(l, "no such volume"), strings.Contains(l, "no such exec"),
		strings.Contains(l, "no container with name or id"),
		strings.Contains(l, "image not known"), strings.Contains(l, "volume not known"):
		return runtime.ErrNotFound
	case strings.HasPrefix(l, "409 "),
		strings.Contains(l, "name is already in use"), strings.Contains(l, "is already in use by"),
		strings.Contains(l, "volume is being used"):
		return runtime.ErrConflict
	}
	return nil
}

// permissionHint says which group grants access to the socket.
func (e *Engine) permissionHint(err error) string {
	msg := fmt.Sprintf("podman at %s: %v", e.endpoint, err)
	if e.socket == "" {
		return msg
	}
	if rest, ok := strings.CutPrefix(e.socket, "/run/user/"); ok {
		if uid, _, _ := strings.Cut(rest, "/"); uid != strconv.Itoa(os.Getuid()) {
			return fmt.Sprintf("%s; that is the rootless service of uid %s: use your own, unix:///run/user/%d/podman/podman.sock (systemctl --user start podman.socket)", msg, uid, os.Getuid())
		}
	}
	// The socket, or the directory that keeps it from us.
	fi, serr := os.Stat(e.socket)
	if serr != nil {
		if fi, serr = os.Stat(filepath.Dir(e.socket)); serr != nil {
			return msg
		}
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return msg
	}
	group := strconv.FormatUint(uint64(st.Gid), 10)
	if g, gerr := user.LookupGroupId(group); gerr == nil {
		group = g.Name
	}
	if st.Gid == 0 {
		return fmt.Sprintf("%s; %s belongs to group root: use your own rootless service (systemctl --user start podman.socket) or ask an administrator for a group to join", msg, fi.Name())
	}
	return fmt.Sprintf("%s; join the socket's group %q (sudo usermod -aG %s $USER) and log in again", msg, group, group)
}
