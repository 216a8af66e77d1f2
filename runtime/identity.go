package runtime

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/runtime/cache"
)

// Identity gives the plan's user a name and a HOME in a container without
// copying anything into it: hpr writes the image's /etc/passwd and
// /etc/group, with the plan's entries added, to its cache once, and the
// container bind-mounts them read-only; HOME is a tmpfs owned by the user.
// A copy into each created container costs a daemon-side archive copy per
// run (DESIGN.md, "Engine modes"); a mount costs nothing, and works on a
// userns-remap daemon, which maps a copied archive's owners into its remap
// range.
type Identity struct {
	// PasswdFile and GroupFile are host paths to mount at /etc/passwd and
	// /etc/group; empty keeps the image's.
	PasswdFile string
	GroupFile  string
	// Home, when not empty, is mounted as a tmpfs owned by Plan.UID:GID.
	Home string
}

// Tmpfs is a tmpfs mount owned by UID:GID with Mode.
type Tmpfs struct {
	Target string
	UID    int
	GID    int
	Mode   os.FileMode
}

// makeIdentity publishes the identity files the plan needs (the image's
// passwd and group with the plan's entries added) in cache c, and says what
// to mount.
func makeIdentity(c cache.Dir, p idmap.Plan, passwd, group []byte) (Identity, error) {
	var id Identity
	if p.CreateHome && p.Home != "" {
		id.Home = p.Home
	}
	for _, f := range []struct {
		dst     *string
		content []byte
		line    string
		fields  int
		name    string
	}{
		{&id.PasswdFile, passwd, p.PasswdLine, 7, "passwd"},
		{&id.GroupFile, group, p.GroupLine, 4, "group"},
	} {
		if f.line == "" {
			continue
		}
		content, changed, err := AppendEntry(f.content, f.line, f.fields)
		if err != nil {
			return Identity{}, fmt.Errorf("adding to /etc/%s: %w", f.name, err)
		}
		if !changed {
			continue
		}
		if *f.dst, err = c.Publish(cache.Identity, f.name, content); err != nil {
			return Identity{}, fmt.Errorf("writing the container's /etc/%s: %w", f.name, err)
		}
	}
	return id, nil
}

// AppendEntry appends line, a passwd (fields 7) or group (fields 4) entry,
// to file unless an entry with the same id (the third field) is already
// there. It reports whether file changed.
func AppendEntry(file []byte, line string, fields int) ([]byte, bool, error) {
	line = strings.TrimRight(line, "\n")
	f := strings.Split(line, ":")
	if len(f) != fields || strings.ContainsAny(line, "\n") {
		return nil, false, fmt.Errorf("malformed entry %q: want %d fields", line, fields)
	}
	for l := range strings.Lines(string(file)) {
		if g := strings.Split(strings.TrimRight(l, "\r\n"), ":"); len(g) > 2 && g[2] == f[2] {
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

// withIdentity returns spec with its Identity turned into mounts.
func withIdentity(spec ContainerSpec) (ContainerSpec, error) {
	id := spec.Identity
	if id == (Identity{}) {
		return spec, nil
	}
	s := spec
	s.Mounts = append([]Mount(nil), spec.Mounts...)
	s.Tmpfs = append([]Tmpfs(nil), spec.Tmpfs...)
	for _, m := range []struct{ src, dst string }{{id.PasswdFile, "/etc/passwd"}, {id.GroupFile, "/etc/group"}} {
		if m.src == "" {
			continue
		}
		for _, have := range spec.Mounts {
			if have.Target == m.dst {
				return ContainerSpec{}, errors.New("the spec already mounts " + m.dst)
			}
		}
		s.Mounts = append(s.Mounts, Mount{Source: m.src, Target: m.dst, ReadOnly: true})
	}
	if id.Home != "" {
		s.Tmpfs = append(s.Tmpfs, Tmpfs{Target: id.Home, UID: spec.Plan.UID, GID: spec.Plan.GID, Mode: 0o755})
	}
	return s, nil
}
