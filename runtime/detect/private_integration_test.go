//go:build integration

package detect

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/internal/testenv"
	"github.com/hostpersist/hpr/runtime"
)

// helperEnv, when set, makes the test binary a stand-in for an hpr that
// uses the private service of the runtime directory it names and is then
// killed: it opens the service, prints "ready", and waits.
const helperEnv = "HPR_TEST_PRIVATE_SERVICE_USER"

func TestMain(m *testing.M) {
	if xdg := os.Getenv(helperEnv); xdg != "" {
		e, err := Pick(context.Background(), privateOptions(xdg))
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("ready", e.About.Endpoint)
		select {} // until killed
	}
	os.Exit(m.Run())
}

// privateOptions make Pick find nothing but the private service of the
// runtime directory xdg.
func privateOptions(xdg string) Options {
	return Options{
		Engine:  "podman",
		Sockets: []Candidate{{URI: "unix://" + filepath.Join(xdg, "none.sock"), Kind: idmap.KindPodman}},
		Getenv: func(k string) string {
			if k == "XDG_RUNTIME_DIR" {
				return xdg
			}
			return os.Getenv(k)
		},
	}
}

// servicePid is the pid the private service's pid file names.
func servicePid(t *testing.T, xdg string) int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(xdg, "hpr", "podman.pid"))
	if err != nil {
		t.Fatalf("no pid file for the private service: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// assertStopped fails unless the private service of xdg, pid, is gone.
func assertStopped(t *testing.T, xdg string, pid int) {
	t.Helper()
	uri := "unix://" + filepath.Join(xdg, "hpr", "podman.sock")
	if serviceGroup(pid, uri) {
		t.Errorf("the private service (pid %d) still runs", pid)
	}
	if _, err := runtime.Ping(context.Background(), uri); err == nil {
		t.Errorf("the private service still answers on %s", uri)
	}
}

// TestPrivateServiceShared: two hprs of one user share one private service;
// it outlives the first to close and is stopped by the last.
func TestPrivateServiceShared(t *testing.T) {
	testenv.NonRoot(t)
	testenv.Engines(t)
	xdg := t.TempDir()
	ctx := context.Background()
	a, err := Pick(ctx, privateOptions(xdg))
	if err != nil {
		t.Fatalf("no private service: %v", err)
	}
	pid := servicePid(t, xdg)
	b, err := Pick(ctx, privateOptions(xdg))
	if err != nil {
		a.Close()
		t.Fatalf("the second user: %v", err)
	}
	if b.About.Endpoint != a.About.Endpoint || servicePid(t, xdg) != pid {
		t.Errorf("two services for one user: %s (pid %d) and %s (pid %d)", a.About.Endpoint, pid, b.About.Endpoint, servicePid(t, xdg))
	}
	a.Close()
	if _, err := runtime.Ping(ctx, b.About.Endpoint); err != nil || !serviceGroup(pid, b.About.Endpoint) {
		t.Errorf("the service stopped while the second user still had it: %v", err)
	}
	b.Close()
	assertStopped(t, xdg, pid)
}

// TestPrivateServiceAfterKill: a SIGKILLed hpr leaves its private service
// running; the next hpr reuses that service, not a second one, and stops
// it when it is done.
func TestPrivateServiceAfterKill(t *testing.T) {
	testenv.NonRoot(t)
	testenv.Engines(t)
	xdg := t.TempDir()
	helper := exec.Command(os.Args[0], "-test.run=^$")
	helper.Env = append(os.Environ(), helperEnv+"="+xdg)
	out, err := helper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "ready ") {
		helper.Process.Kill()
		helper.Wait()
		t.Fatalf("the killed hpr's stand-in did not get the service: %q, %v", line, err)
	}
	pid := servicePid(t, xdg)
	helper.Process.Kill()
	helper.Wait()
	if !serviceGroup(pid, strings.TrimSpace(strings.TrimPrefix(line, "ready "))) {
		t.Fatalf("the service (pid %d) did not outlive its SIGKILLed user: the test proves nothing", pid)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e, err := Pick(ctx, privateOptions(xdg))
	if err != nil {
		syscall.Kill(pid, syscall.SIGKILL)
		t.Fatalf("after the kill: %v", err)
	}
	if got := servicePid(t, xdg); got != pid {
		t.Errorf("the next hpr started service %d instead of reusing %d", got, pid)
	}
	e.Close()
	assertStopped(t, xdg, pid)
}
