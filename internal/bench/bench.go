package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/project"
	"github.com/hostpersist/hpr/runtime"
	"github.com/hostpersist/hpr/runtime/cache"
	"github.com/hostpersist/hpr/runtime/detect"
)

// bench holds the workspace and the engines opened in-process.
type bench struct {
	cfg *config
	rep *report

	host     idmap.Host
	uid, gid int

	adhoc, p1, p100k, blog, s1, s100k string

	opened  map[string]*detect.Engine // by mode; nil when it did not open
	openErr map[string]string
	blogTag map[string]string // by mode
	blogErr map[string]string
}

const manyFiles = 100_000

func (b *bench) setup(ctx context.Context) error {
	c := b.cfg
	var err error
	if b.host, err = idmap.CurrentHost(); err != nil {
		return err
	}
	b.uid, b.gid = os.Getuid(), os.Getgid()
	b.adhoc = filepath.Join(c.work, "adhoc")
	b.p1 = filepath.Join(c.work, "p1")
	b.p100k = filepath.Join(c.work, "p100k")
	b.blog = filepath.Join(c.work, "blog")
	b.s1 = filepath.Join(c.work, "s1")
	b.s100k = filepath.Join(c.work, "s100k")
	refToml := fmt.Sprintf("[image]\nref = %q\n", c.image)
	seedToml := "[image]\nbuild = \".\"\n\n[run]\ncommand = [\"true\"]\n"
	seedDockerfile := "FROM " + c.image + "\nARG UID=1000\nARG GID=1000\nWORKDIR /app\nUSER ${UID}:${GID}\n"
	seedCompose := `version: "3"
services:
  app:
    build:
      context: .
      args:
        UID: "${UID}"
        GID: "${GID}"
    command: ["true"]
    volumes:
      - .:/app
`
	files := map[string]string{
		filepath.Join(b.adhoc, ".keep"):              "",
		filepath.Join(b.p1, "hpr.toml"):              refToml,
		filepath.Join(b.p100k, "hpr.toml"):           refToml,
		filepath.Join(b.s1, "hpr.toml"):              seedToml,
		filepath.Join(b.s1, "Dockerfile"):            seedDockerfile,
		filepath.Join(b.s1, "docker-compose.yml"):    seedCompose,
		filepath.Join(b.s1, "index.html"):            "<p>hello</p>\n",
		filepath.Join(b.s100k, "hpr.toml"):           seedToml,
		filepath.Join(b.s100k, "Dockerfile"):         seedDockerfile,
		filepath.Join(b.s100k, "docker-compose.yml"): seedCompose,
		filepath.Join(b.s100k, "index.html"):         "<p>hello</p>\n",
	}
	for path, content := range files {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			return err
		}
	}
	if _, err := os.Stat(filepath.Join(b.blog, "hpr.toml")); err != nil {
		return fmt.Errorf("%s: the copy of examples/blog is missing (scripts/bench.sh makes it): %w", b.blog, err)
	}
	t := time.Now()
	for _, dir := range []string{b.p100k, b.s100k} {
		if err := makeFiles(dir, manyFiles); err != nil {
			return err
		}
	}
	logf("setup: %d files in each of p100k and s100k (%s)", manyFiles, time.Since(t).Round(time.Millisecond))
	b.openEngines(ctx)
	return nil
}

// openEngines opens every engine measured once, and records its version
// and storage, or why it could not be opened, for the report.
func (b *bench) openEngines(ctx context.Context) {
	c := b.cfg
	b.opened = map[string]*detect.Engine{}
	b.openErr = map[string]string{}
	for _, e := range c.engines {
		oc, cancel := context.WithTimeout(ctx, 20*time.Second)
		eng, err := detect.Pick(oc, detect.Options{Engine: e.Endpoint, NoPrivateService: true})
		cancel()
		if err != nil {
			b.openErr[e.Mode] = err.Error()
			b.rep.machine.engines = append(b.rep.machine.engines, engineInfo{Mode: e.Mode, Endpoint: e.Endpoint, Err: err.Error()})
			logf("setup: %s: %v", e.Mode, err)
			continue
		}
		b.opened[e.Mode] = eng
		b.rep.machine.engines = append(b.rep.machine.engines, engineInfo{Mode: e.Mode, Endpoint: e.Endpoint,
			Version: eng.About.Facts.Version, Storage: eng.About.StorageDriver})
		if got := string(eng.About.Mode); got != e.Mode {
			logf("setup: %s: the engine says it is %s", e.Mode, got)
		}
	}
}

