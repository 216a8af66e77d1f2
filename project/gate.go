package project

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hostpersist/hpr/project/hostpath"
	"github.com/hostpersist/hpr/runtime"
)

// The one gate for every host path a project names that hpr or the engine
// will touch: bind sources (checked again right before each container is
// created: Resolved.Gate), build contexts and Dockerfiles, env files, .env
// and extends files (read or sent at load). Each is resolved beneath the
// project's real root (hostpath); a path that leaves it, that hpr cannot
// resolve, or an engine's socket is refused unless the user consented to
// KIND:WHERE-IT-POINTS. A missing bind source inside the project is
// created by hpr, as the user, right before the create, and checked again.

// Kinds of host access, the prefixes of their consent keys.
const (
	// KindBind: the container mounts the path.
	KindBind = "bind"
	// KindRead: hpr reads the file or sends it to the engine.
	KindRead = "read"
	// AllowRead is the prefix of a read's consent, like AllowBind.
	AllowRead = KindRead + ":"
)

// Gate is a bind mount source the gate checks again right before the
// container that mounts it is created.
type Gate struct {
	// Target is the mount's target in the container: it names the mount
	// in the spec.
	Target string
	// Written is the source as the project wrote it (absolute).
	Written string
	// Real is where it resolved when the project was loaded.
	Real string
	// What names it for a message: `service "web": volumes: ./d/sub`.
	What string
	// At is where it was written (Path, Line, Key; no Msg).
	At Error
	// Allow are the keys the user granted.
	Allow []string
	// Missing is true when the source did not exist at load: hpr creates
	// it, inside the project, before the create.
	Missing bool
}

// Refusal is the vocabulary's one-line refusal: what needs consent, where
// it points, and the two ways to grant it.
func Refusal(at Error, what, key string) *Error {
	at.Msg = fmt.Sprintf("%s; a project cannot grant this itself (for this run: hpr run --allow %s; to record it: hpr trust --allow %s)", what, key, key)
	return &at
}

// judged is the gate's answer for one path.
type judged struct {
	// real is the path to use: symlink-free.
	real    string
	missing bool
	// key and what are set when the path needs consent it lacks.
	key, what string
}

// judge decides on host path p (absolute, as written) of kind bind or
// read, named name in messages.
func judge(root hostpath.Root, p, kind, name string, allow []string) judged {
	res := root.Resolve(p)
	granted := func(at string) bool { return slices.Contains(allow, kind+":"+at) }
	switch res.Verdict {
	case hostpath.Inside, hostpath.Missing:
		if kind == KindBind && isEngineSocket(res.Path) && !granted(res.Path) {
			return judged{key: kind + ":" + res.Path, what: fmt.Sprintf("%s is a container engine's socket %s, which gives the container control of the engine (root on this machine for a rootful one)", name, res.Path)}
		}
		return judged{real: res.Path, missing: res.Verdict == hostpath.Missing}
	case hostpath.Outside:
		if granted(res.Path) {
			return judged{real: res.Path}
		}
		how := "points to " + res.Path
		if filepath.Clean(p) == res.Path {
			how = "is " + res.Path
		}
		hint := "outside the project " + root.Real
		if kind == KindBind && isEngineSocket(res.Path) {
			hint = "a container engine's socket, which gives the container control of the engine (root on this machine for a rootful one)"
		}
		if rel, err := filepath.Rel(root.Real, res.Path); err == nil && filepath.IsLocal(rel) {
			hint = "through an absolute symlink (make the link relative to keep it inside the project)"
		}
		return judged{key: kind + ":" + res.Path, what: fmt.Sprintf("%s %s, %s", name, how, hint)}
	}
	if granted(res.Path) {
		return judged{real: res.Path}
	}
	return judged{key: kind + ":" + res.Path, what: fmt.Sprintf("%s cannot be resolved inside the project (%v): it points to %s", name, res.Err, res.Path)}
}

// check is judge at a gate: the path to use now, or the refusal. A missing
// source is created inside the project first.
func (g Gate) check(root hostpath.Root) (string, error) {
	j := judge(root, g.Written, KindBind, g.What, g.Allow)
	if j.what != "" {
		return "", Refusal(g.At, j.what, j.key)
	}
	if j.missing {
		res := root.MkdirAll(j.real, 0o755)
		if res.Verdict != hostpath.Inside {
			return "", Refusal(g.At, fmt.Sprintf("%s did not exist, and creating it inside the project failed (%v): it points to %s", g.What, res.Err, res.Path), KindBind+":"+res.Path)
		}
		return res.Path, nil
	}
	if !g.Missing && j.real != g.Real && !slices.Contains(g.Allow, KindBind+":"+j.real) {
		return "", Refusal(g.At, fmt.Sprintf("%s resolved to %s when the project was loaded and now points to %s (something changed it while the run started)", g.What, g.Real, j.real), KindBind+":"+j.real)
	}
	return j.real, nil
}

