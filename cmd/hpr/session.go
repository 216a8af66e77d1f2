package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/runtime"
	"github.com/hostpersist/hpr/runtime/detect"
	"github.com/hostpersist/hpr/project"
)

// session is what every project command starts from: the project (from
// hpr.toml, or ad hoc), the host user, and the engine it runs on. One
// function makes it, so run, build, exec, shell, doctor and gc agree.
type session struct {
	proj   *project.Project
	adHoc  bool
	cwd    string
	host   idmap.Host
	engine *detect.Engine
	// warnings are printed by the command before it runs anything.
	warnings []string
}

// sessionOptions are the flags that choose a project and an engine.
type sessionOptions struct {
	engine string // --engine
	image  string // --image: ad hoc, or replaces hpr.toml's image
	// needProject refuses to run without an hpr.toml (exec, shell, build).
	needProject bool
}

// exitCodeFor maps an error to hpr's exit code: 125 for everything hpr or
// the engine failed at (docker run's convention).
func exitCodeFor(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return exitFailure
}

func openSession(ctx context.Context, o sessionOptions) (*session, error) {
	cwd, err := os.Getwd()
	if err != nil {
		return nil, withCode(exitFailure, fmt.Errorf("finding the working directory: %w", err))
	}
	s := &session{cwd: cwd}
	path, err := project.Find(cwd)
	switch {
	case err == nil:
		if s.proj, err = project.Load(path); err != nil {
			return nil, withCode(exitFailure, err)
		}
		if o.image != "" {
			s.proj.Image = project.Image{Ref: o.image}
		}
	case errors.Is(err, project.ErrNoProject):
		if o.needProject {
			return nil, withCode(exitFailure, err)
		}
		if o.image == "" {
			return nil, withCode(exitFailure, fmt.Errorf("no hpr.toml here or above %s: pass --image IMG to run ad hoc, or create one with `hpr init`", cwd))
		}
		s.proj = project.AdHoc(cwd, o.image)
		s.adHoc = true
	default:
		return nil, withCode(exitFailure, err)
	}
	if err := checkRoot(s.proj.RealRoot, s); err != nil {
		return nil, err
	}
	if !s.proj.Image.Building() && s.proj.Image.Ref == "" {
		return nil, withCode(exitFailure, fmt.Errorf("%s: [image] has neither ref nor build: set one, or pass --image IMG", s.proj.Path))
	}
	runtime.Trace("project")
	if s.host, err = idmap.CurrentHost(); err != nil {
		return nil, withCode(exitFailure, fmt.Errorf("reading who you are: %w", err))
	}
	runtime.Trace("host identity")
	s.engine, err = detect.Pick(ctx, detect.Options{
		Engine:   o.engine,
		Prefer:   string(s.proj.Engine.Prefer),
		Endpoint: s.proj.Engine.Endpoint,
	})
	if err != nil {
		return nil, withCode(exitFailure, err)
	}
	runtime.Trace("detect engine + info")
	if !s.engine.About.Local {
		s.engine.Close()
		return nil, withCode(exitFailure, fmt.Errorf("%s is not a local engine: hpr bind-mounts the project directory, which a remote engine cannot see", s.engine.About.Endpoint))
	}
	return s, nil
}

// checkRoot refuses project roots that would hand a container the machine:
// "/" itself. The home directory is allowed, with a warning, because
// everything under it becomes writable by the container.
func checkRoot(root string, s *session) error {
	if root == "/" {
		return withCode(exitFailure, fmt.Errorf("refusing to mount / as the project: run hpr from the project's directory, or put an hpr.toml there"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		if real, err := filepath.EvalSymlinks(home); err == nil && real == root {
			s.warnings = append(s.warnings, fmt.Sprintf("the project is your home directory %s: the container can change everything in it; run hpr from a project directory instead", home))
		}
	}
	return nil
}

func (s *session) Close() {
	if s.engine != nil {
		s.engine.Close()
	}
}

// projectLabels are the labels every container hpr starts for the project
// at root carries: the project, hpr's version, and this hpr process (so gc
// can tell a container whose hpr was killed).
func projectLabels(root string) map[string]string {
	l := processLabels()
	l[runtime.LabelProject] = root
	l[runtime.LabelVersion] = version
	return l
}

// processLabels name this hpr process and machine.
func processLabels() map[string]string {
	host, _ := os.Hostname()
	return map[string]string{
		runtime.LabelPID:  strconv.Itoa(os.Getpid()),
		runtime.LabelHost: host,
	}
}

// labels are the labels every container of this project carries.
func (s *session) labels() map[string]string { return projectLabels(s.proj.RealRoot) }
