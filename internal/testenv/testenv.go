// Package testenv gives integration tests the engines the harness
// (scripts/engines.sh) brought up, and the identity of the test user they run
// as. With HPR_REQUIRE_ENGINES=1 a missing engine fails the test instead of
// skipping it; an engine that is listed but does not answer fails the tests
// that use it at once. It also holds what tests of several packages share:
// running the hpr binary under test (Hpr), and who owns a file (Owner).
package testenv

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/runtime"
)

// Engine is one engine of the harness.
type Engine struct {
	Mode     idmap.Mode
	Endpoint string
}

// Required reports whether missing engines must fail tests (CI).
func Required() bool { return os.Getenv("HPR_REQUIRE_ENGINES") == "1" }

// Engines parses HPR_TEST_ENGINES ("mode=endpoint ..."). When
// HPR_REQUIRE_ENGINES=1 every mode in idmap.Modes must be there, or the test
// fails; otherwise a test with no engines is skipped.
func Engines(t testing.TB) []Engine {
	t.Helper()
	engines, err := Parse(os.Getenv("HPR_TEST_ENGINES"))
	if err != nil {
		t.Fatalf("HPR_TEST_ENGINES: %v", err)
	}
	if Required() {
		for _, m := range Missing(engines) {
			t.Errorf("HPR_REQUIRE_ENGINES=1 but %s is not in HPR_TEST_ENGINES (%q): is it up? (sudo scripts/engines.sh status)", m, os.Getenv("HPR_TEST_ENGINES"))
		}
		if t.Failed() {
			t.FailNow()
		}
	}
	if len(engines) == 0 {
		t.Skip("no engines: HPR_TEST_ENGINES is empty (sudo scripts/engines.sh up; make test)")
	}
	return engines
}

// Missing returns the modes of idmap.Modes that engines lack.
func Missing(engines []Engine) []idmap.Mode {
	have := map[idmap.Mode]bool{}
	for _, e := range engines {
		have[e.Mode] = true
	}
	var out []idmap.Mode
	for _, m := range idmap.Modes {
		if !have[m] {
			out = append(out, m)
		}
	}
	return out
}

// Parse parses "mode=endpoint mode=endpoint".
func Parse(s string) ([]Engine, error) {
	var out []Engine
	for _, f := range strings.Fields(s) {
		m, ep, ok := strings.Cut(f, "=")
		if !ok {
			return nil, &parseError{f}
		}
		mode, err := idmap.ParseMode(m)
		if err != nil {
			return nil, err
		}
		out = append(out, Engine{Mode: mode, Endpoint: ep})
	}
	return out, nil
}

type parseError struct{ field string }

func (e *parseError) Error() string { return "want mode=endpoint, got " + strconv.Quote(e.field) }

// Need returns the harness engine in mode, for a test about that mode
// only. When HPR_TEST_ENGINES has none the test is skipped, or fails under
// HPR_REQUIRE_ENGINES=1 (Engines has failed it already); when the engine
// does not answer, the test fails at once.
func Need(t testing.TB, mode idmap.Mode) Engine {
	t.Helper()
	for _, e := range Engines(t) {
		if e.Mode == mode {
			Alive(t, e)
			return e
		}
	}
	t.Skipf("no %s engine in HPR_TEST_ENGINES", mode)
	return Engine{}
}

// Each runs f as a parallel subtest per engine, named by mode. A subtest
// whose engine does not answer fails at once, naming it, rather than
// waiting out the timeouts of what it would have run.
func Each(t *testing.T, f func(t *testing.T, e Engine)) {
	t.Helper()
	for _, e := range Engines(t) {
		t.Run(string(e.Mode), func(t *testing.T) {
			t.Parallel()
			Alive(t, e)
			f(t, e)
		})
	}
}

// Alive fails the test at once when engine e does not answer a ping.
func Alive(t testing.TB, e Engine) {
	t.Helper()
	if _, err := runtime.Ping(context.Background(), e.Endpoint); err != nil {
		t.Fatalf("engine %s (%s) does not answer: %v (scripts/engines.sh status; sudo scripts/engines.sh up)", e.Mode, e.Endpoint, err)
	}
}

// NonRoot fails the test when it runs as root: ownership proves nothing then.
func NonRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		t.Fatal("integration tests must run as the non-root test user (scripts/test.sh does this)")
	}
}

// Bin returns the hpr binary under test (HPR_BIN, or bin/hpr above the
// working directory).
func Bin(t testing.TB) string {
	t.Helper()
	if b := os.Getenv("HPR_BIN"); b != "" {
		return b
	}
	dir, _ := os.Getwd()
	for ; dir != "/"; dir = filepath.Dir(dir) {
		b := filepath.Join(dir, "bin", "hpr")
		if _, err := os.Stat(b); err == nil {
			return b
		}
	}
	if p, err := exec.LookPath("hpr"); err == nil {
		return p
	}
	t.Fatal("no hpr binary: run make build (or set HPR_BIN)")
	return ""
}

// Src returns the source tree's root (HPR_SRC, or the directory holding
// go.mod above the working directory).
func Src(t testing.TB) string {
	t.Helper()
	if s := os.Getenv("HPR_SRC"); s != "" {
		return s
	}
	dir, _ := os.Getwd()
	for ; dir != "/"; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
	}
	t.Fatal("cannot find the source tree (set HPR_SRC)")
	return ""
}

// Buffer is a bytes.Buffer safe to read while a process or goroutine writes
// it (a running command's output).
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
