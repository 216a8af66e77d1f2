package hostpath

import (
	"os"
	"path/filepath"
	"testing"
)

// tree makes a project below a temporary directory: out is a sibling the
// project must not reach, locked a directory hpr cannot search.
func tree(t *testing.T) (root Root, top string) {
	t.Helper()
	top = t.TempDir()
	proj := filepath.Join(top, "proj")
	for _, d := range []string{"proj/d/sub", "proj/e", "out/dir", "locked"} {
		if err := os.MkdirAll(filepath.Join(top, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"out/secret", "proj/d/file", "locked/secret"} {
		if err := os.WriteFile(filepath.Join(top, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"proj/in":       "d/sub",
		"proj/e/up":     "../d",
		"proj/out":      "../out",
		"proj/abs":      filepath.Join(top, "out"),
		"proj/absin":    filepath.Join(proj, "d"),
		"proj/root":     "/",
		"proj/procroot": "/proc/self/root",
		"proj/dangling": "../nowhere",
		"proj/locked":   "../locked",
		"proj/loop":     "loop",
		"proj/d/back":   "../../out/dir",
	}
	for l, target := range links {
		if err := os.Symlink(target, filepath.Join(top, l)); err != nil {
			t.Fatal(err)
		}
	}
	// Another user's directory cannot be searched; as root, chmod does
	// not stop root, so this case is exercised only as a user.
	if err := os.Chmod(filepath.Join(top, "locked"), 0o000); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(filepath.Join(top, "locked"), 0o755) })
	r, err := NewRoot(proj)
	if err != nil {
		t.Fatal(err)
	}
	return r, top
}

func TestResolve(t *testing.T) {
	r, top := tree(t)
	proj := r.Real
	cases := []struct {
		name, path string
		want       Verdict
		at         string // want Result.Path
	}{
		{"root", proj, Inside, proj},
		{"dir", proj + "/d/sub", Inside, proj + "/d/sub"},
		{"file", proj + "/d/file", Inside, proj + "/d/file"},
		{"link inside", proj + "/in", Inside, proj + "/d/sub"},
		{"link inside, then up", proj + "/e/up/sub", Inside, proj + "/d/sub"},
		{"missing inside", proj + "/d/new/deeper", Missing, proj + "/d/new/deeper"},
		{"missing below a link inside", proj + "/in/new", Missing, proj + "/d/sub/new"},
		{"dotdot out", proj + "/../out/secret", Outside, top + "/out/secret"},
		{"absolute outside", "/etc", Outside, "/etc"},
		{"relative link out", proj + "/out/secret", Outside, top + "/out/secret"},
		{"absolute link out", proj + "/abs/secret", Outside, top + "/out/secret"},
		{"absolute link back in", proj + "/absin/file", Outside, proj + "/d/file"},
		{"link to /", proj + "/root/etc", Outside, "/etc"},
		{"magic link", proj + "/procroot/etc", Outside, "/etc"},
		{"missing below a link out", proj + "/out/newdir", Outside, top + "/out/newdir"},
		{"dangling link out", proj + "/dangling", Outside, top + "/nowhere"},
		{"below a dangling link out", proj + "/dangling/x", Outside, top + "/nowhere/x"},
		{"link out deeper", proj + "/d/back/x", Outside, top + "/out/dir/x"},
		{"loop", proj + "/loop/x", Unresolvable, proj + "/loop/x"},
		{"not a directory", proj + "/d/file/x", Unresolvable, proj + "/d/file/x"},
	}
	if os.Geteuid() != 0 {
		cases = append(cases, struct {
			name, path string
			want       Verdict
			at         string
		}{"link to a directory hpr cannot search", proj + "/locked/secret", Outside, top + "/locked/secret"})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := r.Resolve(c.path)
			if got.Verdict != c.want || got.Path != c.at {
				t.Errorf("Resolve(%s) = %v %s (%v), want %v %s", c.path, got.Verdict, got.Path, got.Err, c.want, c.at)
			}
		})
	}
}

// TestResolveGivenRoot: a root reached through the user's own symlink
// resolves paths written below either spelling.
func TestResolveGivenRoot(t *testing.T) {
	r, top := tree(t)
	alias := filepath.Join(top, "alias")
	if err := os.Symlink("proj", alias); err != nil {
		t.Fatal(err)
	}
	ar, err := NewRoot(alias)
	if err != nil {
		t.Fatal(err)
	}
	if got := ar.Resolve(alias + "/in"); got.Verdict != Inside || got.Path != r.Real+"/d/sub" {
		t.Errorf("Resolve through the alias = %v %s, want inside %s/d/sub", got.Verdict, got.Path, r.Real)
	}
}

func TestMkdirAll(t *testing.T) {
	r, top := tree(t)
	cases := []struct {
		name, path string
		want       Verdict
		at         string
	}{
		{"new below the root", r.Real + "/n/m", Inside, r.Real + "/n/m"},
		{"new below a link inside", r.Real + "/in/k", Inside, r.Real + "/d/sub/k"},
		{"below a link out", r.Real + "/out/made", Outside, top + "/out/made"},
		{"below a dangling link out", r.Real + "/dangling/x", Outside, top + "/nowhere/x"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := r.MkdirAll(c.path, 0o755)
			if got.Verdict != c.want || got.Path != c.at {
				t.Errorf("MkdirAll(%s) = %v %s (%v), want %v %s", c.path, got.Verdict, got.Path, got.Err, c.want, c.at)
			}
		})
	}
	for _, p := range []string{top + "/out/made", top + "/nowhere"} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s was created outside the project", p)
		}
	}
}
