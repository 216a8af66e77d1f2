package podman

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/containers/podman/v5/pkg/bindings/containers"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/runtime"
)

// applyIdentity gives the plan's user an identity in a created container:
// the passwd and group lines the image lacks, and a HOME owned by the user.
// It takes the image's /etc/passwd and /etc/group from the cache
// ReadImageFile filled while hpr planned (or reads the container's /etc
// once), and writes them back, with the home directory, in one archive
// extracted at /. Ownership in the archive is container-side: the service
// maps it through the container's user namespace (copyUIDGID=false, or
// libpod would chown everything to the container's user).
func (e *Engine) applyIdentity(ctx context.Context, id string, p idmap.Plan) error {
	if p.PasswdLine == "" && p.GroupLine == "" && !p.CreateHome {
		return nil
	}
	var files []tarEntry
	if p.PasswdLine != "" || p.GroupLine != "" {
		passwd, group, err := e.identityFiles(ctx, id)
		if err != nil {
			return fmt.Errorf("reading identity files: %w", err)
		}
		if p.PasswdLine != "" {
			if b, changed, err := appendEntry(passwd, p.PasswdLine); err != nil {
				return fmt.Errorf("adding passwd entry: %w", err)
			} else if changed {
				files = append(files, tarEntry{name: "etc/passwd", mode: 0o644, body: b})
			}
		}
		if p.GroupLine != "" {
			if b, changed, err := appendEntry(group, p.GroupLine); err != nil {
				return fmt.Errorf("adding group entry: %w", err)
			} else if changed {
				files = append(files, tarEntry{name: "etc/group", mode: 0o644, body: b})
			}
		}
	}
	if p.CreateHome && p.Home != "" && p.Home != "/" {
		home := strings.TrimPrefix(path.Clean("/"+p.Home), "/")
		files = append(files, tarEntry{name: home + "/", mode: 0o755, dir: true, uid: p.UID, gid: p.GID})
	}
	if len(files) == 0 {
		return nil
	}
	archive, err := tarOf(files)
	if err != nil {
		return err
	}
	c, cancel := e.call(ctx)
	defer cancel()
	copyFn, err := containers.CopyFromArchiveWithOptions(c, id, "/", bytes.NewReader(archive),
		new(containers.CopyOptions).WithChown(false))
	if err == nil {
		err = copyFn()
	}
	if err != nil {
		return fmt.Errorf("writing identity files: %w", e.translate(ctx, err))
	}
	return nil
}

// identityFiles returns /etc/passwd and /etc/group of a created container:
// its image's, from the cache when hpr read them to plan. A missing file is
// empty.
func (e *Engine) identityFiles(ctx context.Context, id string) (passwd, group []byte, err error) {
	c, cancel := e.call(ctx)
	defer cancel()
	in, err := containers.Inspect(c, id, nil)
	if err != nil {
		return nil, nil, e.translate(ctx, err)
	}
	get := func(name string) ([]byte, bool, error) {
		b, ok, err := e.etc.file(in.Image, name)
		if errors.Is(err, runtime.ErrNotFound) {
			return nil, true, nil
		}
		return b, ok, err
	}
	passwd, pok, err := get("passwd")
	if err != nil {
		return nil, nil, err
	}
	group, gok, err := get("group")
	if err != nil {
		return nil, nil, err
	}
	if pok && gok {
		return passwd, group, nil
	}
	if err := e.readEtc(ctx, id, in.Image); err != nil && !errors.Is(err, runtime.ErrNotFound) {
		return nil, nil, err
	}
	read := func(name string) ([]byte, error) {
		b, ok, err := get(name)
		if err != nil || ok {
			return b, err
		}
		// Not a small regular file: a symlink, say.
		b, err = e.readContainerFile(ctx, id, "/etc/"+name)
		if errors.Is(err, runtime.ErrNotFound) {
			return nil, nil
		}
		return b, err
	}
	if passwd, err = read("passwd"); err != nil {
		return nil, nil, err
	}
	if group, err = read("group"); err != nil {
		return nil, nil, err
	}
	return passwd, group, nil
}

// readContainerFile returns a regular file of a container.
func (e *Engine) readContainerFile(ctx context.Context, id, file string) ([]byte, error) {
	var buf bytes.Buffer
	if err := e.copyOut(ctx, id, file, &buf); err != nil {
		return nil, fmt.Errorf("reading %s: %w", file, err)
	}
	return untarFile(&buf, path.Base(file))
}

// appendEntry appends line (name:x:id:...) to a passwd or group file unless
// an entry with its id is there already.
func appendEntry(file []byte, line string) ([]byte, bool, error) {
	fields := strings.Split(line, ":")
	if len(fields) < 3 {
		return nil, false, fmt.Errorf("malformed entry %q", line)
	}
	if _, err := strconv.Atoi(fields[2]); err != nil {
		return nil, false, fmt.Errorf("malformed entry %q: id %q", line, fields[2])
	}
	for l := range strings.SplitSeq(string(file), "\n") {
		if f := strings.Split(l, ":"); len(f) >= 3 && f[2] == fields[2] {
			return file, false, nil
		}
	}
	out := bytes.Clone(file)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	out = append(out, strings.TrimRight(line, "\n")...)
	return append(out, '\n'), true, nil
}

type tarEntry struct {
	name     string
	mode     int64
	dir      bool
	uid, gid int
	body     []byte
}

func tarOf(entries []tarEntry) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	now := time.Now()
	for _, en := range entries {
		h := &tar.Header{Name: en.name, Mode: en.mode, Uid: en.uid, Gid: en.gid, ModTime: now, Format: tar.FormatPAX}
		if en.dir {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(en.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("writing archive: %w", err)
		}
		if _, err := tw.Write(en.body); err != nil {
			return nil, fmt.Errorf("writing archive: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("writing archive: %w", err)
	}
	return buf.Bytes(), nil
}
