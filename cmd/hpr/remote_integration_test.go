//go:build integration

package main_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/internal/testenv"
	"github.com/hostpersist/hpr/runtime/sshconn"
)

// asLocal runs script in the login shell of the harness's second local
// user (another uid, no engines of its own), logged in with the test
// user's key, and returns how it ended.
func asLocal(t *testing.T, s testenv.SSH, script string) testenv.Ran {
	t.Helper()
	cmd := exec.Command("ssh", "-o", "BatchMode=yes", "-i", s.TestKey, "-p", s.Port, "-l", s.LocalUser, "--", s.Host, script)
	out, err := cmd.Output()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return testenv.Ran{Code: ee.ExitCode(), Stdout: string(out), Stderr: string(ee.Stderr)}
	case err != nil:
		t.Fatalf("ssh as %s: %v", s.LocalUser, err)
	}
	return testenv.Ran{Stdout: string(out)}
}

// localProject makes a project directory of the local user's, removed when
// the test ends, and returns its path.
func localProject(t *testing.T, s testenv.SSH) string {
	t.Helper()
	r := asLocal(t, s, "mktemp -d")
	dir := strings.TrimSpace(r.Stdout)
	if r.Code != 0 || !filepath.IsAbs(dir) {
		t.Fatalf("mktemp -d as %s: exit %d, %q %q", s.LocalUser, r.Code, r.Stdout, r.Stderr)
	}
	t.Cleanup(func() { asLocal(t, s, "rm -rf "+sshconn.Quote(dir)) })
	return dir
}

// writeAsLocal writes content to path as the local user.
func writeAsLocal(t *testing.T, s testenv.SSH, path, content string) {
	t.Helper()
	if r := asLocal(t, s, "mkdir -p "+sshconn.Quote(filepath.Dir(path))+" && printf '%s' "+sshconn.Quote(content)+" > "+sshconn.Quote(path)); r.Code != 0 {
		t.Fatalf("writing %s as %s: %q", path, s.LocalUser, r.Stderr)
	}
}

// hprAsLocal runs hpr as the local user in dir, stdin closed.
func hprAsLocal(t *testing.T, s testenv.SSH, dir string, args ...string) testenv.Ran {
	t.Helper()
	words := []string{"cd", sshconn.Quote(dir), "&&", sshconn.Quote(testenv.Bin(t))}
	for _, a := range args {
		words = append(words, sshconn.Quote(a))
	}
	return asLocal(t, s, strings.Join(words, " ")+" </dev/null")
}

// sshEngines are the harness's engines as ssh:// URIs: rootful Docker (the
// remote docker CLI's default socket) and rootless Podman (its socket).
func sshEngines(t *testing.T, s testenv.SSH) map[idmap.Mode]string {
	t.Helper()
	rootless := testenv.Need(t, idmap.PodmanRootless).Endpoint
	testenv.Need(t, idmap.DockerRootful)
	return map[idmap.Mode]string{
		idmap.DockerRootful:  s.URI(""),
		idmap.PodmanRootless: s.URI(strings.TrimPrefix(rootless, "unix://")),
	}
}

// ownedByMe fails the test unless every path is owned by this process's
// user — the remote user, seen on the remote side.
func ownedByMe(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if int(st.Uid) != os.Getuid() || int(st.Gid) != os.Getgid() {
			t.Errorf("%s is owned by %d:%d, want the remote user %d:%d", p, st.Uid, st.Gid, os.Getuid(), os.Getgid())
		}
	}
}

