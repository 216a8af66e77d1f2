package doctor

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/project"
	"github.com/hostpersist/hpr/runtime"
)

// FixerImage is the image the fixing container runs: an imported root
// filesystem of a few empty directories and files, so that it never needs a
// registry and costs nothing to import. The fixer is the hpr binary itself,
// bind-mounted read-only. The tag changes only when the content does.
const FixerImage = "hpr-doctor:1"

// Where things are inside the fixing container.
const (
	binPath   = "/.hpr/hpr"
	listPath  = "/.hpr/list"
	fixTarget = "/fix"
)

// FixOptions describe one fixing container.
type FixOptions struct {
	// Resolver is the engine to fix through, and the host user.
	Resolver *project.Resolver
	// Root is the host directory the files are relative to; it is mounted
	// into the container.
	Root  string
	Files []File
	// Binary is a static hpr, the container's entrypoint.
	Binary string
	// Labels go on the container (the pid of this hpr...), so that hpr gc
	// removes it if this hpr is killed.
	Labels map[string]string
}

// Fix hands o.Files back to the host user through a container that runs as
// root on o.Resolver's engine, and reports what the container did. The
// caller has checked with CanFix that the engine maps the files' owners.
func Fix(ctx context.Context, o FixOptions) (InsideReport, error) {
	e := o.Resolver.Engine
	if err := ensureImage(ctx, e); err != nil {
		return InsideReport{}, err
	}
	list, err := os.CreateTemp("", "hpr-doctor-*.list")
	if err != nil {
		return InsideReport{}, fmt.Errorf("writing the list of files to fix: %w", err)
	}
	defer os.Remove(list.Name())
	if _, err := list.Write(EncodeList(o.Files)); err != nil {
		list.Close()
		return InsideReport{}, fmt.Errorf("writing the list of files to fix: %w", err)
	}
	if err := list.Close(); err != nil {
		return InsideReport{}, fmt.Errorf("writing the list of files to fix: %w", err)
	}
	// The fixer is an ad hoc project of the fixer image, rooted at Root
	// and run as root, so that the resolver makes its spec as for any
	// other run.
	p := project.AdHoc(o.Root, FixerImage)
	p.Run.Mount, p.Run.User, p.Run.Entrypoint = fixTarget, idmap.OverrideRoot, []string{binPath}
	res, err := o.Resolver.Resolve(ctx, p, project.Request{
		Policy: project.BuildNever,
		Memo:   project.MemoOff,
		Mounts: []runtime.Mount{
			{Source: o.Binary, Target: binPath, ReadOnly: true},
			{Source: list.Name(), Target: listPath, ReadOnly: true},
		},
		Labels: o.Labels,
	})
	if err != nil {
		return InsideReport{}, err
	}
	uid, gid, err := Target(idmap.Namespace{Mode: res.Spec.Plan.Mode, Userns: res.Spec.Plan.Userns}, o.Resolver.Host)
	if err != nil {
		return InsideReport{}, err
	}
	res.Spec.Cmd = []string{"doctor", "--fix-inside", fixTarget, "--list", listPath, "--owner", fmt.Sprintf("%d:%d", uid, gid)}
	var stdout, stderr bytes.Buffer
	code, err := runtime.Run(ctx, e, runtime.RunOptions{Spec: res.Spec, Streams: runtime.Streams{Stdout: &stdout, Stderr: &stderr}})
	if err != nil {
		return InsideReport{}, fmt.Errorf("running the fixing container: %w", err)
	}
	if code != 0 {
		return InsideReport{}, fmt.Errorf("the fixing container failed (exit status %d): %s", code, strings.TrimSpace(stderr.String()))
	}
	var r InsideReport
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		return InsideReport{}, fmt.Errorf("reading the fixing container's report: %w (stdout %q, stderr %q)", err, stdout.String(), stderr.String())
	}
	return r, nil
}

// ensureImage imports FixerImage unless the engine has it.
func ensureImage(ctx context.Context, e runtime.Engine) error {
	_, err := e.Image(ctx, FixerImage)
	if err == nil {
		return nil
	}
	if !errors.Is(err, runtime.ErrNotFound) {
		return fmt.Errorf("looking for %s: %w", FixerImage, err)
	}
	var b bytes.Buffer
	if err := writeImageTar(&b); err != nil {
		return err
	}
	err = e.Import(ctx, runtime.ImportOptions{
		Ref: FixerImage,
		Tar: &b,
		Changes: []string{
			"ENV PATH=/.hpr",
			`ENTRYPOINT ["` + binPath + `"]`,
			"WORKDIR /",
		},
	})
	if err != nil {
		return fmt.Errorf("importing %s: %w", FixerImage, err)
	}
	return nil
}

const (
	fixerPasswd = "root:x:0:0:root:/root:/.hpr/hpr\n"
	fixerGroup  = "root:x:0:\n"
)

// writeImageTar writes FixerImage's root filesystem: mount points for the
// binary, the list and the project, and a passwd and group naming root, so
// that the root plan adds nothing.
func writeImageTar(w io.Writer) error {
	tw := tar.NewWriter(w)
	mtime := time.Unix(0, 0)
	hdr := func(name string, typ byte, mode int64, content string) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: typ, Name: name, Mode: mode, Size: int64(len(content)), ModTime: mtime, Format: tar.FormatPAX}); err != nil {
			return err
		}
		_, err := io.WriteString(tw, content)
		return err
	}
	for _, e := range []struct {
		name    string
		typ     byte
		mode    int64
		content string
	}{
		{".hpr/", tar.TypeDir, 0o755, ""},
		{".hpr/hpr", tar.TypeReg, 0o755, ""},
		{".hpr/list", tar.TypeReg, 0o644, ""},
		{"etc/", tar.TypeDir, 0o755, ""},
		{"etc/passwd", tar.TypeReg, 0o644, fixerPasswd},
		{"etc/group", tar.TypeReg, 0o644, fixerGroup},
		{"root/", tar.TypeDir, 0o700, ""},
		{"tmp/", tar.TypeDir, 0o1777, ""},
		{"fix/", tar.TypeDir, 0o755, ""},
	} {
		if err := hdr(e.name, e.typ, e.mode, e.content); err != nil {
			return fmt.Errorf("writing %s: %w", FixerImage, err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", FixerImage, err)
	}
	return nil
}
