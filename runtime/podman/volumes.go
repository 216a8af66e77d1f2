package podman

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"time"

	"github.com/containers/podman/v5/pkg/bindings/containers"
	"github.com/containers/podman/v5/pkg/bindings/volumes"
	entitiesTypes "github.com/containers/podman/v5/pkg/domain/entities/types"

	"github.com/hostpersist/hpr/runtime"
)

// EnsureVolume creates a named volume unless it exists, and reports
// whether it did. Losing a race to another creator is not creating it.
func (e *Engine) EnsureVolume(ctx context.Context, vs runtime.VolumeSpec) (bool, error) {
	c, cancel := e.call(ctx)
	defer cancel()
	ok, err := volumes.Exists(c, vs.Name, nil)
	if err != nil {
		return false, fmt.Errorf("looking up volume %s: %w", vs.Name, e.translate(ctx, err))
	}
	if ok {
		return false, nil
	}
	_, err = volumes.Create(c, entitiesTypes.VolumeCreateOptions{Name: vs.Name, Labels: vs.Labels}, nil)
	switch err = e.translate(ctx, err); {
	case err == nil:
		return true, nil
	case errors.Is(err, runtime.ErrConflict):
		return false, nil
	default:
		return false, fmt.Errorf("creating volume %s: %w", vs.Name, err)
	}
}

// RemoveVolume removes a named volume; ErrConflict while a container, even
// a stopped one, refers to it.
func (e *Engine) RemoveVolume(ctx context.Context, name string) error {
	c, cancel := e.call(ctx)
	defer cancel()
	// Not forced: a forced removal removes the containers that use the
	// volume, and Podman 4.3 deadlocks it against the cleanup process of
	// such a container removing itself (each holds the lock the other
	// waits for), which wedges the whole service. In use is ErrConflict.
	force := false
	if err := volumes.Remove(c, name, &volumes.RemoveOptions{Force: &force}); err != nil {
		return fmt.Errorf("removing volume %s: %w", name, e.translate(ctx, err))
	}
	return nil
}

// handOverVolumes hands the root of every named volume of a created
// container to the plan's user (mode 0755), on every run: a volume's root
// may be root's whoever made it (a run that died before its container
// started, a chown through the engine's CLI), and nothing cheaper than the
// hand-over itself tells whose it is. Nothing below the root is touched.
//
// Podman gives a volume's root an owner when the volume is first mounted:
// the container user's or, where the image has the mount point, that
// directory's owner and mode. So the root of a volume never mounted yet is
// handed over through the mount point in the container's file system, which
// Podman then copies, and the root of one mounted before directly: a copy
// into a path on a volume lands in the volume.
func (e *Engine) handOverVolumes(ctx context.Context, id string, cs runtime.ContainerSpec) error {
	p := cs.Plan
	var mountPoints []string
	for _, v := range cs.HandedOver() {
		target := path.Clean("/" + v.Target)
		if target == "/" {
			return fmt.Errorf("handing volume %s to %s: it is mounted at /", v.Name, p.User)
		}
		first, err := e.neverMounted(ctx, v.Name)
		if err != nil {
			return fmt.Errorf("handing volume %s to %s: %w", v.Name, p.User, err)
		}
		if first {
			mountPoints = append(mountPoints, target[1:])
			continue
		}
		if err := e.copyDirs(ctx, id, target, []string{"."}, p.UID, p.GID); err != nil {
			return fmt.Errorf("handing volume %s to %s: %w", v.Name, p.User, err)
		}
	}
	if len(mountPoints) == 0 {
		return nil
	}
	if err := e.copyDirs(ctx, id, "/", mountPoints, p.UID, p.GID); err != nil {
		return fmt.Errorf("handing volume mount points to %s: %w", p.User, err)
	}
	return nil
}

// neverMounted reports whether Podman will set the owner of a volume's root
// when it next mounts it.
func (e *Engine) neverMounted(ctx context.Context, name string) (bool, error) {
	c, cancel := e.call(ctx)
	defer cancel()
	v, err := volumes.Inspect(c, name, nil)
	if err != nil {
		return false, fmt.Errorf("inspecting volume %s: %w", name, e.translate(ctx, err))
	}
	return v.NeedsChown, nil
}

// copyDirs extracts directories (paths relative to dst), mode 0755, owned
// by uid:gid, at dst in container id. The owners are container-side ids,
// which the service maps through the container's user namespace
// (copyUIDGID=false; libpod's default chowns to the container's user
// instead), and an entry for a directory that exists sets its owner and mode.
func (e *Engine) copyDirs(ctx context.Context, id, dst string, dirs []string, uid, gid int) error {
	archive, err := dirArchive(dirs, uid, gid)
	if err != nil {
		return err
	}
	c, cancel := e.call(ctx)
	defer cancel()
	copyFn, err := containers.CopyFromArchiveWithOptions(c, id, dst, bytes.NewReader(archive),
		new(containers.CopyOptions).WithChown(false))
	if err == nil {
		err = copyFn()
	}
	if err != nil {
		return fmt.Errorf("copying into %s: %w", dst, e.translate(ctx, err))
	}
	return nil
}

// dirArchive is a tar of directories (relative paths), mode 0755, owned by
// uid:gid.
func dirArchive(dirs []string, uid, gid int) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	now := time.Now()
	for _, d := range dirs {
		h := &tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, Uid: uid, Gid: gid, ModTime: now, Format: tar.FormatPAX}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("writing archive: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("writing archive: %w", err)
	}
	return buf.Bytes(), nil
}
