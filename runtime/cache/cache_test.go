package cache

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestWriteReadModes(t *testing.T) {
	d := At(filepath.Join(t.TempDir(), "hpr"))
	d.Write(Builds, "abc", []byte("one"))
	d.Write(Builds, "abc", []byte("two"))
	got, ok := d.Read(Builds, "abc")
	if !ok || string(got) != "two" {
		t.Fatalf("Read = %q, %v; want two", got, ok)
	}
	fi, err := os.Stat(d.Path(Builds, "abc"))
	if err != nil {
		t.Fatal(err)
	}
	if m := fi.Mode().Perm(); m != 0o600 {
		t.Errorf("record mode %o, want 600", m)
	}
	di, err := os.Stat(filepath.Dir(d.Path(Builds, "abc")))
	if err != nil {
		t.Fatal(err)
	}
	if m := di.Mode().Perm(); m != 0o700 {
		t.Errorf("directory mode %o, want 700", m)
	}
	if keys := d.Keys(Builds); len(keys) != 1 || keys[0] != "abc" {
		t.Errorf("Keys = %q, want [abc]", keys)
	}
	d.Remove(Builds, "abc")
	if _, ok := d.Read(Builds, "abc"); ok {
		t.Error("record still there after Remove")
	}
}

func TestKeySafe(t *testing.T) {
	d := At("/c")
	if got, want := d.Path(Images, "sha256:ab/cd"), "/c/images/sha256-ab-cd.json"; got != want {
		t.Errorf("Path = %s, want %s", got, want)
	}
	if len(Key("/some/project")) != 16 {
		t.Errorf("Key length %d, want 16", len(Key("/some/project")))
	}
}

func TestPublish(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	d := At(filepath.Join(t.TempDir(), "hpr"))
	p1, err := d.Publish(Identity, "passwd", []byte("root:x:0:0::/root:/bin/sh\n"))
	if err != nil {
		t.Fatal(err)
	}
	p2, err := d.Publish(Identity, "passwd", []byte("root:x:0:0::/root:/bin/sh\n"))
	if err != nil || p2 != p1 {
		t.Fatalf("same content published as %s (%v), want %s", p2, err, p1)
	}
	p3, _ := d.Publish(Identity, "passwd", []byte("other\n"))
	if p3 == p1 {
		t.Fatal("other content published under the same name")
	}
	fi, err := os.Stat(p1)
	if err != nil {
		t.Fatal(err)
	}
	if m := fi.Mode().Perm(); m != 0o644 {
		t.Errorf("published mode %o under umask 077, want 644", m)
	}
}

func TestZeroDir(t *testing.T) {
	var d Dir
	d.Write(Names, "x", []byte("y"))
	if _, ok := d.Read(Names, "x"); ok {
		t.Error("zero Dir read back a record")
	}
	if _, err := d.Publish(Identity, "passwd", nil); err == nil {
		t.Error("zero Dir published a file")
	}
}
