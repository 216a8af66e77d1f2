package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/runtime"
)

// applyIdentity gives the plan's user an identity in a created container:
// its passwd and group entries, when the image lacks them, its HOME, and
// write access to the roots of the named volumes it mounts. Docker has no
// option for this, so the files are copied in before start; the daemon
// mounts the container's volumes while it extracts, so a volume's root is
// changed in the volume itself.
func (e *Engine) applyIdentity(ctx context.Context, id string, spec runtime.ContainerSpec) error {
	p := spec.Plan
	var dirs []dir
	if p.CreateHome && !homeOnTmpfs(p) {
		dirs = append(dirs, dir{path: p.Home, uid: p.UID, gid: p.GID, mode: 0o755})
	}
	if p.UID != 0 || p.GID != 0 {
		for _, v := range spec.Volumes {
			d := dir{path: v.Target, uid: p.UID, gid: p.GID, mode: 0o755}
			if p.Mode == idmap.DockerUsernsRemap {
				// The daemon maps an archive's owners into its remap range,
				// where the host user that a "userns=host" container runs as
				// has no id: make the root writable to all, sticky like /tmp.
				d = dir{path: v.Target, mode: 0o1777}
			}
			dirs = append(dirs, d)
		}
	}
	if p.PasswdLine == "" && p.GroupLine == "" && len(dirs) == 0 {
		return nil
	}
	var passwd, group []byte
	if p.PasswdLine != "" || p.GroupLine != "" {
		var err error
		if passwd, group, err = e.identityFiles(ctx, id, p); err != nil {
			return err
		}
	}
	archive, err := identityArchive(passwd, group, p, dirs, time.Now())
	if err != nil || archive == nil {
		return err
	}
	if err := e.c.CopyToContainer(ctx, id, "/", bytes.NewReader(archive), container.CopyToContainerOptions{}); err != nil {
		return fmt.Errorf("copying /etc/passwd, /etc/group and HOME into the container: %w", e.translate(err))
	}
	return nil
}

// homeOnTmpfs reports whether HOME must be a tmpfs rather than a directory
// in the container: a userns-remap daemon maps every owner in a copied
// archive into its remap range, where no id is the host user's that a
// "userns=host" container runs as.
func homeOnTmpfs(p idmap.Plan) bool { return p.Mode == idmap.DockerUsernsRemap }

// identityFiles returns the container's /etc/passwd and /etc/group, those
// the plan adds to. They are its image's until it starts, so they come from
// the cache ReadImageFile filled while the plan was made.
func (e *Engine) identityFiles(ctx context.Context, id string, p idmap.Plan) (passwd, group []byte, err error) {
	ci, err := e.c.ContainerInspect(ctx, id)
	if err != nil {
		return nil, nil, fmt.Errorf("inspecting container: %w", e.translate(err))
	}
	if ci.ContainerJSONBase == nil {
		return nil, nil, errors.New("inspecting container: the daemon reported no image")
	}
	var (
		wg         sync.WaitGroup
		perr, gerr error
	)
	if p.PasswdLine != "" {
		wg.Go(func() { passwd, perr = e.readIdentityFile(ctx, id, ci.Image, "/etc/passwd") })
	}
	if p.GroupLine != "" {
		wg.Go(func() { group, gerr = e.readIdentityFile(ctx, id, ci.Image, "/etc/group") })
	}
	wg.Wait()
	return passwd, group, errors.Join(perr, gerr)
}

// readIdentityFile reads /etc/passwd or /etc/group from a container created
// from imageID; an image without one gets an empty file.
func (e *Engine) readIdentityFile(ctx context.Context, id, imageID, file string) ([]byte, error) {
	data, err := e.imageFile(ctx, id, imageID, file)
	if errors.Is(err, runtime.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", file, err)
	}
	return data, nil
}

// dir is a directory the identity step creates, or whose owner and mode it
// sets.
type dir struct {
	path     string
	uid, gid int
	mode     int64
}

// identityArchive returns the tar to extract at "/" that adds the plan's
// passwd and group lines (unless the files already have an entry for their
// id) and makes dirs (HOME, volume roots); nil when there is nothing to
// write.
//
// Missing parents of dirs are not in the archive: the daemon creates them as
// root with mode 0755 when it extracts. Listing existing parents would reset
// their owner and mode (a HOME under /tmp would lose /tmp's sticky bit).
func identityArchive(passwd, group []byte, p idmap.Plan, dirs []dir, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	n := 0
	for _, f := range []struct {
		name    string
		content []byte
		line    string
		fields  int
	}{
		{"etc/passwd", passwd, p.PasswdLine, 7},
		{"etc/group", group, p.GroupLine, 4},
	} {
		if f.line == "" {
			continue
		}
		content, changed, err := appendEntry(f.content, f.line, f.fields)
		if err != nil {
			return nil, fmt.Errorf("adding to /%s: %w", f.name, err)
		}
		if !changed {
			continue
		}
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: f.name, Mode: 0o644, Size: int64(len(content)), ModTime: mtime}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(content); err != nil {
			return nil, err
		}
		n++
	}
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
		n++
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, nil
	}
	return buf.Bytes(), nil
}

// appendEntry appends line to a passwd or group file unless an entry with
// the same id (the third field) is there; fields is how many fields a line
// of that file has.
func appendEntry(file []byte, line string, fields int) ([]byte, bool, error) {
	line = strings.TrimRight(line, "\n")
	f := strings.Split(line, ":")
	if len(f) != fields || strings.ContainsAny(line, "\n") {
		return nil, false, fmt.Errorf("malformed entry %q: want %d fields", line, fields)
	}
	id := f[2]
	for l := range strings.Lines(string(file)) {
		if g := strings.Split(strings.TrimRight(l, "\r\n"), ":"); len(g) > 2 && g[2] == id {
			return file, false, nil
		}
	}
	out := bytes.Clone(file)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	out = append(out, line...)
	out = append(out, '\n')
	return out, true, nil
}
