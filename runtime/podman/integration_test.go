//go:build integration

package podman

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/internal/testenv"
	"github.com/hostpersist/hpr/runtime"
	"github.com/hostpersist/hpr/runtime/enginetest"
)

// The engines come from HPR_TEST_ENGINES (internal/testenv); these tests run
// as the non-root test user, as scripts/test.sh runs them. What every backend
// must do is checked once, on every engine, by runtime/enginetest's
// TestContract; the tests here check what is particular to this backend.

const testImage = enginetest.BaseImage

// forEach runs f against every Podman engine of the harness. An engine that
// cannot be opened fails the test.
func forEach(t *testing.T, f func(t *testing.T, e *Engine)) {
	t.Helper()
	testenv.NonRoot(t)
	var engines []testenv.Engine
	for _, te := range testenv.Engines(t) {
		if strings.HasPrefix(string(te.Mode), string(idmap.KindPodman)+"-") {
			engines = append(engines, te)
		}
	}
	if len(engines) == 0 {
		t.Skip("HPR_TEST_ENGINES names no podman engine")
	}
	for _, te := range engines {
		t.Run(string(te.Mode), func(t *testing.T) {
			e, err := New(t.Context(), te.Endpoint)
			if err != nil {
				t.Fatalf("opening %s: %v", te.Endpoint, err)
			}
			t.Cleanup(func() { e.Close() })
			f(t, e)
		})
	}
}

// TestIntegrationSelfRemoval: the exit status is there as soon as the
// output ends, the service then removes the container by itself, and the
// status can still be read (from the service's events) after that.
func TestIntegrationSelfRemoval(t *testing.T) {
	forEach(t, func(t *testing.T, e *Engine) {
		ctx := t.Context()
		label := map[string]string{runtime.LabelProject: t.Name()}
		id, err := e.Create(ctx, runtime.ContainerSpec{Image: testImage, Cmd: []string{"sh", "-c", "echo bye; exit 3"}, Labels: label})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Remove(context.WithoutCancel(ctx), id)
		var out testenv.Buffer
		done, err := e.Attach(ctx, id, runtime.Streams{Stdout: &out, Stderr: io.Discard})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Start(ctx, id); err != nil {
			t.Fatal(err)
		}
		<-done
		t0 := time.Now()
		var st runtime.ExitState
		for i := 0; i < 10 && !st.Exited; i++ {
			if st, err = e.Exited(ctx, id); err != nil {
				t.Fatal(err)
			}
			if !st.Exited {
				time.Sleep(5 * time.Millisecond)
			}
		}
		t.Logf("exit status read %v after the output ended", time.Since(t0))
		if want := (runtime.ExitState{Exited: true, Code: 3, SelfRemoving: true}); st != want || out.String() != "bye\n" {
			t.Fatalf("Exited after the output ended = %+v (output %q), want %+v", st, out.String(), want)
		}
		t0 = time.Now()
		left, err := runtime.Settle(ctx, e, label, 10*time.Second)
		if err != nil || len(left) != 0 {
			t.Fatalf("the service did not remove the exited container: %+v, %v", left, err)
		}
		t.Logf("removed by the service %v after the status was read", time.Since(t0))
		if st, err := e.Exited(ctx, id); err != nil || st.Code != 3 || !st.Exited {
			t.Errorf("Exited of the removed container = %+v, %v; want code 3 from the events", st, err)
		}
		if code, err := e.Wait(ctx, id); err != nil || code != 3 {
			t.Errorf("Wait of the removed container = %d, %v; want 3 from the events", code, err)
		}
	})
}
