package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/project"
	"github.com/hostpersist/hpr/runtime"
	"github.com/hostpersist/hpr/runtime/cache"
	"github.com/hostpersist/hpr/runtime/detect"
	"github.com/hostpersist/hpr/runtime/sshconn"
	"github.com/spf13/pflag"
)

// session is what every command that runs the project's container starts
// from: the project, the host user, the engine it runs on, and the
// resolver that answers what runs there. One function makes it, so run,
// build, exec and shell agree.
type session struct {
	proj     *project.Project
	cwd      string
	engine   *detect.Engine
	resolver *project.Resolver
}

// sessionOptions are the flags that choose a project and an engine.
type sessionOptions struct {
	engine  string // --engine
	image   string // --image: ad hoc, or replaces the project's image
	require project.Requirement
	// remoteRoot is --remote-root: the project's directory on a remote
	// engine's host ("" for hpr.toml's).
	remoteRoot string
	// onHost says that the command needs the project's files where the
	// engine runs (it mounts them, or builds for their owner).
	onHost  bool
	compose composeFlags
}

// composeFlags choose the service of a compose project and what of it the
// user allows: --service and --allow, on every command that opens the
// project.
type composeFlags struct {
	service string
	allow   []string
}

// add defines the flags on f.
func (c *composeFlags) add(f *pflag.FlagSet) {
	f.StringVar(&c.service, "service", "", "the compose service to run (default: the one that bind-mounts the project directory)")
	f.StringArrayVar(&c.allow, "allow", nil, "let the compose file have KEY: privileged, devices, network_mode, pid, ipc, or bind:HOST-PATH; repeatable")
}

// open opens the project of cwd with these flags.
func (c composeFlags) open(cwd string, o project.OpenOptions) (*project.Project, error) {
	o.Service, o.Allow = c.service, c.allow
	return project.Open(cwd, o)
}

// engineHelp is the help of a command's --engine flag.
const engineHelp = "the engine: a kind (docker, podman), an endpoint URI (unix://, tcp://, ssh://), or a Docker context or Podman connection name; default: detect"

// remoteRootHelp is the help of the --remote-root flag.
const remoteRootHelp = "the project's directory on a remote (ssh://) engine's host, kept in sync by you: hpr copies no files (default: [engine] remote_root)"

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
		return nil, fmt.Errorf("finding the working directory: %w", err)
	}
	p, err := o.compose.open(cwd, project.OpenOptions{Image: o.image, Require: o.require})
	if err != nil {
		return nil, err
	}
	runtime.Trace(ctx, "project")
	host, err := idmap.CurrentHost()
	if err != nil {
		return nil, fmt.Errorf("reading who you are: %w", err)
	}
	runtime.Trace(ctx, "host identity")
	e, err := detect.Pick(ctx, detect.Options{
		Engine:   o.engine,
		Prefer:   string(p.Engine.Prefer),
		Endpoint: p.Engine.Endpoint,
	})
	if err != nil {
		return nil, err
	}
	runtime.Trace(ctx, "detect engine + info")
	sess := &session{proj: p, cwd: cwd, engine: e, resolver: newResolver(e, host)}
	if e.About.Local && o.remoteRoot != "" {
		// The user meant a remote engine: running on this one would use
		// the local directory instead.
		e.Close()
		return nil, fmt.Errorf("--remote-root names the project's directory on a remote engine's host, but %s (%s) is on this machine: choose the remote engine (--engine ssh://…), or drop --remote-root", e.About.Endpoint, e.Source)
	}
	if !e.About.Local && o.onHost {
		var h project.EngineHost // none for a tcp:// engine
		if t, ok := engineHost(e); ok {
			h = t
		}
		if err := sess.resolver.RemoteProject(ctx, h, p, o.remoteRoot); err != nil {
			e.Close()
			return nil, err
		}
		runtime.Trace(ctx, "remote root's owner")
	}
	return sess, nil
}

// engineHost is the host of an ssh:// engine, reached over the engine's
// own ssh connection; false for any other engine.
func engineHost(e *detect.Engine) (sshconn.Target, bool) {
	if !strings.HasPrefix(e.About.Endpoint, "ssh://") {
		return sshconn.Target{}, false
	}
	t, err := sshconn.Parse(e.About.Endpoint, e.SSH)
	return t, err == nil
}

// newResolver is the resolver of projects on engine e for host user h.
func newResolver(e *detect.Engine, h idmap.Host) *project.Resolver {
	return &project.Resolver{Engine: e, Info: e.About, Host: h, Cache: cache.Open(), Version: version}
}

func (s *session) Close() {
	if s.engine != nil {
		s.engine.Close()
	}
}

// processLabels name this hpr process, its user and machine, so that gc
// and the next run can tell a container whose hpr was killed, and leave
// other users' alone on an engine they share.
func processLabels() map[string]string {
	host, _ := os.Hostname()
	return map[string]string{
		runtime.LabelPID:  strconv.Itoa(os.Getpid()),
		runtime.LabelHost: host,
		runtime.LabelUID:  strconv.Itoa(os.Getuid()),
	}
}
