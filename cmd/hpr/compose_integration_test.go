//go:build integration

package main_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hostpersist/hpr/internal/testenv"
	"github.com/hostpersist/hpr/runtime"
	"github.com/hostpersist/hpr/runtime/detect"
)

// withoutIDs is the test's environment without UID and GID, as bash leaves
// them: what the seed's ${UID}/${GID} became there is hpr's doing.
func withoutIDs() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "UID=") && !strings.HasPrefix(kv, "GID=") {
			env = append(env, kv)
		}
	}
	return env
}

// startIn starts the hpr binary in dir with env as a proc: killed when
// the test ends, its output shown when the test failed.
func startIn(t *testing.T, dir string, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(testenv.Bin(t), args...)
	cmd.Dir, cmd.Env = dir, env
	var out testenv.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	p := watch(t, cmd, &out)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("hpr %q output:\n%s", args, out.String())
		}
	})
	return p
}

// leftNetworks lists the networks of project dir on the engine.
func leftNetworks(t *testing.T, endpoint, dir string) []runtime.Network {
	t.Helper()
	e, err := detect.Open(context.Background(), endpoint, "")
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	ns, err := e.Networks(context.Background(), map[string]string{runtime.LabelProject: real})
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

// nothingLeft fails when a container or network of project dir remains.
func nothingLeft(t *testing.T, endpoint, dir, after string) {
	t.Helper()
	if left := leftContainers(t, endpoint, dir); len(left) > 0 {
		t.Errorf("containers left after %s: %+v", after, left)
	}
	if left := leftNetworks(t, endpoint, dir); len(left) > 0 {
		t.Errorf("networks left after %s: %+v", after, left)
	}
}

// TestComposeBlog is the seed's project on every engine, in an environment
// without UID and GID: hpr run in examples/compose-blog serves the site on
// port 5000, regenerates it when a post is added on the host, writes
// _site/ and .jekyll-cache/ as the test user, and ends on SIGINT with
// jekyll's own status 0 and no container left; the same with a .env that
// says UID=1000. The engines build at once; they serve one after another,
// as they share port 5000.
func TestComposeBlog(t *testing.T) {
	testenv.NonRoot(t)
	src := filepath.Join(testenv.Src(t), "examples", "compose-blog")
	engines := testenv.Engines(t)
	t.Run("build", func(t *testing.T) {
		for _, te := range engines {
			t.Run(string(te.Mode), func(t *testing.T) {
				t.Parallel()
				dir := copyTree(t, src)
				// The first build installs Debian's jekyll: minutes.
				p := startIn(t, dir, withoutIDs(), "build", "--engine", te.Endpoint)
				if code := p.end(t, 15*time.Minute, "starting the build"); code != 0 {
					t.Fatalf("hpr build: exit %d\n%s", code, p.out.String())
				}
			})
		}
	})
	for _, te := range engines {
		for _, dotenv := range []string{"", "UID=1000\nGID=1000\n"} {
			name := string(te.Mode)
			if dotenv != "" {
				name += "/dotenv-uid-1000"
			}
			t.Run(name, func(t *testing.T) { composeBlog(t, te, src, dotenv) })
		}
	}
}

func composeBlog(t *testing.T, te testenv.Engine, src, dotenv string) {
	dir := copyTree(t, src)
	if dotenv != "" {
		write(t, filepath.Join(dir, ".env"), dotenv)
	}
	p := startIn(t, dir, withoutIDs(), "run", "--engine", te.Endpoint)
	const url = "http://127.0.0.1:5000/"
	if _, err := waitBody(url, "Welcome", 3*time.Minute, p.done); err != nil {
		t.Fatalf("site not served: %v", err)
	}
	write(t, filepath.Join(dir, "_posts", "2026-11-02-from-the-host.md"), "---\nlayout: default\ntitle: Added on the host\n---\nhello\n")
	added := time.Now()
	if _, err := waitBody(url, "Added on the host", 10*time.Second, p.done); err != nil {
		t.Errorf("a post added on the host did not appear within 10 s: %v", err)
	} else {
		t.Logf("new post served %v after it was written", time.Since(added).Round(time.Millisecond))
	}
	p.signal(t, os.Interrupt)
	if code := p.end(t, 20*time.Second, "SIGINT"); code != 0 {
		t.Errorf("exit %d after SIGINT, want jekyll's own 0", code)
	}
	for _, d := range []string{"_site", ".jekyll-cache"} {
		if _, err := os.Stat(filepath.Join(dir, d)); err != nil {
			t.Errorf("%s: %v (jekyll wrote nothing?)", d, err)
			continue
		}
		if n := assertOwnedByMe(t, filepath.Join(dir, d)); n < 2 {
			t.Errorf("%s has %d entries, want what jekyll generates", d, n)
		}
	}
	if dotenv != "" && !strings.Contains(p.out.String(), "not UID=1000 from "+filepath.Join(dir, ".env")) {
		t.Errorf("no word that hpr overrode .env's UID=1000 in:\n%s", p.out.String())
	}
	nothingLeft(t, te.Endpoint, dir, "SIGINT")
}

// TestComposeCompanion is the two-service example on every engine: the dev
// service reaches its companion by the service name, once, only after the
// companion's healthcheck passed (the companion listens 2 s after it
// starts); the companion's output comes prefixed with its name; and no
// container or network of the project remains after a normal exit, after
// SIGINT, SIGTERM and SIGHUP, and after SIGKILL of hpr followed by hpr gc.
func TestComposeCompanion(t *testing.T) {
	testenv.NonRoot(t)
	src := filepath.Join(testenv.Src(t), "examples", "compose-api")
	testenv.Each(t, func(t *testing.T, te testenv.Engine) {
		t.Run("exit", func(t *testing.T) {
			dir := copyTree(t, src)
			p := startIn(t, dir, withoutIDs(), "run", "--engine", te.Endpoint)
			// The first run builds api: minutes.
			if code := p.end(t, 10*time.Minute, "starting the run"); code != 0 {
				t.Fatalf("exit %d", code)
			}
			got, err := os.ReadFile(filepath.Join(dir, "from-api.txt"))
			if err != nil || strings.TrimSpace(string(got)) != "hello from api" {
				t.Errorf("from-api.txt = %q, %v; want the companion's answer", got, err)
			}
			assertOwnedByMe(t, filepath.Join(dir, "from-api.txt"))
			if !strings.Contains(p.out.String(), "api | api listening on 8080") {
				t.Errorf("no prefixed companion output in:\n%s", p.out.String())
			}
			nothingLeft(t, te.Endpoint, dir, "a normal exit")
		})
		for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
			name := map[syscall.Signal]string{syscall.SIGINT: "SIGINT", syscall.SIGTERM: "SIGTERM", syscall.SIGHUP: "SIGHUP"}[sig]
			t.Run(name, func(t *testing.T) {
				dir := copyTree(t, src)
				// perl, not a shell, as the container's main process: its
				// handlers end it with 0 on each signal whatever it is
				// waiting for.
				p := startIn(t, dir, withoutIDs(), "run", "--engine", te.Endpoint, "--",
					"perl", "-e", `$SIG{INT} = $SIG{TERM} = $SIG{HUP} = sub { exit 0 }; system("bash fetch.sh >/dev/null") == 0 or exit 9; open my $f, ">", "started" or exit 8; close $f; sleep 1 while 1`)
				// The first run builds api: minutes.
				p.waitFile(t, "the dev container to have reached api", 5*time.Minute, filepath.Join(dir, "started"))
				p.signal(t, sig)
				if code := p.end(t, 30*time.Second, name); code != 0 {
					t.Errorf("exit %d after %s, want the handler's 0", code, name)
				}
				nothingLeft(t, te.Endpoint, dir, name)
			})
		}
		t.Run("SIGKILL+gc", func(t *testing.T) {
			dir := copyTree(t, src)
			p := startIn(t, dir, withoutIDs(), "run", "--engine", te.Endpoint, "--", "sh", "-c", "touch started; sleep 300")
			p.waitFile(t, "the dev container to run", 5*time.Minute, filepath.Join(dir, "started"))
			p.signal(t, syscall.SIGKILL)
			p.end(t, 10*time.Second, "SIGKILL")
			if left := leftNetworks(t, te.Endpoint, dir); len(left) != 1 {
				t.Errorf("networks after SIGKILL: %+v, want the run's one (nothing removed it)", left)
			}
			if code, _, errOut := hpr(t, dir, nil, "gc", "--engine", te.Endpoint); code != 0 {
				t.Errorf("hpr gc: exit %d: %s", code, errOut)
			}
			nothingLeft(t, te.Endpoint, dir, "SIGKILL and hpr gc")
		})
	})
}
