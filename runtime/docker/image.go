package docker

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/pkg/jsonmessage"

	"github.com/hostpersist/hpr/runtime"
)

// maxImageFile bounds what ReadImageFiles reads of one file; it is meant for
// /etc/passwd and the like.
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
				out = append(out, runtime.Image{ID: im.ID, Ref: tag, Labels: im.Labels})
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

// ReadImageFiles returns the regular files at paths in an image, read
// through one container that is created for the call, never started, and
// removed. The files are copied out of it concurrently.
func (e *Engine) ReadImageFiles(ctx context.Context, ref string, paths ...string) (map[string][]byte, error) {
	if len(paths) == 0 {
		return map[string][]byte{}, nil
	}
	resp, err := e.c.ContainerCreate(ctx, &container.Config{
		Image: ref,
		// Never run; set so that images without a command can be created.
		Entrypoint:      []string{"/hpr-never-started"},
		NetworkDisabled: true,
		Labels:          map[string]string{labelPurpose: "read-image-files"},
	}, &container.HostConfig{NetworkMode: "none"}, nil, nil, "")
	if err != nil {
		return nil, fmt.Errorf("reading %s from image %s: creating a container: %w", strings.Join(paths, ", "), ref, e.translate(err))
	}
	defer e.removeQuietly(ctx, resp.ID)
	return runtime.ReadFiles(ref, paths, func(file string) ([]byte, error) {
		return e.readContainerFile(ctx, resp.ID, file)
	})
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
