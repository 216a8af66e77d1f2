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
	"sync"
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
// exists call, under a millisecond where an inspect takes 4–6 ms.
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
				out = append(out, runtime.Image{ID: im.ID, Ref: tag})
			}
		}
	}
	return out, nil
}

// ReadImageFile returns a regular file of an image: it creates a container
// that never starts, copies the file out and removes the container. A file
// directly in /etc is read with the rest of /etc, which costs the same, and
// kept by image ID (see etcCache).
func (e *Engine) ReadImageFile(ctx context.Context, ref, file string) ([]byte, error) {
	c, cancel := e.call(ctx)
	defer cancel()
	img, err := images.GetImage(c, ref, nil)
	if err != nil {
		return nil, fmt.Errorf("reading %s from image %s: %w", file, ref, e.translate(ctx, err))
	}
	file = path.Clean("/" + file)
	inEtc := path.Dir(file) == "/etc"
	if inEtc {
		if b, ok, err := e.etc.file(img.ID, path.Base(file)); ok {
			if err != nil {
				return nil, fmt.Errorf("reading %s from image %s: %w", file, ref, err)
			}
			return b, nil
		}
	}
	s := specgen.NewSpecGenerator(img.ID, false)
	// Create needs a command when the image has none; it never runs.
	s.Entrypoint = []string{"/hpr-never-runs"}
	s.Labels = map[string]string{runtime.LabelVersion: "read-image-file"}
	r, err := containers.CreateWithSpec(c, s, nil)
	if err != nil {
		return nil, fmt.Errorf("creating a container of %s to read %s: %w", ref, file, e.translate(ctx, err))
	}
	defer e.removeQuietly(ctx, r.ID)
	if inEtc {
		if err := e.readEtc(ctx, r.ID, img.ID); err != nil {
			return nil, fmt.Errorf("reading %s from image %s: %w", file, ref, err)
		}
		if b, ok, err := e.etc.file(img.ID, path.Base(file)); ok {
			if err != nil {
				return nil, fmt.Errorf("reading %s from image %s: %w", file, ref, err)
			}
			return b, nil
		}
		// Not a small regular file: read it alone, which says what it is.
	}
	var buf bytes.Buffer
	if err := e.copyOut(ctx, r.ID, file, &buf); err != nil {
		return nil, fmt.Errorf("reading %s from image %s: %w", file, ref, err)
	}
	b, err := untarFile(&buf, path.Base(file))
	if err != nil {
		return nil, fmt.Errorf("reading %s from image %s: %w", file, ref, err)
	}
	return b, nil
}

// readEtc copies /etc out of a container that has not started (so its /etc
// is its image's) into the cache under imageID.
func (e *Engine) readEtc(ctx context.Context, id, imageID string) error {
	var buf bytes.Buffer
	if err := e.copyOut(ctx, id, "/etc", &buf); err != nil {
		return err
	}
	files, err := etcFiles(&buf)
	if err != nil {
		return err
	}
	e.etc.put(imageID, files)
	return nil
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
		return io.ReadAll(tr)
	}
}

// maxEtcFile bounds what etcFiles keeps of one file.
const maxEtcFile = 1 << 20

// etcFiles reads the entries directly in etc/ of a tar of /etc: the content
// of small regular files, nil for anything else.
func etcFiles(r io.Reader) (map[string][]byte, error) {
	files := map[string][]byte{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading archive of /etc: %w", err)
		}
		name := path.Clean(h.Name)
		if path.Dir(name) != "etc" {
			continue
		}
		files[path.Base(name)] = nil
		if h.Typeflag == tar.TypeReg && h.Size <= maxEtcFile {
			b, err := io.ReadAll(tr)
			if err != nil {
				return nil, fmt.Errorf("reading archive of /etc: %w", err)
			}
			files[path.Base(name)] = append([]byte{}, b...) // never nil
		}
	}
}

// etcCache keeps the small regular files directly in /etc of images, by
// image ID (images are immutable). hpr reads an image's /etc/passwd and
// then its /etc/group to plan; through Podman's archive endpoint each read
// costs 200–400 ms whatever its size (the service mounts the container and
// re-executes itself to stat and to copy), so one read of /etc serves both.
type etcCache struct {
	mu    sync.Mutex
	files map[string]map[string][]byte // image ID → name in /etc → content
	order []string                     // image IDs, oldest first
}

// maxEtcImages bounds the images etcCache remembers.
const maxEtcImages = 16

func (c *etcCache) put(imageID string, files map[string][]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.files == nil {
		c.files = map[string]map[string][]byte{}
	}
	if _, ok := c.files[imageID]; !ok {
		c.order = append(c.order, imageID)
	}
	c.files[imageID] = files
	for len(c.order) > maxEtcImages {
		delete(c.files, c.order[0])
		c.order = c.order[1:]
	}
}

// file returns /etc/name of an image. ok is false when the image is not
// cached or the entry is not a small regular file; then the caller reads
// it another way. An absent file is ok with an error wrapping ErrNotFound.
func (c *etcCache) file(imageID, name string) (b []byte, ok bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	files, cached := c.files[imageID]
	if !cached {
		return nil, false, nil
	}
	b, present := files[name]
	switch {
	case !present:
		return nil, true, fmt.Errorf("/etc/%s is not in the image: %w", name, runtime.ErrNotFound)
	case b == nil:
		return nil, false, nil
	}
	return bytes.Clone(b), true, nil
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
