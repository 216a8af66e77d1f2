package enginetest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hostpersist/hpr/runtime"
)

// networkContract: a network hpr creates is listed by its labels, refuses
// a second of the same name, gives a started container an address, and
// lets another container on it reach that one by the name its hosts entry
// gives; it is gone once removed.
func networkContract(t *testing.T, f *fixture) {
	ctx := context.Background()
	name := fmt.Sprintf("hpr-test-net-%d", time.Now().UnixNano())
	labels := map[string]string{runtime.LabelProject: f.dir, "io.hpr.test": t.Name()}
	if err := f.e.CreateNetwork(ctx, runtime.NetworkSpec{Name: name, Labels: labels}); err != nil {
		t.Fatalf("CreateNetwork: %v", err)
	}
	removed := false
	defer func() {
		if !removed {
			_ = f.e.RemoveNetwork(ctx, name)
		}
	}()
	if err := f.e.CreateNetwork(ctx, runtime.NetworkSpec{Name: name}); !errors.Is(err, runtime.ErrConflict) {
		t.Errorf("second CreateNetwork(%s) = %v, want ErrConflict", name, err)
	}
	listed, err := f.e.Networks(ctx, map[string]string{"io.hpr.test": t.Name(), runtime.LabelProject: ""})
	if err != nil || len(listed) != 1 || listed[0].Name != name || listed[0].Labels[runtime.LabelProject] != f.dir {
		t.Errorf("Networks by label = %+v, %v; want %s with its labels", listed, err, name)
	}

	server := f.spec(t, "perl", "-e", serveScript)
	server.Network = name
	id, err := f.e.Create(ctx, server)
	if err != nil {
		t.Fatalf("creating the server: %v", err)
	}
	defer func() { _ = f.e.Remove(ctx, id) }()
	if err := f.e.Start(ctx, id); err != nil {
		t.Fatalf("starting the server: %v", err)
	}
	addr, err := f.e.Address(ctx, id, name)
	if a, perr := netip.ParseAddr(addr); err != nil || perr != nil || !a.Is4() {
		t.Fatalf("Address = %q, %v; want an IPv4 address", addr, err)
	}

	// The client asks until the server listens (perl takes a moment), and
	// at most 30 s.
	client := f.spec(t, "bash", "-c", `for i in $(seq 300); do
  if exec 3<>/dev/tcp/srv/8080; then printf 'GET / HTTP/1.0\r\n\r\n' >&3; cat <&3; exit 0; fi 2>/dev/null
  sleep 0.1
done; exit 7`)
	client.Network, client.ExtraHosts = name, []string{"srv:" + addr}
	res := f.run(t, runtime.RunOptions{Spec: client})
	if res.code != 0 || !strings.Contains(res.stdout, "hpr-ok") {
		t.Errorf("client on %s: exit %d, stdout %q, stderr %q; want the server's hpr-ok through srv:8080", name, res.code, res.stdout, res.stderr)
	}

	if err := f.e.Remove(ctx, id); err != nil {
		t.Fatalf("removing the server: %v", err)
	}
	if err := f.e.RemoveNetwork(ctx, name); err != nil {
		t.Fatalf("RemoveNetwork: %v", err)
	}
	removed = true
	if err := f.e.RemoveNetwork(ctx, name); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("RemoveNetwork of a removed network = %v, want ErrNotFound", err)
	}
	if listed, err := f.e.Networks(ctx, map[string]string{"io.hpr.test": t.Name()}); err != nil || len(listed) != 0 {
		t.Errorf("Networks after removal = %+v, %v; want none", listed, err)
	}
	f.noneLeft(t)
}
