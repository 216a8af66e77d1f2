package project

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/project/hostpath"
)

// Requirement is what a command cannot do without.
type Requirement int

// Requirements of the commands.
const (
	// RequireNothing: the project file if there is one; otherwise an ad
	// hoc project whose directory is not used (conformance).
	RequireNothing Requirement = iota
	// RequireDirectory: a project file, or the working directory as the
	// project (doctor).
	RequireDirectory
	// RequireImage: a project file, or --image for an ad hoc project (run).
	RequireImage
	// RequireFile: a project file (build, exec, shell).
	RequireFile
)

// OpenOptions choose a project.
type OpenOptions struct {
	// Image is --image: the image of an ad hoc project, or a replacement
	// for the project file's image.
	Image   string
	Require Requirement
	// Service and Allow are --service and --allow: which compose service
	// is the project, and what of it the user consents to (ComposeOptions).
	Service string
	Allow   []string
	// LookupEnv reads the environment (COMPOSE_FILE, a compose file's
	// variables); nil: os.LookupEnv.
	LookupEnv func(string) (string, bool)
}

// Open returns the project of the working directory cwd: the nearest
// hpr.toml or compose file in cwd or above (COMPOSE_FILE, when set, names
// the compose files where no hpr.toml is found), or, where the command
// allows it, cwd as an ad hoc project. It refuses / as a project, and
// warns (Project.Warnings) when the project is the home directory. Every
// command finds its project here, so they agree on which it is and say the
// same when there is none.
func Open(cwd string, o OpenOptions) (*Project, error) {
	if o.LookupEnv == nil {
		o.LookupEnv = os.LookupEnv
	}
	path, err := Find(cwd)
	var p *Project
	if err == nil || errors.Is(err, ErrNoProject) {
		var lerr error
		if p, lerr = open(cwd, path, o); lerr != nil {
			return nil, lerr
		}
	}
	switch {
	case p != nil:
		if o.Image != "" {
			p.Image = Image{Ref: o.Image}
		}
	case !errors.Is(err, ErrNoProject):
		return nil, err
	case o.Require == RequireFile:
		return nil, err
	case o.Require == RequireImage && o.Image == "":
		return nil, fmt.Errorf("no %s here or above %s: pass --image IMG to run ad hoc, or create one with `hpr init`", FileName, cwd)
	case o.Require == RequireNothing:
		return AdHoc(cwd, o.Image), nil
	default:
		p = AdHoc(cwd, o.Image)
	}
	if p.RealRoot == "/" {
		return nil, errors.New("refusing to use / as the project: it would give the container the whole machine; run hpr from the project's directory, or put an hpr.toml there")
	}
	if home, err := os.UserHomeDir(); err == nil {
		if real, err := filepath.EvalSymlinks(home); err == nil && real == p.RealRoot {
			p.Warnings = append(p.Warnings, fmt.Sprintf("the project is your home directory %s: the container can change everything in it; run hpr from a project directory instead", home))
		}
	}
	p.Warnings = append(p.Warnings, exposedPorts(p)...)
	if (o.Require == RequireImage || o.Require == RequireFile) && !p.Image.Building() && p.Image.Ref == "" {
		return nil, fmt.Errorf("%s: [image] has neither ref nor build: set one, or pass --image IMG", p.Path)
	}
	return p, nil
}

// open loads the project file found at path ("" when none was found): an
// hpr.toml, the compose files COMPOSE_FILE names, or a compose file found
// by name with its override file. It returns nil, nil when there is
// nothing to load.
func open(cwd, path string, o OpenOptions) (*Project, error) {
	co := ComposeOptions{Service: o.Service, Allow: o.Allow, LookupEnv: o.LookupEnv}
	switch {
	case path != "" && !IsCompose(path):
		return loadFile(path, co)
	case composeFromEnv(cwd, o.LookupEnv) != nil:
		return LoadCompose(composeFromEnv(cwd, o.LookupEnv), co)
	case path != "":
		co.Overrides = true
		return LoadCompose([]string{path}, co)
	}
	return nil, nil
}

// Find looks for hpr.toml, or else a compose file (ComposeNames), in dir
// and then in each parent up to /, and returns the path of the first
// found. The walk follows the path as given
// (so a project reached through a symlink keeps that path); when it finds
// nothing and dir contains symlinks, it walks the resolved path too. It
// returns an error wrapping ErrNoProject, naming dir, when there is none.
func Find(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("finding %s: %w", FileName, err)
	}
	f, err := findUp(abs)
	if f != "" || err != nil {
		return f, err
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil && real != abs {
		if f, err := findUp(real); f != "" || err != nil {
			return f, err
		}
	}
	return "", fmt.Errorf("%w in %s or any parent directory (create one with `hpr init`)", ErrNoProject, abs)
}

// findUp walks from dir to / and returns the first project file found
// (findIn); "" and no error when there is none.
func findUp(dir string) (string, error) {
	for d := dir; ; {
		f, err := findIn(d)
		if f != "" || err != nil {
			return f, err
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", nil
		}
		d = parent
	}
}

// AdHoc returns the project `hpr run --image` uses when there is no
// hpr.toml: dir is the root, image the image, everything else defaults.
func AdHoc(dir, image string) *Project {
	root, err := filepath.Abs(dir)
	if err != nil {
		root = filepath.Clean(dir)
	}
	real, err := filepath.EvalSymlinks(root)
	if err != nil {
		real = root
	}
	p := &Project{Root: root, RealRoot: real, Name: sanitizeName(filepath.Base(real))}
	p.Image.Ref = image
	p.Run.Mount = DefaultMount
	p.Run.User = idmap.OverrideAuto
	p.Run.CapDrop = defaultCapDrop(nil)
	return p
}

// Load reads, validates and resolves the hpr.toml at path. A problem in the
// file is returned as an *Error, one at a time: syntax first, then unknown
// keys and wrong types, then bad values, each group the first in the file
// first.
// Load reads only hpr.toml: whether the build context or Dockerfile exists
// is for the build to say.
func Load(path string) (*Project, error) {
	return loadFile(path, ComposeOptions{})
}

// loadFile is Load with the options of the compose file the hpr.toml may
// name ([compose] file), which it adds to.
func loadFile(path string, o ComposeOptions) (*Project, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", path, err)
	}
	data, err := readProjectFile(path, "an "+FileName)
	var limit *Error
	if errors.As(err, &limit) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("loading project: %w", err)
	}
	dir := filepath.Dir(abs)
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, fmt.Errorf("loading %s: resolving its directory: %w", path, err)
	}
	root, err := hostpath.NewRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", path, err)
	}
	l := &loader{path: path, dir: dir, name: sanitizeName(filepath.Base(real)), src: string(data), compose: o, root: root}
	p, e := l.load()
	if e != nil {
		return nil, e
	}
	p.Path = abs
	p.Root = dir
	p.RealRoot = real
	return p, nil
}
