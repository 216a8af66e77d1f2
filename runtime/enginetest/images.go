package enginetest

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hostpersist/hpr/runtime"
)

// checkImportAndReadFiles: an imported image has the config changes asked
// for, and ReadImageFiles reads files from it and from the base image in
// one call each: an absent file is absent from the map, a directory is an
// error naming it, a missing image is ErrNotFound.
func checkImportAndReadFiles(t *testing.T, f *fixture) {
	ctx := context.Background()
	base, err := f.e.Image(ctx, BaseImage)
	if err != nil || base.ID == "" || len(base.Cmd) == 0 {
		t.Errorf("Image(%s) = %+v, %v; want an ID and a command", BaseImage, base, err)
	}
	files, err := f.e.ReadImageFiles(ctx, BaseImage, "/etc/passwd", "/nonexistent")
	if _, absent := files["/nonexistent"]; err != nil || !bytes.HasPrefix(files["/etc/passwd"], []byte("root:x:0:0:")) || absent || len(files) != 1 {
		t.Errorf("ReadImageFiles(%s, /etc/passwd, /nonexistent) = %q, %v; want just /etc/passwd", BaseImage, files, err)
	}
	if _, err := f.e.ReadImageFiles(ctx, BaseImage, "/etc/passwd", "/etc"); err == nil || !strings.Contains(err.Error(), "/etc ") || !strings.Contains(err.Error(), BaseImage) {
		t.Errorf("ReadImageFiles(/etc) = %v, want an error naming /etc and %s", err, BaseImage)
	}

	ref := unique("hpr-test-import") + ":1"
	body := "root:x:0:0:root:/root:/bin/sh\n"
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	tw.WriteHeader(&tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755})
	tw.WriteHeader(&tar.Header{Name: "etc/passwd", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))})
	tw.Write([]byte(body))
	tw.Close()
	if err := f.e.Import(ctx, runtime.ImportOptions{Ref: ref, Tar: &tb,
		Changes: []string{"ENV PATH=/usr/bin:/bin", `CMD ["/bin/true"]`, "USER 1000"}}); err != nil {
		t.Fatal(err)
	}
	img, err := f.e.Image(ctx, ref)
	if err != nil || img.User != "1000" || !cmp.Equal(img.Cmd, []string{"/bin/true"}) || !cmp.Equal(img.Env, []string{"PATH=/usr/bin:/bin"}) {
		t.Errorf("Image(imported) = %+v, %v; want USER 1000, CMD /bin/true, PATH=/usr/bin:/bin", img, err)
	}
	files, err = f.e.ReadImageFiles(ctx, ref, "/etc/passwd", "/etc/group")
	if diff := cmp.Diff(map[string][]byte{"/etc/passwd": []byte(body)}, files); err != nil || diff != "" {
		t.Errorf("ReadImageFiles(imported) = %v; (-want +got):\n%s", err, diff)
	}
	if err := f.e.RemoveImage(ctx, ref); err != nil {
		t.Error(err)
	}
	if err := f.e.RemoveImage(ctx, ref); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("second RemoveImage() = %v, want ErrNotFound", err)
	}
}

// checkBuild: build args reach FROM and RUN, .dockerignore keeps files out
// of the context, labels land on the image; a failing step fails the build
// with its output; a missing base image is ErrNotFound naming it, and is
// not pulled.
func checkBuild(t *testing.T, f *fixture) {
	ctx := context.Background()
	dir := t.TempDir()
	for name, content := range map[string]string{
		"Dockerfile":         "ARG BASE=nothing\nFROM ${BASE}\nARG UID\nCOPY . /ctx/\nRUN test ! -e /ctx/secret.txt && test -e /ctx/kept.txt && echo built as $UID\nLABEL a=b\n",
		".dockerignore":      "secret*\n",
		"secret.txt":         "no",
		"kept.txt":           "yes",
		"Dockerfile.fail":    "FROM " + BaseImage + "\nRUN echo failing; exit 7\n",
		"Dockerfile.missing": "FROM " + BaseImage + " AS a\nFROM hpr-missing/base:nope\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tag := unique("hpr-test-build") + ":1"
	var out bytes.Buffer
	err := f.e.Build(ctx, runtime.BuildOptions{ContextDir: dir, Tag: tag, Output: &out,
		Args:   map[string]string{"BASE": BaseImage, "UID": "4242"},
		Labels: map[string]string{"io.hpr.test": "1", runtime.LabelVersion: "test"}})
	if err != nil {
		t.Fatalf("Build: %v\n%s", err, out.String())
	}
	defer func() {
		if err := f.e.RemoveImage(ctx, tag); err != nil {
			t.Error(err)
		}
	}()
	if !strings.Contains(out.String(), "built as 4242") {
		t.Errorf("build output lacks the RUN's: %s", out.String())
	}
	files, err := f.e.ReadImageFiles(ctx, tag, "/ctx/kept.txt", "/ctx/secret.txt")
	if diff := cmp.Diff(map[string][]byte{"/ctx/kept.txt": []byte("yes")}, files); err != nil || diff != "" {
		t.Errorf("the build context in the image: %v; (-want +got):\n%s", err, diff)
	}
	if img, err := f.e.Image(ctx, tag); err != nil || img.Labels["io.hpr.test"] != "1" || img.Labels[runtime.LabelVersion] != "test" || img.Labels["a"] != "b" {
		t.Errorf("built image labels %v, %v", img.Labels, err)
	}

	out.Reset()
	err = f.e.Build(ctx, runtime.BuildOptions{ContextDir: dir, Dockerfile: "Dockerfile.fail", Tag: tag + "-fail", Output: &out})
	if err == nil || !strings.Contains(out.String(), "failing") {
		t.Errorf("Build(failing) = %v; output:\n%s", err, out.String())
	}
	err = f.e.Build(ctx, runtime.BuildOptions{ContextDir: dir, Dockerfile: "Dockerfile.missing", Tag: tag + "-missing"})
	if !errors.Is(err, runtime.ErrNotFound) || !strings.Contains(err.Error(), "hpr-missing/base:nope") || !strings.Contains(err.Error(), "never pulls") {
		t.Errorf("Build(missing base) = %v, want ErrNotFound naming the image and saying hpr never pulls", err)
	}
	if _, err := f.e.Image(ctx, "hpr-missing/base:nope"); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("after the build, hpr-missing/base:nope exists (pulled?): %v", err)
	}
}