// readable is judge for a file hpr reads or sends: its real path, or the
// refusal at at.
func readable(root hostpath.Root, p, name string, allow []string, at Error) (string, error) {
	j := judge(root, p, KindRead, name, allow)
	if j.what != "" {
		return "", Refusal(at, j.what, j.key)
	}
	return j.real, nil
}

// ancestorOf reports whether dir is a strict ancestor of p.
func ancestorOf(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != "." && filepath.IsLocal(rel)
}

// writer is a container of a run that can write a host directory.
type writer struct {
	service string
	dir     string
}

// racy reports the earlier container that can swap a component of bind g
// for a symlink before g's container is created: one that writes a strict
// ancestor of the path, or, where the path goes through a symlink, any
// directory of the project (the link's own directory may be anywhere).
func racy(root hostpath.Root, g Gate, earlier []writer) (writer, bool) {
	lexical := filepath.Join(root.Real, writtenBelow(root, g.Written))
	for _, w := range earlier {
		if ancestorOf(w.dir, g.Real) || ancestorOf(w.dir, lexical) {
			return w, true
		}
		if lexical != g.Real && (w.dir == root.Real || ancestorOf(root.Real, w.dir)) {
			return w, true
		}
	}
	return writer{}, false
}

// writtenBelow is p below the root as written, as given or real; "." otherwise.
func writtenBelow(root hostpath.Root, p string) string {
	for _, b := range []string{root.Given, root.Real} {
		if rel, err := filepath.Rel(b, p); err == nil && filepath.IsLocal(rel) {
			return rel
		}
	}
	return "."
}

// checkRaces refuses, without consent, a bind of a path below the project
// root that a container started earlier in the run can write an ancestor
// of: it could swap a directory for a symlink out between the check right
// before the create and the engine's own resolution of the path. p's
// companions start in order, then p.
func checkRaces(root hostpath.Root, p *Project) error {
	var earlier []writer
	containers := make([]*Project, 0, len(p.Companions)+1)
	names := make([]string, 0, len(p.Companions)+1)
	for _, c := range p.Companions {
		containers, names = append(containers, c.Project), append(names, c.Name)
	}
	containers, names = append(containers, p), append(names, p.Service)
	for i, c := range containers {
		for _, g := range c.Run.Gates {
			if g.Real == root.Real || !strings.HasPrefix(g.Real, root.Real+"/") {
				continue // the root itself, or a consented path outside
			}
			if w, ok := racy(root, g, earlier); ok && !slices.Contains(g.Allow, KindBind+":"+g.Real) {
				return Refusal(g.At, fmt.Sprintf("%s (%s) is below %s, which service %q, started earlier in the run, can write: it could swap a directory on the way for a symlink out of the project before this container is created", g.What, g.Real, w.dir, w.service), KindBind+":"+g.Real)
			}
		}
		if c.Run.Mount != "" {
			earlier = append(earlier, writer{names[i], root.Real})
		}
		for _, m := range c.Run.Mounts {
			if !m.ReadOnly {
				earlier = append(earlier, writer{names[i], m.Source})
			}
		}
	}
	return nil
}

// gate is the check of p's bind sources right before its container is
// created: each is judged again as it resolves now, a missing one created
// inside the project, and the spec given the paths as they resolve now.
// Nil on a remote engine (the paths are that host's) or without binds.
func (r *Resolver) gate(p *Project) runtime.Gate {
	if r.RemoteRoot != "" || len(p.Run.Gates) == 0 {
		return nil
	}
	gates := p.Run.Gates
	return func(spec runtime.ContainerSpec) (runtime.ContainerSpec, error) {
		root, err := hostpath.NewRoot(p.Root)
		if err != nil {
			return spec, err
		}
		mounts := slices.Clone(spec.Mounts)
		for i, m := range mounts {
			k := slices.IndexFunc(gates, func(g Gate) bool { return g.Target == m.Target })
			if k < 0 || m.Project {
				continue
			}
			if mounts[i].Source, err = gates[k].check(root); err != nil {
				return spec, err
			}
		}
		spec.Mounts = mounts
		return spec, nil
	}
}
