package runtime

import (
	"context"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/hostpersist/hpr/idmap"
)

// serve answers HTTP on a unix socket in a temp dir and returns its URI.
func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "engine.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return "unix://" + sock
}

func TestPingKind(t *testing.T) {
	docker := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Api-Version", "1.41")
		w.Write([]byte("OK"))
	}))
	podman := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Libpod-API-Version", "4.3.1")
		w.Write([]byte("OK"))
	}))
	for uri, want := range map[string]idmap.Kind{docker: idmap.KindDocker, podman: idmap.KindPodman} {
		got, err := Ping(context.Background(), uri)
		if err != nil || got != want {
			t.Errorf("Ping(%s) = %q, %v; want %q", uri, got, err, want)
		}
	}
}

func TestPingUnreachable(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "stale.sock")
	l, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close() // the file stays, nobody listens: a stale socket

	// An endpoint that accepts but never answers.
	hung := filepath.Join(dir, "hung.sock")
	hl, err := net.Listen("unix", hung)
	if err != nil {
		t.Fatal(err)
	}
	defer hl.Close()
	go func() {
		for {
			c, err := hl.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()

	for name, uri := range map[string]string{
		"missing": "unix://" + filepath.Join(dir, "none.sock"),
		"stale":   "unix://" + stale,
		"hung":    "unix://" + hung,
	} {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			_, err := Ping(context.Background(), uri)
			if !errors.Is(err, ErrUnreachable) {
				t.Fatalf("Ping(%s) error = %v, want ErrUnreachable", uri, err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("Ping took %v, want under 2 s", d)
			}
		})
	}
}
