package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/docker/docker/api/types/filters"
	"io"
	"io/fs"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/pkg/jsonmessage"

	"github.com/hostpersist/hpr/runtime"
)

// maxImageFile bounds what ReadImageFile reads; it is meant for /etc/passwd
// and the like.
const maxImageFile = 16 << 20

// cleanupTimeout bounds removing a throwaway container after the caller's
// context has ended.
const cleanupTimeout = 10 * time.Second

// labelPurpose marks containers hpr creates for its own use, never started.
const labelPurpose = "io.hpr.purpose"

// ImageExists reports whether a local image answers to ref. Docker has no
// cheaper call than the inspect (about a millisecond).
func (e *Engine) ImageExists(ctx context.Context, ref string) (bool, error) {
	_, err := e.c.ImageInspect(ctx, ref)
	if err == nil {
		return true, nil
	}
	if err := e.translate(err); errors.Is(err, runtime.ErrNotFound) {
		return false, nil
	}
	return false, fmt.Errorf("looking up image %s: %w", ref, e.translate(err))
}

// ImagesNamed lists the local images tagged repo:<any tag>.
func (e *Engine) ImagesNamed(ctx context.Context, repo string) ([]runtime.Image, error) {
	list, err := e.c.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(filters.Arg("reference", repo))})
	if err != nil {
		return nil, fmt.Errorf("listing images %s: %w", repo, e.translate(err))
	}
	var out []runtime.Image
	for _, im := range list {
		for _, tag := range im.RepoTags {
			if name, _, ok := strings.Cut(tag, ":"); ok && name == repo {
				out = append(out, runtime.Image{ID: im.ID, Ref: tag})
			}
		}
	}
	return out, nil
}

// Image inspects a local image; it never pulls.
func (e *Engine) Image(ctx context.Context, ref string) (runtime.Image, error) {
	ii, err := e.c.ImageInspect(ctx, ref)
	if err != nil {
		return runtime.Image{}, fmt.Errorf("inspecting image %s: %w", ref, e.translate(err))
	}
	img := runtime.Image{ID: ii.ID, Ref: ref}
	if c := ii.Config; c != nil {
		img.User = c.User
		img.Env = c.Env
		img.WorkingDir = c.WorkingDir
		img.Entrypoint = c.Entrypoint
		img.Cmd = c.Cmd
		img.Labels = c.Labels
	}
	return img, nil
}

// ReadImageFile returns the content of a regular file in an image, read
// through a container that is created for it, never started, and removed.
// /etc/passwd and /etc/group, which runtime.PlanFor asks for one after the
// other, are read together through one container and kept by image ID.
func (e *Engine) ReadImageFile(ctx context.Context, ref, file string) ([]byte, error) {
	ii, err := e.c.ImageInspect(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("reading %s from image %s: %w", file, ref, e.translate(err))
	}
	file = path.Clean("/" + file)
	if data, ok, err := e.files.get(ii.ID, file); ok {
		if err != nil {
			return nil, fmt.Errorf("reading %s from image %s: %w", file, ref, err)
		}
		return bytes.Clone(data), nil
	}
	resp, err := e.c.ContainerCreate(ctx, &container.Config{
		Image: ii.ID,
		// Never run; set so that images without a command can be created.
		Entrypoint:      []string{"/hpr-never-started"},
		NetworkDisabled: true,
		Labels:          map[string]string{labelPurpose: "read-image-file"},
	}, &container.HostConfig{NetworkMode: "none"}, nil, nil, "")
	if err != nil {
		return nil, fmt.Errorf("reading %s from image %s: creating container: %w", file, ref, e.translate(err))
	}
	defer e.removeQuietly(ctx, resp.ID)
	if identityFiles[file] {
		// The other one will be asked for next; read it while the
		// container is there.
		var wg sync.WaitGroup
		for other := range identityFiles {
			if other != file {
				wg.Go(func() { _, _ = e.imageFile(ctx, resp.ID, ii.ID, other) })
			}
		}
		defer wg.Wait()
	}
	data, err := e.imageFile(ctx, resp.ID, ii.ID, file)
	if err != nil {
		return nil, fmt.Errorf("reading %s from image %s: %w", file, ref, err)
	}
	return bytes.Clone(data), nil
}

// identityFiles are the files runtime.PlanFor reads to make a plan.
var identityFiles = map[string]bool{"/etc/passwd": true, "/etc/group": true}