// TestRemoteRun: the second local user runs hpr on the test user's rootful
// Docker and rootless Podman over ssh, with --remote-root a directory of
// the test user's that is not the local project (and that the local user
// cannot even read). What the container writes lands there, owned by the
// test user as the remote side sees it; the working directory below the
// project root (sub) maps to the same place below the remote root; the
// local project is untouched.
func TestRemoteRun(t *testing.T) {
	testenv.NonRoot(t)
	s := testenv.SSHHarness(t)
	for mode, uri := range sshEngines(t, s) {
		t.Run(string(mode), func(t *testing.T) {
			remote := t.TempDir() // the test user's, mode 0700
			if err := os.Mkdir(filepath.Join(remote, "sub"), 0o755); err != nil {
				t.Fatal(err)
			}
			local := localProject(t, s)
			writeAsLocal(t, s, local+"/hpr.toml", fmt.Sprintf("[image]\nref = %q\n", base))
			writeAsLocal(t, s, local+"/sub/.keep", "")
			r := hprAsLocal(t, s, local+"/sub", "run", "--engine", uri, "--remote-root", remote, "--",
				"sh", "-c", "pwd; id -un; touch f; mkdir -p d/e; echo x > d/e/g; touch /app/top")
			if r.Code != 0 {
				t.Fatalf("hpr run as %s over ssh: exit %d, stderr %q", s.LocalUser, r.Code, r.Stderr)
			}
			if lines := strings.Fields(r.Stdout); len(lines) != 2 || lines[0] != "/app/sub" || lines[1] != s.User {
				t.Errorf("working directory and user %q, want /app/sub and %s (the remote root's owner)", r.Stdout, s.User)
			}
			sub := filepath.Join(remote, "sub")
			ownedByMe(t, filepath.Join(sub, "f"), filepath.Join(sub, "d"), filepath.Join(sub, "d", "e"), filepath.Join(sub, "d", "e", "g"), filepath.Join(remote, "top"))
			if ls := asLocal(t, s, "cd "+sshconn.Quote(local)+" && find . -mindepth 1 | sort"); ls.Stdout != "./hpr.toml\n./sub\n./sub/.keep\n" {
				t.Errorf("the local project changed: %q", ls.Stdout)
			}
		})
	}
}

