package project

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/hostpersist/hpr/project/hostpath"
)

// ComposeNames are the compose file names Find looks for where there is no
// hpr.toml, in docker compose's order of preference.
var ComposeNames = []string{"compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml"}

// composeOverrideNames are the override files docker compose reads on top
// of a compose file it found by name.
var composeOverrideNames = []string{"compose.override.yaml", "compose.override.yml", "docker-compose.override.yml", "docker-compose.override.yaml"}

// IsCompose reports whether path names a compose file rather than an
// hpr.toml.
func IsCompose(path string) bool {
	return filepath.Base(path) != FileName
}

// ComposeOptions say which service of a compose file is the project, and
// what the user allowed it.
type ComposeOptions struct {
	// Service is the dev service (--service, [compose] service); empty:
	// the one service that bind-mounts the project directory.
	Service string
	// Allow lists what the user consented to (--allow, [compose] allow):
	// "privileged", "devices", "network_mode", "pid", "ipc", or
	// "bind:HOST-PATH".
	Allow []string
	// Root is the project directory; empty: the first file's directory.
	Root string
	// Overrides reads docker compose's override file next to the first
	// file (compose.override.yaml, ...), as docker compose does for a
	// file it found by name.
	Overrides bool
	// LookupEnv reads the process environment; nil: os.LookupEnv.
	LookupEnv func(string) (string, bool)
}

// composeFromEnv returns the files COMPOSE_FILE names (relative to cwd),
// or nil when it is unset.
func composeFromEnv(cwd string, lookup func(string) (string, bool)) []string {
	v, ok := lookup("COMPOSE_FILE")
	if !ok || v == "" {
		return nil
	}
	sep, ok := lookup("COMPOSE_PATH_SEPARATOR")
	if !ok || sep == "" {
		sep = string(os.PathListSeparator)
	}
	var files []string
	for _, f := range strings.Split(v, sep) {
		if f == "" {
			continue
		}
		if !filepath.IsAbs(f) {
			f = filepath.Join(cwd, f)
		}
		files = append(files, filepath.Clean(f))
	}
	return files
}

// overrideFile returns the override file next to compose file f, or "".
func overrideFile(f string) string {
	dir := filepath.Dir(f)
	for _, n := range composeOverrideNames {
		p := filepath.Join(dir, n)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

// findIn returns the project file in dir: hpr.toml, else the first compose
// file by ComposeNames; "" when there is none.
func findIn(dir string) (string, error) {
	for _, n := range slices.Concat([]string{FileName}, ComposeNames) {
		f := filepath.Join(dir, n)
		fi, err := os.Stat(f)
		switch {
		case err == nil && fi.Mode().IsRegular():
			return f, nil
		case err == nil:
			return "", fmt.Errorf("%s is not a regular file (remove it or make it a file)", f)
		case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		default:
			return "", fmt.Errorf("finding %s: %w", n, err)
		}
	}
	return "", nil
}

// LoadCompose loads compose files (later ones override earlier ones, as
// with docker compose -f a -f b) into a Project: the dev service's image
// and settings, and the services it depends on as companions. A problem
// is an *Error naming the file, the service and the key.
func LoadCompose(files []string, o ComposeOptions) (*Project, error) {
	if o.LookupEnv == nil {
		o.LookupEnv = os.LookupEnv
	}
	abs := make([]string, 0, len(files)+1)
	for _, f := range files {
		a, err := filepath.Abs(f)
		if err != nil {
			return nil, fmt.Errorf("loading %s: %w", f, err)
		}
		abs = append(abs, a)
	}
	if o.Overrides && len(abs) == 1 {
		if f := overrideFile(abs[0]); f != "" {
			abs = append(abs, f)
		}
	}
	root := o.Root
	if root == "" {
		root = filepath.Dir(abs[0])
	}
	hroot, err := hostpath.NewRoot(root)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", files[0], err)
	}
	real := hroot.Real
	g := fileGate{root: hroot, allow: o.Allow}
	env, err := newComposeEnv(filepath.Dir(abs[0]), o.LookupEnv, g)
	if err != nil {
		return nil, err
	}
	m, err := readModel(abs, env, g)
	if err != nil {
		return nil, err
	}
	c := &composer{model: m, env: env, opts: o, root: root, realRoot: real, hroot: hroot}
	p, err := c.project()
	if err != nil {
		return nil, err
	}
	if err := checkRaces(hroot, p); err != nil {
		return nil, err
	}
	p.Path = abs[0]
	for _, c := range p.Companions {
		c.Project.Path = abs[0]
	}
	return p, nil
}
