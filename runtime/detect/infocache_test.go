package detect

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/runtime"
)

func TestInfoCache(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	sock := filepath.Join(t.TempDir(), "e.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	uri := "unix://" + sock
	who := listener(context.Background(), Candidate{URI: uri})
	if !strings.HasPrefix(who, fmt.Sprintf("%d/", os.Getpid())) {
		t.Fatalf("listener(%s) = %q, want this process (pid %d)", uri, who, os.Getpid())
	}
	info := runtime.Info{Endpoint: uri, Local: true, Mode: idmap.PodmanRootless, Facts: idmap.Engine{Kind: idmap.KindPodman, Rootless: true, Version: "4.3.1"}}
	if _, ok := loadInfo(uri, who); ok {
		t.Fatal("a cache hit before anything was stored")
	}
	storeInfo(uri, who, info)
	got, ok := loadInfo(uri, who)
	if diff := cmp.Diff(info, got); !ok || diff != "" {
		t.Fatalf("loadInfo hit=%v (-want +got):\n%s", ok, diff)
	}
	// Another listener (a restarted daemon) must be asked again.
	if _, ok := loadInfo(uri, "1234/dockerd/99"); ok {
		t.Error("cache hit for a different listener")
	}
	// Nothing is cached for an unidentified listener or a TCP endpoint.
	if listener(context.Background(), Candidate{URI: "tcp://127.0.0.1:1"}) != "" {
		t.Error("a TCP endpoint has a listener identity")
	}
	if _, ok := loadInfo(uri, ""); ok {
		t.Error("cache hit without a listener identity")
	}
}
