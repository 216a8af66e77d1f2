package podman

import (
	"archive/tar"
	"bytes"
	"errors"
	"testing"

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
