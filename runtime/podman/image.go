package podman

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/containers/podman/v5/pkg/bindings/containers"
	"github.com/containers/podman/v5/pkg/bindings/images"
	"github.com/containers/podman/v5/pkg/specgen"

	"github.com/hostpersist/hpr/runtime"
)

// Image inspects a local image. It never pulls.
func (e *Engine) Image(ctx context.Context, ref string) (runtime.Image, error) {
	c, cancel := e.call(ctx)
	defer cancel()
	r, err := images.GetImage(c, ref, nil)
	if err != nil {
		return runtime.Image{}, fmt.Errorf("inspecting image %s: %w", ref, e.translate(ctx, err))
	}
	img := runtime.Image{ID: r.ID, Ref: ref}
	if cfg := r.Config; cfg != nil {
		img.User = cfg.User
		img.Env = cfg.Env
		img.WorkingDir = cfg.WorkingDir
		img.Entrypoint = cfg.Entrypoint
		img.Cmd = cfg.Cmd
		img.Labels = cfg.Labels
	}
	return img, nil
}

// ImageExists reports whether a local image answers to ref: libpod's
// exists call, cheaper than an inspect.
func (e *Engine) ImageExists(ctx context.Context, ref string) (bool, error) {
	c, cancel := e.call(ctx)
	defer cancel()
	ok, err := images.Exists(c, ref, nil)
	if err != nil {
		return false, fmt.Errorf("looking up image %s: %w", ref, e.translate(ctx, err))
	}
	return ok, nil
}

// ImagesNamed lists the local images tagged repo:<any tag>. Podman names
// local images localhost/<repo>; Refs are as Podman lists them.
func (e *Engine) ImagesNamed(ctx context.Context, repo string) ([]runtime.Image, error) {
	c, cancel := e.call(ctx)
	defer cancel()
	list, err := images.List(c, &images.ListOptions{Filters: map[string][]string{"reference": {repo}}})
	if err != nil {
		return nil, fmt.Errorf("listing images %s: %w", repo, e.translate(ctx, err))
	}
	var out []runtime.Image
	for _, im := range list {
		for _, tag := range im.RepoTags {
			name, _, ok := strings.Cut(tag, ":")
			if ok && (name == repo || name == "localhost/"+repo) {
				out = append(out, runtime.Image{ID: im.ID, Ref: tag, Labels: im.Labels})
			}
		}
	}
	return out, nil
}

// ReadImageFiles returns the regular files at paths in an image: it creates
// a container that never starts, copies the files out of it concurrently and
// removes it.
func (e *Engine) ReadImageFiles(ctx context.Context, ref string, paths ...string) (map[string][]byte, error) {
	if len(paths) == 0 {
		return map[string][]byte{}, nil
	}
	id, err := e.throwaway(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("reading %s from image %s: %w", strings.Join(paths, ", "), ref, err)
	}
	defer e.removeQuietly(ctx, id)
	return runtime.ReadFiles(ref, paths, func(file string) ([]byte, error) {
		return e.readContainerFile(ctx, id, file)
	})
}

// throwaway creates a container of a local image (never pulling: ErrNotFound
// when it is not there) that is never started.
func (e *Engine) throwaway(ctx context.Context, ref string) (string, error) {
	c, cancel := e.call(ctx)
	defer cancel()
	img, err := images.GetImage(c, ref, nil)
	if err != nil {
		return "", fmt.Errorf("inspecting the image: %w", e.translate(ctx, err))
	}
	s := specgen.NewSpecGenerator(img.ID, false)
	// Create needs a command when the image has none; it never runs.
	s.Entrypoint = []string{"/hpr-never-runs"}
	s.Labels = map[string]string{runtime.LabelVersion: "read-image-files"}
	r, err := containers.CreateWithSpec(c, s, nil)
	if err != nil {
		return "", fmt.Errorf("creating a container: %w", e.translate(ctx, err))
	}
	return r.ID, nil
}

// readContainerFile copies one regular file out of a container.
func (e *Engine) readContainerFile(ctx context.Context, id, file string) ([]byte, error) {
	var buf bytes.Buffer
	if err := e.copyOut(ctx, id, file, &buf); err != nil {
		return nil, err
	}
	return untarFile(&buf, path.Base(file))
}

// copyOut writes the tar of file in container id to w.
func (e *Engine) copyOut(ctx context.Context, id, file string, w io.Writer) error {
	c, cancel := e.call(ctx)
	defer cancel()
	copyFn, err := containers.CopyToArchive(c, id, file, w)
	if err != nil {
		return e.translate(ctx, err)
	}
	if err := copyFn(); err != nil {
		return e.translate(ctx, err)
	}
	return nil
}

// maxImageFile bounds what ReadImageFiles reads of one file; it is meant for
// /etc/passwd and the like.
const maxImageFile = 16 << 20

// untarFile returns the content of the regular file name in a tar stream.
func untarFile(r io.Reader, name string) ([]byte, error) {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s is not in the archive: %w", name, runtime.ErrNotFound)
		}
		if err != nil {
			return nil, fmt.Errorf("reading archive: %w", err)
		}
		if path.Clean(h.Name) != name {
			continue
		}
		if h.Typeflag != tar.TypeReg {
			return nil, fmt.Errorf("%s is not a regular file (tar type %q)", name, h.Typeflag)
		}
		if h.Size > maxImageFile {
			return nil, fmt.Errorf("%s is %d bytes, more than %d", name, h.Size, maxImageFile)
		}
		return io.ReadAll(tr)
	}
}

// removeQuietly force-removes a container hpr made for its own use. It runs
// even when ctx has ended, so that nothing is left behind.
func (e *Engine) removeQuietly(ctx context.Context, id string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_ = e.Remove(ctx, id)
}

// Import creates an image from a root filesystem tarball.
func (e *Engine) Import(ctx context.Context, opts runtime.ImportOptions) error {
	c, cancel := e.call(ctx)
	defer cancel()
	o := new(images.ImportOptions).WithReference(opts.Ref)
	if len(opts.Changes) > 0 {
		o = o.WithChanges(opts.Changes)
	}
	if _, err := images.Import(c, opts.Tar, o); err != nil {
		return fmt.Errorf("importing image %s: %w", opts.Ref, e.translate(ctx, err))
	}
	return nil
}

// RemoveImage removes an image by reference; ErrNotFound when absent.
func (e *Engine) RemoveImage(ctx context.Context, ref string) error {
	c, cancel := e.call(ctx)
	defer cancel()
	_, errs := images.Remove(c, []string{ref}, nil)
	if len(errs) > 0 {
		return fmt.Errorf("removing image %s: %w", ref, e.translate(ctx, errors.Join(errs...)))
	}
	return nil
}