// imageFile reads file from container id, which was created from image
// imageID and not changed since, through the cache.
func (e *Engine) imageFile(ctx context.Context, id, imageID, file string) ([]byte, error) {
	if data, ok, err := e.files.get(imageID, file); ok {
		return data, err
	}
	data, err := e.readContainerFile(ctx, id, file)
	e.files.put(imageID, file, data, err)
	return data, err
}

// fileCache keeps files read from images, by image ID and path: an image ID
// names its content. A file's absence is kept too.
type fileCache struct {
	mu sync.Mutex
	m  map[[2]string]cachedFile
}

type cachedFile struct {
	data   []byte
	absent error // wraps runtime.ErrNotFound
}

// maxCachedFiles bounds the cache; it is meant for the few images one hpr
// process uses.
const maxCachedFiles = 64

func (c *fileCache) get(imageID, file string) ([]byte, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f, ok := c.m[[2]string{imageID, file}]
	return f.data, ok, f.absent
}

// put keeps a file's content or its absence; other errors are not kept.
func (c *fileCache) put(imageID, file string, data []byte, err error) {
	if err != nil && !errors.Is(err, runtime.ErrNotFound) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxCachedFiles {
		c.m = map[[2]string]cachedFile{}
	}
	c.m[[2]string{imageID, file}] = cachedFile{data: data, absent: err}
}

// removeQuietly force-removes a container hpr made for itself, even when ctx
// has ended; a failure leaves a labelled container for hpr gc.
func (e *Engine) removeQuietly(ctx context.Context, id string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	_ = e.c.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true})
}

// readContainerFile copies one regular file out of a (possibly never
// started) container, following symlinks inside it.
func (e *Engine) readContainerFile(ctx context.Context, id, file string) ([]byte, error) {
	for range 16 {
		rc, stat, err := e.c.CopyFromContainer(ctx, id, file)
		if err != nil {
			return nil, e.translate(err)
		}
		if stat.Mode&fs.ModeSymlink != 0 && stat.LinkTarget != "" {
			rc.Close()
			target := stat.LinkTarget
			if !path.IsAbs(target) {
				target = path.Join(path.Dir(file), target)
			}
			file = target
			continue
		}
		if !stat.Mode.IsRegular() {
			rc.Close()
			return nil, fmt.Errorf("%s is not a regular file (mode %v)", file, stat.Mode)
		}
		data, err := untarFile(rc)
		rc.Close()
		return data, err
	}
	return nil, fmt.Errorf("%s: too many levels of symbolic links", file)
}

// untarFile returns the content of the first entry of a tar stream, which
// must be a regular file.
func untarFile(r io.Reader) ([]byte, error) {
	tr := tar.NewReader(r)
	hdr, err := tr.Next()
	if err != nil {
		return nil, fmt.Errorf("reading archive: %w", err)
	}
	if hdr.Typeflag != tar.TypeReg {
		return nil, fmt.Errorf("reading archive: %s is not a regular file", hdr.Name)
	}
	if hdr.Size > maxImageFile {
		return nil, fmt.Errorf("reading archive: %s is %d bytes, more than %d", hdr.Name, hdr.Size, maxImageFile)
	}
	data, err := io.ReadAll(tr)
	if err != nil {
		return nil, fmt.Errorf("reading archive: %w", err)
	}
	return data, nil
}

// Import creates an image from a root filesystem tarball, like docker import.
func (e *Engine) Import(ctx context.Context, opts runtime.ImportOptions) error {
	if opts.Tar == nil {
		return errors.New("importing image: no tar stream")
	}
	body, err := e.c.ImageImport(ctx, image.ImportSource{Source: opts.Tar, SourceName: "-"}, opts.Ref, image.ImportOptions{Changes: opts.Changes})
	if err != nil {
		return fmt.Errorf("importing image %s: %w", opts.Ref, e.translate(err))
	}
	defer body.Close()
	if err := jsonmessage.DisplayJSONMessagesStream(body, io.Discard, 0, false, nil); err != nil {
		return fmt.Errorf("importing image %s: %w", opts.Ref, e.translate(err))
	}
	return nil
}

// RemoveImage removes an image by reference; ErrConflict when a container
// still uses it.
func (e *Engine) RemoveImage(ctx context.Context, ref string) error {
	if _, err := e.c.ImageRemove(ctx, ref, image.RemoveOptions{PruneChildren: true}); err != nil {
		return fmt.Errorf("removing image %s: %w", ref, e.translate(err))
	}
	return nil
}
