package project

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/runtime"
)

// EngineHost is the machine a remote engine runs on, as hpr reaches it
// (runtime/sshconn, over the engine's own ssh connection). A bind mount
// names a path there, so the project's files must be there, and they are
// that machine's users': what hpr knows of the local user says nothing
// about them.
type EngineHost interface {
	// Owner says who owns dir there, with their subordinate id ranges
	// there, and the uid hpr logs in as (whose a rootless engine is).
	Owner(ctx context.Context, dir string) (owner idmap.Host, login int, err error)
	// Publish puts files (content-addressed name → content) where
	// containers of the engine may mount them, and returns their paths
	// there by name.
	Publish(ctx context.Context, files map[string][]byte) (map[string]string, error)
	// ReadFile returns a file's content there.
	ReadFile(ctx context.Context, path string) ([]byte, error)
}

// RemoteProject prepares r, whose engine is remote (Info.Local false), for
// project p: root (--remote-root; "" for p's [engine] remote_root) is the
// project's directory on h, the engine's host (nil when hpr cannot reach
// that host: a tcp:// engine). hpr does not copy files there; without a
// root, or without h, it refuses, saying how to keep a copy in sync. A
// root that hpr.toml names must hold the same hpr.toml: a project file
// cannot make hpr mount another directory of that host.
func (r *Resolver) RemoteProject(ctx context.Context, h EngineHost, p *Project, root string) error {
	fromFile := root == ""
	if fromFile {
		root = p.Engine.RemoteRoot
	}
	switch {
	case root == "":
		return fmt.Errorf("%s is a remote engine: it mounts the project from its own host, and hpr does not copy files there; keep a copy of the project on that host (a shared or network file system, sshfs, mutagen, unison, rsync) and name it with --remote-root PATH or [engine] remote_root", r.Info.Endpoint)
	case h == nil:
		return fmt.Errorf("%s is a remote engine that hpr reaches without ssh, so it cannot learn who owns %s there: reach it with an ssh:// endpoint", r.Info.Endpoint, root)
	}
	if msg := checkRemoteRoot(root); msg != "" {
		return fmt.Errorf("--remote-root %q %s", root, msg)
	}
	if fromFile && p.Path != "" {
		if err := sameProjectFile(ctx, h, p, root); err != nil {
			return err
		}
	}
	return r.OnHost(ctx, h, root)
}

// sameProjectFile checks that root on h holds p's hpr.toml, unchanged.
func sameProjectFile(ctx context.Context, h EngineHost, p *Project, root string) error {
	local, err := os.ReadFile(p.Path)
	if err != nil {
		return fmt.Errorf("reading %s: %w", p.Path, err)
	}
	there, err := h.ReadFile(ctx, path.Join(root, FileName))
	if err == nil && bytes.Equal(local, there) {
		return nil
	}
	why := "it holds a different " + FileName
	if err != nil {
		why = fmt.Sprintf("reading its %s: %v", FileName, err)
	}
	return &Error{Path: p.Path, Line: p.Engine.RemoteRootLine, Key: "engine.remote_root", Msg: fmt.Sprintf(
		"[engine] remote_root %q is not a copy of this project on the engine's host (%s): sync the project there, or name the directory yourself with --remote-root PATH", root, why)}
}

// OnHost makes r resolve for files in dir on the engine's host h: the
// project mount's source is dir, files land as dir's owner there (r.Host,
// asked of h, never assumed to be the local user), and the identity files
// the plan mounts are published there. A rootless engine there writes as
// the user it belongs to, so dir must be that user's. hpr run (through
// RemoteProject) and hpr conformance (for its test directory) both start
// here.
func (r *Resolver) OnHost(ctx context.Context, h EngineHost, dir string) error {
	owner, login, err := h.Owner(ctx, dir)
	if err != nil {
		return fmt.Errorf("asking who owns %s on the host of %s: %w", dir, r.Info.Endpoint, err)
	}
	if (r.Info.Mode == idmap.DockerRootless || r.Info.Mode == idmap.PodmanRootless) && owner.UID != login {
		return fmt.Errorf("%s on the host of %s is owned by uid %d, but the engine is %s, whose containers' files land as the user it belongs to (uid %d, whom hpr logs in as): use a directory of that user's", dir, r.Info.Endpoint, owner.UID, r.Info.Mode, login)
	}
	r.Host, r.Remote, r.RemoteRoot = owner, h, dir
	return nil
}

// checkRemoteRoot checks a project directory on the engine's host.
func checkRemoteRoot(dir string) string {
	switch {
	case !path.IsAbs(dir):
		return "is not an absolute path (write the directory's full path on the engine's host)"
	case path.Clean(dir) != dir:
		return fmt.Sprintf("is not a clean path (write %q)", path.Clean(dir))
	case dir == "/":
		return "is the whole machine: name the project's directory there"
	}
	for _, c := range dir {
		if c < ' ' || c == 0x7f {
			return "contains control characters"
		}
	}
	return ""
}

// place makes the identity files of a plan mountable by the engine: on a
// remote engine's host, where the local cache's paths mean nothing, they
// are published and their paths there replace the local ones.
func (r *Resolver) place(ctx context.Context, p runtime.Planned) (runtime.Planned, error) {
	if r.Remote == nil {
		return p, nil
	}
	local := []*string{&p.Identity.PasswdFile, &p.Identity.GroupFile}
	files := map[string][]byte{}
	for _, f := range local {
		if *f == "" {
			continue
		}
		b, err := os.ReadFile(*f)
		if err != nil {
			return p, fmt.Errorf("reading the container's identity files: %w", err)
		}
		files[filepath.Base(*f)] = b
	}
	if len(files) == 0 {
		return p, nil
	}
	there, err := r.Remote.Publish(ctx, files)
	if err != nil {
		return p, fmt.Errorf("publishing the container's identity files on the host of %s: %w", r.Info.Endpoint, err)
	}
	for _, f := range local {
		if *f != "" {
			*f = there[filepath.Base(*f)]
		}
	}
	runtime.Trace(ctx, "identity files published")
	return p, nil
}

// onEngineHost returns the project's bind mounts (all inside the project:
// a compose file's binds elsewhere need consent) with their sources on the
// engine's host: under RemoteRoot when the engine is remote.
func (r *Resolver) onEngineHost(p *Project, mounts []runtime.Mount) []runtime.Mount {
	if r.RemoteRoot == "" {
		return mounts
	}
	out := make([]runtime.Mount, len(mounts))
	for i, m := range mounts {
		for _, root := range []string{p.Root, p.RealRoot} {
			if rel, err := filepath.Rel(root, m.Source); root != "" && err == nil && filepath.IsLocal(rel) {
				m.Source = filepath.Join(r.RemoteRoot, rel)
				break
			}
		}
		out[i] = m
	}
	return out
}
