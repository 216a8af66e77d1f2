package podman

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hostpersist/hpr/runtime"
)

// etcArchive is what the archive endpoint returns for /etc.
func etcArchive(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(h *tar.Header, body string) {
		h.Size = int64(len(body))
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	add(&tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755}, "")
	add(&tar.Header{Name: "etc/passwd", Typeflag: tar.TypeReg, Mode: 0o644}, "root:x:0:0::/root:/bin/sh\n")
	add(&tar.Header{Name: "etc/group", Typeflag: tar.TypeReg, Mode: 0o644}, "")
	add(&tar.Header{Name: "etc/mtab", Typeflag: tar.TypeSymlink, Linkname: "../proc/self/mounts"}, "")
	add(&tar.Header{Name: "etc/apt/sources.list", Typeflag: tar.TypeReg, Mode: 0o644}, "deb x")
	tw.Close()
	return buf.Bytes()
}

func TestUntarFile(t *testing.T) {
	b, err := untarFile(bytes.NewReader(etcArchive(t)), "etc/passwd")
	if err != nil || string(b) != "root:x:0:0::/root:/bin/sh\n" {
		t.Errorf("untarFile(passwd) = %q, %v", b, err)
	}
	if _, err := untarFile(bytes.NewReader(etcArchive(t)), "etc/shadow"); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("untarFile(shadow) error = %v, want ErrNotFound", err)
	}
	if _, err := untarFile(bytes.NewReader(etcArchive(t)), "etc/mtab"); err == nil || errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("untarFile(symlink) error = %v, want not a regular file", err)
	}
}

func TestEtcCache(t *testing.T) {
	files, err := etcFiles(bytes.NewReader(etcArchive(t)))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string][]byte{
		"passwd": []byte("root:x:0:0::/root:/bin/sh\n"), "group": {}, "mtab": nil,
	}, files); diff != "" {
		t.Errorf("etcFiles (-want +got):\n%s", diff)
	}
	var c etcCache
	if _, ok, _ := c.file("img", "passwd"); ok {
		t.Error("empty cache answered")
	}
	c.put("img", files)
	tests := []struct {
		name     string
		want     string
		ok       bool
		notFound bool
	}{
		{name: "passwd", want: "root:x:0:0::/root:/bin/sh\n", ok: true},
		{name: "group", want: "", ok: true},
		{name: "mtab"},                             // not a regular file: read it another way
		{name: "shadow", ok: true, notFound: true}, // known to be absent
	}
	for _, tt := range tests {
		b, ok, err := c.file("img", tt.name)
		if ok != tt.ok || string(b) != tt.want || errors.Is(err, runtime.ErrNotFound) != tt.notFound {
			t.Errorf("file(%s) = %q, %v, %v", tt.name, b, ok, err)
		}
	}
	for i := range maxEtcImages {
		c.put(fmt.Sprint(i), files)
	}
	if _, ok, _ := c.file("img", "passwd"); ok {
		t.Error("the oldest image was not evicted")
	}
	if _, ok, _ := c.file("0", "passwd"); !ok {
		t.Error("a recent image was evicted")
	}
}