// TestRemoteRootFromProjectFile: hpr.toml's [engine] remote_root is used
// when the directory there holds the same hpr.toml (a copy of the
// project), and refused, naming the file and line, when it does not: a
// project file cannot make hpr mount another directory of the engine's
// host.
func TestRemoteRootFromProjectFile(t *testing.T) {
	testenv.NonRoot(t)
	s := testenv.SSHHarness(t)
	uri := sshEngines(t, s)[idmap.DockerRootful]
	remote := t.TempDir()
	local := localProject(t, s)
	toml := fmt.Sprintf("[engine]\nremote_root = %q\n\n[image]\nref = %q\n", remote, base)
	writeAsLocal(t, s, local+"/hpr.toml", toml)
	write := func(content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(remote, "hpr.toml"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(toml)
	if r := hprAsLocal(t, s, local, "run", "--engine", uri, "--", "touch", "made-here"); r.Code != 0 {
		t.Fatalf("hpr run with remote_root: exit %d, stderr %q", r.Code, r.Stderr)
	}
	ownedByMe(t, filepath.Join(remote, "made-here"))

	write(toml + "# changed there\n")
	r := hprAsLocal(t, s, local, "run", "--engine", uri, "--", "touch", "not-made")
	msg := strings.TrimSpace(r.Stderr)
	if r.Code != 125 || strings.Contains(msg, "\n") || !strings.Contains(msg, "hpr.toml:2:") || !strings.Contains(msg, "not a copy of this project") {
		t.Errorf("exit %d, stderr %q; want 125 and one line naming hpr.toml:2 and saying the directory is not a copy of the project", r.Code, r.Stderr)
	}
	if _, err := os.Stat(filepath.Join(remote, "not-made")); err == nil {
		t.Error("the command ran in a directory that is not a copy of the project")
	}
}

// TestRemoteRunNeedsRemoteRoot: a remote run without a remote root is
// refused in one line that says hpr copies no files and how to name one.
func TestRemoteRunNeedsRemoteRoot(t *testing.T) {
	testenv.NonRoot(t)
	s := testenv.SSHHarness(t)
	for mode, uri := range sshEngines(t, s) {
		t.Run(string(mode), func(t *testing.T) {
			r := hprAsLocal(t, s, localProject(t, s), "run", "--engine", uri, "--image", base, "--", "true")
			msg := strings.TrimSpace(r.Stderr)
			if r.Code != 125 || strings.Contains(msg, "\n") || !strings.Contains(msg, "does not copy files") || !strings.Contains(msg, "--remote-root") {
				t.Errorf("exit %d, stderr %q; want 125 and one line saying hpr copies no files and naming --remote-root", r.Code, r.Stderr)
			}
		})
	}
}

// TestRemoteConformance: hpr conformance, run by the second local user on
// the test user's engines over ssh, passes, having judged the files from
// the remote side as the test user's (not the local user's).
func TestRemoteConformance(t *testing.T) {
	testenv.NonRoot(t)
	s := testenv.SSHHarness(t)
	engines := sshEngines(t, s)
	r := hprAsLocal(t, s, localProject(t, s), "conformance", "--json",
		"--engine", engines[idmap.DockerRootful], "--engine", engines[idmap.PodmanRootless])
	rep := decodeReport(t, r.Stdout)
	if r.Code != 0 || !rep.Pass || len(rep.Engines) != 2 {
		t.Errorf("exit %d, pass %v, %d engines; want 0, true, 2:\n%s", r.Code, rep.Pass, len(rep.Engines), r.Stdout)
	}
	me := fmt.Sprintf("(%d:%d)", os.Getuid(), os.Getgid())
	for _, e := range rep.Engines {
		for _, c := range e.Checks {
			if c.ID == "walk" && (!c.Pass || !strings.Contains(c.Detail, me)) {
				t.Errorf("%s: walk %v %q; want every path owned by the remote user %s", e.Endpoint, c.Pass, c.Detail, me)
			}
		}
	}
}

// TestRemoteUnreachable: an ssh engine that refuses, or that accepts and
// never answers, fails hpr run with hpr's exit status and one line naming
// the host and why, on its own (ssh's connect timeout and hpr's bound on
// an ssh ping), for the local user as for anyone.
func TestRemoteUnreachable(t *testing.T) {
	testenv.NonRoot(t)
	s := testenv.SSHHarness(t)
	for _, tc := range []struct{ name, uri, why string }{
		{"refused", "ssh://nobody@127.0.0.1:1", "refused"},
		{"silent", "ssh://nobody@" + testenv.Silent(t), "timed out"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := hprAsLocal(t, s, localProject(t, s), "run", "--engine", tc.uri, "--remote-root", "/tmp", "--image", base, "--", "true")
			msg := strings.TrimSpace(r.Stderr)
			if r.Code != 125 || strings.Contains(msg, "\n") || !strings.Contains(msg, "127.0.0.1") || !strings.Contains(msg, tc.why) {
				t.Errorf("exit %d, stderr %q; want 125 and one line naming 127.0.0.1 and %q", r.Code, r.Stderr, tc.why)
			}
		})
	}
}

// TestRemoteRootOnLocalEngine: --remote-root with an engine on this
// machine is refused (the user meant a remote engine; this one would mount
// the local directory), and nothing runs.
func TestRemoteRootOnLocalEngine(t *testing.T) {
	testenv.NonRoot(t)
	e := testenv.Need(t, idmap.DockerRootful)
	dir := t.TempDir()
	code, _, errOut := hpr(t, dir, nil, "run", "--engine", e.Endpoint, "--remote-root", "/srv/app", "--image", base, "--", "touch", "ran")
	msg := strings.TrimSpace(errOut)
	if code != 125 || strings.Contains(msg, "\n") || !strings.Contains(msg, "is on this machine") {
		t.Errorf("exit %d, stderr %q; want 125 and one line saying the engine is on this machine", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "ran")); err == nil {
		t.Error("the command ran on the local engine")
	}
}