// makeFiles fills dir with n small files, 1000 to a directory, a few
// directories at a time.
func makeFiles(dir string, n int) error {
	dirs := (n + 999) / 1000
	errs := make(chan error, dirs)
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for d := range dirs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			sub := filepath.Join(dir, "src", fmt.Sprintf("d%03d", d))
			if err := os.MkdirAll(sub, 0o755); err != nil {
				errs <- err
				return
			}
			for i := d * 1000; i < min(n, (d+1)*1000); i++ {
				if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%04d.txt", i%1000)), []byte("x\n"), 0o644); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// env is the environment every child runs with: what `env -i HOME=...
// XDG_RUNTIME_DIR=... PATH=/usr/bin:/bin` gives, plus extra.
func (b *bench) env(extra ...string) []string {
	e := []string{"HOME=" + os.Getenv("HOME"), "XDG_RUNTIME_DIR=" + os.Getenv("XDG_RUNTIME_DIR"), "PATH=/usr/bin:/bin"}
	return append(e, extra...)
}

func (b *bench) hprCmd(dir string, args ...string) command {
	return command{dir: dir, env: b.env(), argv: append([]string{b.cfg.hpr}, args...)}
}

// tracedHPR is hprCmd with HPR_TRACE=1, its steps parsed into the result.
// Tracing costs a clock read and a short write to stderr per step
// (microseconds), so the traced runs are the timed ones.
func (b *bench) tracedHPR(dir string, args ...string) command {
	c := b.hprCmd(dir, args...)
	c.env = append(c.env, "HPR_TRACE=1")
	c.trace = true
	return c
}

// cliRun is the engine's own CLI doing what `hpr run --image IMG -- true`
// does on that mode.
func (b *bench) cliRun(e engineRef, dir string) command {
	ug := fmt.Sprintf("%d:%d", b.uid, b.gid)
	mount := []string{"-v", dir + ":/app", "-w", "/app"}
	switch e.Mode {
	case "docker-rootful":
		return command{dir: dir, env: b.env("DOCKER_HOST=" + e.Endpoint),
			argv: cat([]string{b.cfg.docker, "run", "--rm", "--user", ug}, mount, []string{b.cfg.image, "true"})}
	case "docker-userns-remap":
		return command{dir: dir, env: b.env("DOCKER_HOST=" + e.Endpoint),
			argv: cat([]string{b.cfg.docker, "run", "--rm", "--userns=host", "--user", ug}, mount, []string{b.cfg.image, "true"})}
	case "docker-rootless":
		return command{dir: dir, env: b.env("DOCKER_HOST=" + e.Endpoint),
			argv: cat([]string{b.cfg.docker, "run", "--rm"}, mount, []string{b.cfg.image, "true"})}
	case "podman-rootless":
		return command{dir: dir, env: b.env(),
			argv: cat([]string{b.cfg.podman, "--url", e.Endpoint, "run", "--rm", "--userns=keep-id"}, mount, []string{b.cfg.image, "true"})}
	case "podman-rootful":
		return command{dir: dir, env: b.env(),
			argv: cat([]string{b.cfg.podman, "--url", e.Endpoint, "run", "--rm", "--user", ug}, mount, []string{b.cfg.image, "true"})}
	}
	return command{argv: []string{"false"}}
}

// cliLine is cliRun as the report shows it.
func (b *bench) cliLine(e engineRef) string {
	c := b.cliRun(e, "DIR")
	argv := slicesReplace(c.argv, b.cfg.docker, "docker")
	argv = slicesReplace(argv, b.cfg.podman, "podman")
	s := strings.Join(argv, " ")
	if strings.HasPrefix(e.Mode, "docker") {
		s = "DOCKER_HOST=… " + s
	}
	return strings.ReplaceAll(s, e.Endpoint, "EP")
}

func slicesReplace(s []string, old, new string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		if v == old {
			v = new
		}
		out[i] = v
	}
	return out
}

func cat(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// timedEngine records how long each call of the run sequence takes.
type timedEngine struct {
	runtime.Engine
	t *stepTimer
}

func (e timedEngine) Create(ctx context.Context, s runtime.ContainerSpec) (string, error) {
	defer e.t.since("create", time.Now())
	return e.Engine.Create(ctx, s)
}

func (e timedEngine) Attach(ctx context.Context, id string, s runtime.Streams) (<-chan error, error) {
	defer e.t.since("attach", time.Now())
	return e.Engine.Attach(ctx, id, s)
}

func (e timedEngine) Start(ctx context.Context, id string) error {
	defer e.t.since("start", time.Now())
	return e.Engine.Start(ctx, id)
}

func (e timedEngine) Wait(ctx context.Context, id string) (int, error) {
	start := time.Now()
	code, err := e.Engine.Wait(ctx, id)
	// A wait Run stopped because Exited answered first is not a step.
	if ctx.Err() == nil {
		e.t.since("wait", start)
	}
	return code, err
}

func (e timedEngine) Exited(ctx context.Context, id string) (runtime.ExitState, error) {
	defer e.t.since("exited", time.Now())
	return e.Engine.Exited(ctx, id)
}

func (e timedEngine) Remove(ctx context.Context, id string) error {
	defer e.t.since("remove", time.Now())
	return e.Engine.Remove(ctx, id)
}

// rawArm runs `true` through runtime.Run on an engine opened once, with the
// spec hpr would make (same plan, identity mounts, project mount, labels):
// the floor hpr's own work sits on.
func (b *bench) rawArm(ctx context.Context, mode, dir, ref string) (func() result, error) {
	e := b.opened[mode]
	if e == nil {
		return nil, fmt.Errorf("not opened: %s", b.openErr[mode])
	}
	planned, err := runtime.PlanFor(ctx, e, e.About, b.host, ref, idmap.OverrideAuto)
	if err != nil {
		return nil, err
	}
	spec := runtime.ContainerSpec{
		Image:      ref,
		ImageID:    planned.Image.ID,
		Cmd:        []string{"true"},
		WorkingDir: "/app",
		Mounts:     []runtime.Mount{{Source: dir, Target: "/app"}},
		Labels:     map[string]string{runtime.LabelProject: dir, runtime.LabelVersion: "bench"},
		Plan:       planned.Plan,
		Identity:   planned.Identity,
	}
	return func() result {
		t := newStepTimer()
		start := time.Now()
		code, err := runtime.Run(ctx, timedEngine{e.Engine, t}, runtime.RunOptions{
			Spec:    spec,
			Streams: runtime.Streams{Stdout: io.Discard, Stderr: io.Discard},
		})
		r := result{D: time.Since(start), Steps: t.snapshot()}
		switch {
		case err != nil:
			r.Err = err.Error()
		case code != 0:
			r.Err = "exit " + strconv.Itoa(code)
		}
		return r
	}, nil
}

// infoArm times one uncached Info call on the engine opened in setup: what
// detection pays when it has to ask (hpr remembers Info while the same
// process listens on the socket).
func (b *bench) infoArm(ctx context.Context, mode string) func() result {
	return func() result {
		e := b.opened[mode]
		s := time.Now()
		_, err := e.Engine.Info(ctx)
		r := result{D: time.Since(s)}
		if err != nil {
			r.Err = err.Error()
		}
		return r
	}
}

// buildCheckArm times, in-process, the unchanged-build check of a project
// (load hpr.toml, hash the build inputs, inspect the base image while
// asking whether the image built last time still exists).
func (b *bench) buildCheckArm(ctx context.Context, mode, dir string) func() result {
	return func() result {
		e := b.opened[mode]
		if e == nil {
			return result{Err: "not opened"}
		}
		t := newStepTimer()
		start := time.Now()
		p, err := project.Load(filepath.Join(dir, "hpr.toml"))
		t.since("load", start)
		if err != nil {
			return result{Err: err.Error()}
		}
		s := time.Now()
		r := &project.Resolver{Engine: e, Info: e.About, Host: b.host, Cache: cache.Open()}
		if _, err := r.Image(ctx, p, project.BuildNever); err != nil {
			return result{Err: err.Error()}
		}
		t.since("ensure", s)
		return result{D: time.Since(start), Steps: t.snapshot()}
	}
}

// buildBlog builds examples/blog's image on every opened engine, all at
// once, and records its tag ("hpr build" prints it).
func (b *bench) buildBlog() {
	b.blogTag = map[string]string{}
	b.blogErr = map[string]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, e := range b.cfg.engines {
		if b.opened[e.Mode] == nil {
			b.blogErr[e.Mode] = "engine not opened: " + b.openErr[e.Mode]
			continue
		}
		wg.Go(func() {
			c := b.hprCmd(b.blog, "build", "--engine", e.Endpoint)
			c.keepStdout = true
			r := c.run()
			mu.Lock()
			defer mu.Unlock()
			b.rep.blogBuild[e.Mode] = r.D
			if !r.ok() {
				b.blogErr[e.Mode] = r.Err
				logf("blog build on %s failed: %s", e.Mode, r.Err)
				return
			}
			lines := strings.Fields(strings.TrimSpace(r.Out))
			if len(lines) == 0 {
				b.blogErr[e.Mode] = "hpr build printed no tag"
				return
			}
			b.blogTag[e.Mode] = lines[len(lines)-1]
			logf("blog on %s: %s (%s)", e.Mode, b.blogTag[e.Mode], r.D.Round(time.Second))
		})
	}
	wg.Wait()
}

// settle waits, untimed, until no engine is still removing an exited hpr
// container by itself (Podman does that after hpr has returned): every arm
// starts on an engine at rest, and no arm pays for the one before it. The
// back-to-back arms of measure 1 show what a run started at once pays.
func (b *bench) settle() {
	for _, e := range b.opened {
		if e == nil {
			continue
		}
		left, err := runtime.Settle(context.Background(), e, map[string]string{runtime.LabelProject: ""}, 10*time.Second)
		if err == nil {
			for _, c := range left {
				if runtime.BeingRemoved(c) {
					logf("settle: %s still removing %s after 10 s", e.About.Mode, c.ID)
				}
			}
		}
	}
}

func (b *bench) cleanup(ctx context.Context) {
	for _, dir := range []string{b.s1, b.s100k} {
		c := b.composeCmd(dir, "down")
		if r := c.run(); !r.ok() {
			logf("cleanup: %s", r.Err)
		}
	}
	for _, e := range b.opened {
		e.Close()
	}
}

func (b *bench) composeCmd(dir string, args ...string) command {
	ep := b.endpoint("docker-rootful")
	return command{dir: dir,
		env:  b.env("DOCKER_HOST="+ep, "UID="+strconv.Itoa(b.uid), "GID="+strconv.Itoa(b.gid), "COMPOSE_INTERACTIVE_NO_CLI=1"),
		argv: cat([]string{b.cfg.compose, "-p", "hprbench-" + filepath.Base(dir)}, args)}
}

func (b *bench) endpoint(mode string) string {
	for _, e := range b.cfg.engines {
		if e.Mode == mode {
			return e.Endpoint
		}
	}
	return ""
}

// timeLeft reports how much of the soft time budget remains.
func (b *bench) timeLeft() time.Duration { return time.Until(b.cfg.deadline) }
