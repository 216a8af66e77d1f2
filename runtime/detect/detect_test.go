package detect

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hostpersist/hpr/idmap"
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
