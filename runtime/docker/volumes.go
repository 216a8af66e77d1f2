package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/volume"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/runtime"
)

// EnsureVolume creates a named volume unless it exists, and reports whether
// it did.
func (e *Engine) EnsureVolume(ctx context.Context, spec runtime.VolumeSpec) (bool, error) {
	_, err := e.c.VolumeInspect(ctx, spec.Name)
	if err == nil {
		return false, nil
	}
	if terr := e.translate(err); !errors.Is(terr, runtime.ErrNotFound) {
		return false, fmt.Errorf("inspecting volume %s: %w", spec.Name, terr)
	}
	if _, err := e.c.VolumeCreate(ctx, volume.CreateOptions{Name: spec.Name, Labels: spec.Labels}); err != nil {
		return false, fmt.Errorf("creating volume %s: %w", spec.Name, e.translate(err))
	}
	return true, nil
}

// RemoveVolume removes a named volume; ErrNotFound when absent, ErrConflict
// when a container still refers to it. Not forced: the daemon's force
// answers a missing volume with success.
func (e *Engine) RemoveVolume(ctx context.Context, name string) error {
	if err := e.c.VolumeRemove(ctx, name, false); err != nil {
		return fmt.Errorf("removing volume %s: %w", name, e.translate(err))
	}
	return nil
}

// handOverVolumes hands the root of every named volume of a created
// container to the plan's user, on every run: a volume's root may be root's
// whoever made it (a run that died before its container started, a chown
// through the engine's CLI), and nothing cheaper than the hand-over itself
// tells whose it is. Docker has no option for it, so a directory entry is
// copied in; the daemon mounts the container's volumes while it extracts, so
// the volume's root itself changes, and extracting an entry sets the owner
// and mode of a directory that exists. Nothing below the root is touched.
// The passwd/group entries and HOME come as mounts (runtime.Identity).
func (e *Engine) handOverVolumes(ctx context.Context, id string, spec runtime.ContainerSpec) error {
	roots := volumeRoots(spec)
	if len(roots) == 0 {
		return nil
	}
	archive, err := dirArchive(roots, time.Now())
	if err != nil {
		return err
	}
	if err := e.c.CopyToContainer(ctx, id, "/", bytes.NewReader(archive), container.CopyToContainerOptions{}); err != nil {
		return fmt.Errorf("handing volume roots to %s: %w", spec.Plan.User, e.translate(err))
	}
	return nil
}

// volumeRoots returns the owner and mode handOverVolumes gives each volume's
// root: the plan's user's (root's too: on rootless Docker a volume root
// another container uid owns is not yours), mode 0755. On
// docker-userns-remap the daemon maps an archive's owners into its remap
// range, where the host user that a "userns=host" container runs as has no
// id: there the root is made writable to all, sticky like /tmp.
func volumeRoots(spec runtime.ContainerSpec) []dir {
	p := spec.Plan
	var dirs []dir
	for _, v := range spec.HandedOver() {
		d := dir{path: v.Target, uid: p.UID, gid: p.GID, mode: 0o755}
		if p.Mode == idmap.DockerUsernsRemap {
			d = dir{path: v.Target, mode: 0o1777}
		}
		dirs = append(dirs, d)
	}
	return dirs
}

// dir is a volume root whose owner and mode handOverVolumes sets.
type dir struct {
	path     string
	uid, gid int
	mode     int64
}

// dirArchive returns the tar to extract at "/" that makes dirs with their
// owners and modes.
//
// Missing parents of dirs are not in the archive: the daemon creates them as
// root with mode 0755 when it extracts. Listing existing parents would reset
// their owner and mode.
func dirArchive(dirs []dir, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	seen := map[string]bool{}
	for _, d := range dirs {
		name := strings.TrimPrefix(path.Clean(d.path), "/")
		if !path.IsAbs(d.path) || name == "" {
			return nil, fmt.Errorf("creating %q: want an absolute path below /", d.path)
		}
		if seen[name] {
			continue
		}
		seen[name] = true
		hdr := &tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: d.mode, Uid: d.uid, Gid: d.gid, ModTime: mtime}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
