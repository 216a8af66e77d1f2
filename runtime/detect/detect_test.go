package detect

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/internal/testenv"
	"github.com/hostpersist/hpr/runtime"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// With nothing answering, Pick fails within about two seconds and names
// every endpoint it tried and why.
func TestPickNothingAnswers(t *testing.T) {
	dir := home(t)
	socks := Standard(dir)
	for i := range socks { // no real engine in the way of this test
		socks[i].URI = strings.Replace(socks[i].URI, "unix:///", "unix://"+dir+"/root/", 1)
	}
	o := Options{Getenv: env(map[string]string{"XDG_RUNTIME_DIR": dir, "HOME": dir}), NoPrivateService: true, Sockets: socks}
	start := time.Now()
	_, err := Pick(context.Background(), o)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v, want under 2 s", d)
	}
	if !errors.Is(err, runtime.ErrUnreachable) {
		t.Fatalf("error = %v, want ErrUnreachable", err)
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") {
		t.Errorf("error is not one line: %q", msg)
	}
	for _, c := range socks {
		if !strings.Contains(msg, c.URI) {
			t.Errorf("error does not name %s: %q", c.URI, msg)
		}
	}
	if !strings.Contains(msg, socks[1].URI+": no such socket") {
		t.Errorf("error does not say why %s failed: %q", socks[1].URI, msg)
	}
}

func TestOpenUnknownKind(t *testing.T) {
	if _, err := Open(context.Background(), "unix:///nowhere.sock", idmap.Kind("lxc")); err == nil {
		t.Error("no error for an unknown kind")
	}
}

// An ssh engine that cannot be reached fails within about two seconds, in
// one line naming the host and why: refused, unroutable (TEST-NET-1), or a
// server that accepts and never says a word, for Docker's dial-stdio and
// for Podman's tunnel alike.
func TestPickSSHUnreachable(t *testing.T) {
	dir := home(t)
	mute := "ssh://nobody@" + testenv.Silent(t)
	for _, tc := range []struct{ engine, host string }{
		{"ssh://nobody@127.0.0.1:1", "127.0.0.1"},
		{"ssh://nobody@192.0.2.1", "192.0.2.1"},
		{mute, "127.0.0.1"},
		{mute + "/run/user/1000/podman/podman.sock", "127.0.0.1"},
	} {
		t.Run(tc.engine, func(t *testing.T) {
			o := Options{Engine: tc.engine, Getenv: env(map[string]string{"HOME": dir, "XDG_RUNTIME_DIR": dir})}
			start := time.Now()
			_, err := Pick(context.Background(), o)
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("took %v, want about 2 s at most", d)
			}
			if !errors.Is(err, runtime.ErrUnreachable) {
				t.Fatalf("error %v, want ErrUnreachable", err)
			}
			msg := err.Error()
			t.Log(msg)
			if strings.Contains(msg, "\n") || !strings.Contains(msg, tc.host) || !strings.Contains(msg, tc.engine+": ") {
				t.Errorf("error is not one line naming %s and the cause: %q", tc.host, msg)
			}
		})
	}
}
