package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/runtime"
)

// initVolumes hands the roots of the volumes marked Init (just created, so
// root's) to the plan's user before the container starts. Docker has no
// option for this, so a directory entry is copied in; the daemon mounts the
// container's volumes while it extracts, so the volume's root itself
// changes. The passwd/group entries and HOME come as mounts (runtime.Identity).
func (e *Engine) initVolumes(ctx context.Context, id string, spec runtime.ContainerSpec) error {
	p := spec.Plan
	if p.UID == 0 && p.GID == 0 {
		return nil
	}
	var dirs []dir
	for _, v := range spec.Volumes {
		if !v.Init {
			continue
		}
		d := dir{path: v.Target, uid: p.UID, gid: p.GID, mode: 0o755}
		if p.Mode == idmap.DockerUsernsRemap {
			// The daemon maps an archive's owners into its remap range,
			// where the host user that a "userns=host" container runs as
			// has no id: make the root writable to all, sticky like /tmp.
			d = dir{path: v.Target, mode: 0o1777}
		}
		dirs = append(dirs, d)
	}
	if len(dirs) == 0 {
		return nil
	}
	archive, err := dirArchive(dirs, time.Now())
	if err != nil {
		return err
	}
	if err := e.c.CopyToContainer(ctx, id, "/", bytes.NewReader(archive), container.CopyToContainerOptions{}); err != nil {
		return fmt.Errorf("handing volume roots to uid %d: %w", p.UID, e.translate(err))
	}
	return nil
}

// dir is a volume root whose owner and mode initVolumes sets.
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
