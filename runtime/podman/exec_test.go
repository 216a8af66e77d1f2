package podman

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hostpersist/hpr/runtime"
	"github.com/hostpersist/hpr/runtime/enginetest"
)

// fakeExec serves exec session s1 in container c1: its command runs from
// its start until a resize, and the calls are recorded, a resize with
// whether the session ran then.
type fakeExec struct {
	mu      sync.Mutex
	running bool
	calls   []string
	resized chan struct{}
	once    sync.Once
}

// newFakeExec returns an Engine on a fake service that serves f.
func newFakeExec(t *testing.T) (*Engine, *fakeExec) {
	t.Helper()
	f := &fakeExec{resized: make(chan struct{})}
	e, err := New(t.Context(), fakeService(t, f.serve))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e, f
}

func (f *fakeExec) record(c string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, c)
}

func (f *fakeExec) isRunning() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.running
}

func (f *fakeExec) called() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func (f *fakeExec) serve(w http.ResponseWriter, r *http.Request) {
	p, q := r.URL.Path, r.URL.Query()
	switch {
	case strings.HasSuffix(p, "/containers/c1/exec"):
		f.record("create")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, `{"Id":"s1"}`)
	case strings.HasSuffix(p, "/exec/s1/json"):
		// No TTY as far as the bindings know: they would put the test's
		// own terminal in raw mode.
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"ID":"s1","Running":%v,"ExitCode":0,"ProcessConfig":{"tty":false}}`, f.isRunning())
	case strings.HasSuffix(p, "/exec/s1/start"):
		f.start(w)
	case strings.HasSuffix(p, "/resize"):
		_, path, _ := strings.Cut(p, "/libpod/")
		f.record(fmt.Sprintf("resize %s %sx%s running=%v", path, q.Get("h"), q.Get("w"), f.isRunning()))
		f.once.Do(func() { close(f.resized) })
		w.WriteHeader(http.StatusCreated)
	default:
		f.record(r.Method + " " + p)
		apiErr(w, http.StatusNotFound, "not in the fake")
	}
}

// start runs the command: the session runs once the connection is
// upgraded, and ends (its output with it) at the first resize.
func (f *fakeExec) start(w http.ResponseWriter) {
	f.record("start")
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	buf.WriteString("HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
	buf.Flush()
	f.mu.Lock()
	f.running = true
	f.mu.Unlock()
	select {
	case <-f.resized:
	case <-time.After(5 * time.Second):
	}
	f.mu.Lock()
	f.running = false
	f.mu.Unlock()
}

// A TTY exec is sized once the service says its session runs, through that
// session, not through the container.
func TestExecResize(t *testing.T) {
	e, f := newFakeExec(t)
	enginetest.ExecTTY(t, e, "c1", runtime.TermSize{Height: 33, Width: 111}, "sh")
	calls := f.called()
	var resizes []string
	for _, c := range calls {
		if strings.HasPrefix(c, "resize") {
			resizes = append(resizes, c)
		}
	}
	if want := []string{"resize exec/s1/resize 33x111 running=true"}; !slices.Equal(resizes, want) {
		t.Errorf("calls %q: want the one resize %q", calls, want)
	}
}

// Resize and ResizeExec differ only in the TTY they name.
func TestResizeNamesTheTTY(t *testing.T) {
	e, f := newFakeExec(t)
	if err := e.Resize(t.Context(), "c1", 24, 80); err != nil {
		t.Errorf("Resize() = %v", err)
	}
	if err := e.ResizeExec(t.Context(), "s1", 33, 111); err != nil {
		t.Errorf("ResizeExec() = %v", err)
	}
	want := []string{"resize containers/c1/resize 24x80 running=false", "resize exec/s1/resize 33x111 running=false"}
	if got := f.called(); !slices.Equal(got, want) {
		t.Errorf("calls %q, want %q", got, want)
	}
}
