package doctor

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hostpersist/hpr/internal/testenv"
)

func mkfile(t *testing.T, p string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("x"), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

// TestScanDir scans a tree of the test user's files as if the host user were
// someone else, so every path is "not yours" without needing root.
func TestScanDir(t *testing.T) {
	outside := t.TempDir()
	root := t.TempDir()
	mkfile(t, filepath.Join(root, "a", "b"), 0o644)
	mkfile(t, filepath.Join(root, "new\nline"), 0o644)
	mkfile(t, filepath.Join(outside, "elsewhere"), 0o644)
	if err := os.Link(filepath.Join(root, "a", "b"), filepath.Join(root, "b-again")); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(outside, "elsewhere"), filepath.Join(root, "shared")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	uid, gid := testenv.Owner(t, root)

	s, err := ScanDir(root, uid+1)
	if err != nil {
		t.Fatal(err)
	}
	var got []File
	for _, f := range s.Files {
		got = append(got, f)
	}
	slices.SortFunc(got, func(a, b File) int {
		if a.Path < b.Path {
			return -1
		}
		return 1
	})
	want := []File{
		{Path: ".", UID: uid, GID: gid, Dir: true},
		{Path: "a", UID: uid, GID: gid, Dir: true},
		{Path: "a/b", UID: uid, GID: gid},
		{Path: "b-again", UID: uid, GID: gid},
		{Path: "link", UID: uid, GID: gid},
		{Path: "new\nline", UID: uid, GID: gid},
		{Path: "shared", UID: uid, GID: gid, SharedLinks: true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ScanDir() mismatch (-want +got):\n%s", diff)
	}
	if s.Seen != 7 || len(s.Problems) != 0 {
		t.Errorf("ScanDir() saw %d paths with problems %q; want 7 and none", s.Seen, s.Problems)
	}

	mine, err := ScanDir(root, uid)
	if err != nil {
		t.Fatal(err)
	}
	if len(mine.Files) != 0 {
		t.Errorf("ScanDir() as the owner = %+v, want nothing", mine.Files)
	}
}

func TestScanDirUnreadable(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads every directory; make test runs this again as the non-root test user")
	}
	root := t.TempDir()
	mkfile(t, filepath.Join(root, "closed", "f"), 0o644)
	if err := os.Chmod(filepath.Join(root, "closed"), 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(filepath.Join(root, "closed"), 0o755) })
	uid, _ := testenv.Owner(t, root)

	s, err := ScanDir(root, uid)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Files) != 0 || len(s.Problems) != 1 {
		t.Errorf("ScanDir() of your own closed directory: files %+v, problems %q; want one problem", s.Files, s.Problems)
	}
	s, err = ScanDir(root, uid+1)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(s.Files, func(f File) bool { return f.Path == "closed" })
	if i < 0 || !s.Files[i].Unreadable || len(s.Problems) != 0 {
		t.Errorf("ScanDir() of another's closed directory: files %+v, problems %q; want closed unreadable", s.Files, s.Problems)
	}
}

// TestInside runs the fixing container's side on the host. As root it
// changes owners for real; as anyone else it checks what is left alone.
func TestInside(t *testing.T) {
	root := t.TempDir()
	mkfile(t, filepath.Join(root, "d", "setuid"), 0o755|fs.ModeSetuid)
	mkfile(t, filepath.Join(root, "d", "plain"), 0o600)
	mkfile(t, filepath.Join(root, "mine"), 0o640)
	if err := os.Symlink("/etc/passwd", filepath.Join(root, "d", "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc", filepath.Join(root, "escape")); err != nil {
		t.Fatal(err)
	}
	old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(root, "mine"), old, old); err != nil {
		t.Fatal(err)
	}
	me, myGID := testenv.Owner(t, root)
	passwdUID, _ := testenv.Owner(t, "/etc/passwd")

	// "mine" is the target's already; "gone" does not exist; "escape/passwd"
	// leads out of the root.
	list := EncodeList([]File{{Path: "mine"}, {Path: "gone"}, {Path: "escape/passwd"}})
	r, err := Inside(root, list, me, myGID)
	if err != nil {
		t.Fatal(err)
	}
	if r.Kept != 1 || r.Gone != 1 || r.Fixed != 0 || len(r.Failed) != 1 || r.Failed[0].Path != "escape/passwd" {
		t.Errorf("Inside() = %+v; want mine kept, gone gone, escape/passwd failed", r)
	}
	if fi, err := os.Lstat(filepath.Join(root, "mine")); err != nil || !fi.ModTime().Equal(old) || fi.Mode() != 0o640 {
		t.Errorf("mine changed: %v, %v", fi.ModTime(), fi.Mode())
	}
	if _, err := json.Marshal(r); err != nil {
		t.Fatal(err)
	}

	if os.Geteuid() != 0 {
		return
	}
	const uid, gid = 4242, 4343
	list = EncodeList([]File{{Path: "mine"}, {Path: "d", Dir: true, Unreadable: true}})
	r, err = Inside(root, list, uid, gid)
	if err != nil {
		t.Fatal(err)
	}
	if r.Fixed != 5 || len(r.Failed) != 0 {
		t.Errorf("Inside() = %+v; want 5 fixed", r)
	}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root || d.Name() == "escape" {
			return err
		}
		if u, g := testenv.Owner(t, p); u != uid || g != gid {
			t.Errorf("%s owned by %d:%d, want %d:%d", p, u, g, uid, gid)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Lstat(filepath.Join(root, "d", "setuid")); fi.Mode() != 0o755|fs.ModeSetuid {
		t.Errorf("d/setuid mode = %v, want the setuid bit kept", fi.Mode())
	}
	if u, _ := testenv.Owner(t, "/etc/passwd"); u != passwdUID {
		t.Errorf("/etc/passwd owner changed to %d: a symlink was followed", u)
	}
}
