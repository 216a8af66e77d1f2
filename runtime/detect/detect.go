// Package detect finds the container engine to use and opens it with the
// right backend.
//
// It follows the engines' own conventions (see Candidates for the order):
// what the user names (--engine, HPR_ENGINE, the engines' environment
// variables, hpr.toml [engine]) wins, then what the Docker and Podman CLIs
// were told to use (the current context, the default connection). Otherwise
// the standard sockets are probed in parallel with a short timeout, rootless
// before rootful. When nothing answers and podman is installed, a private
// `podman system service` is started and used. When still nothing answers,
// the error lists every endpoint tried and why it failed.
package detect

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/runtime"
	"github.com/hostpersist/hpr/runtime/docker"
	"github.com/hostpersist/hpr/runtime/podman"
	"github.com/hostpersist/hpr/runtime/sshconn"
)

// InfoTimeout bounds the first request to an engine that answered the ping.
const InfoTimeout = 10 * time.Second

// Engine is an opened engine with what it said about itself.
type Engine struct {
	runtime.Engine
	About  runtime.Info // what the engine said about itself when opened
	Source string       // see Candidate.Source
	File   string       // see Candidate.File
	// SSH are the ssh options of an ssh:// engine's connection (see
	// Candidate.SSH): reaching its host for anything else takes them too.
	SSH sshconn.Options
	// stop ends what detection started for this engine (a private podman
	// service); nil otherwise.
	stop func()
	// listener is the process that served the endpoint when it was opened
	// (see listener); "" when it cannot be told.
	listener string
}

// Close closes the client and stops a private service detection started.
func (e *Engine) Close() error {
	err := e.Engine.Close()
	if e.stop != nil {
		e.stop()
	}
	return err
}

// Open opens the engine at uri with the backend for kind (asked of the
// endpoint when kind is empty) and reads its Info. A kind given means the
// caller has just pinged uri (probe does), so Open does not ping again.
func Open(ctx context.Context, uri string, kind idmap.Kind) (*Engine, error) {
	return open(ctx, Candidate{URI: uri}, kind)
}

func open(ctx context.Context, c Candidate, kind idmap.Kind) (*Engine, error) {
	uri := c.URI
	if kind == "" {
		k, err := runtime.PingEndpoint(ctx, c.endpoint())
		if err != nil {
			return nil, err
		}
		kind = k
	}
	var (
		e   runtime.Engine
		err error
	)
	switch kind {
	case idmap.KindDocker:
		e, err = docker.New(uri, docker.WithSSH(c.SSH))
	case idmap.KindPodman:
		e, err = podman.Connect(ctx, uri, podman.WithSSH(c.SSH))
	default:
		return nil, fmt.Errorf("endpoint %s: unknown engine kind %q", uri, kind)
	}
	if err != nil {
		return nil, err
	}
	who := listener(ctx, c)
	if info, ok := loadInfo(uri, who); ok {
		return &Engine{Engine: e, About: info, Source: c.Source, File: c.File, SSH: c.SSH, listener: who}, nil
	}
	// An endpoint that accepts but never answers must not hang hpr.
	ictx, cancel := context.WithTimeout(ctx, InfoTimeout)
	defer cancel()
	info, err := e.Info(ictx)
	if err != nil {
		e.Close()
		if ictx.Err() != nil && ctx.Err() == nil {
			return nil, fmt.Errorf("%w: %s accepted the connection but did not answer Info within %v", runtime.ErrUnreachable, uri, InfoTimeout)
		}
		return nil, err
	}
	storeInfo(uri, who, info)
	return &Engine{Engine: e, About: info, Source: c.Source, File: c.File, SSH: c.SSH, listener: who}, nil
}

// probe pings every candidate in parallel and returns the kinds that
// answered (by index) and the failures.
func probe(ctx context.Context, cands []Candidate) ([]idmap.Kind, []Failure) {
	kinds := make([]idmap.Kind, len(cands))
	errs := make([]error, len(cands))
	var wg sync.WaitGroup
	for i, c := range cands {
		wg.Go(func() { kinds[i], errs[i] = runtime.PingEndpoint(ctx, c.endpoint()) })
	}
	wg.Wait()
	var fails []Failure
	for i, err := range errs {
		if err != nil {
			fails = append(fails, failed(cands[i], err))
		}
	}
	return kinds, fails
}

// failed is c's failure; one a file named says which file.
func failed(c Candidate, err error) Failure {
	if c.File != "" {
		err = fmt.Errorf("%w (%s, named in %s)", err, c.Source, c.File)
	}
	return Failure{c, err}
}

// Pick returns the one engine hpr should use, opened. The caller closes it.
func Pick(ctx context.Context, o Options) (*Engine, error) {
	cands, fails, err := o.candidates()
	if err != nil {
		return nil, err
	}
	kinds, more := probe(ctx, cands)
	fails = append(fails, more...)
	for i, c := range cands {
		if kinds[i] == "" {
			continue
		}
		e, err := open(ctx, c, kinds[i])
		if err != nil {
			fails = append(fails, failed(c, err))
			continue
		}
		return e, nil
	}
	if !o.NoPrivateService && onlyProbes(cands, fails) {
		e, err := startPrivatePodman(ctx, o.getenv("XDG_RUNTIME_DIR"))
		if err == nil {
			return e, nil
		}
		if !errors.Is(err, errNoPodman) {
			fails = append(fails, Failure{Candidate{URI: "podman system service (private)", Source: "started by hpr"}, err})
		}
	}
	return nil, NothingAnswered(fails)
}

// onlyProbes reports whether nothing but probing chose the candidates, and
// Podman was among them: then hpr may start a Podman service of its own.
// An endpoint the user named is used, or hpr says why not.
func onlyProbes(cands []Candidate, fails []Failure) bool {
	podman := false
	for _, c := range cands {
		if c.Source != SourceProbe {
			return false
		}
		podman = podman || c.Kind == idmap.KindPodman
	}
	for _, f := range fails {
		if f.Source != SourceProbe {
			return false
		}
	}
	return podman
}

// All opens every engine that answers among the candidates (for `hpr
// engines` and `hpr conformance`): with no explicit choice, the engines the
// environment names (CONTAINER_CONNECTION or CONTAINER_HOST, DOCKER_HOST or
// DOCKER_CONTEXT), the Docker CLI's current context, Podman's default
// connection and every standard socket. extra adds endpoints, kinds,
// contexts or connections (repeatable --engine).
func All(ctx context.Context, o Options, extra []string) ([]*Engine, []Failure, error) {
	var (
		cands []Candidate
		fails []Failure
	)
	if len(extra) == 0 {
		env, envFails := o.environment("")
		conf, confFails := o.configured("")
		cands = append(append(append(cands, env...), conf...), o.standard()...)
		fails = append(envFails, confFails...)
	}
	for _, x := range extra {
		if k, ok := isKind(x); ok {
			for _, c := range o.standard() {
				if c.Kind == k {
					cands = append(cands, c)
				}
			}
			continue
		}
		c, err := o.resolve(x, "--engine")
		if err != nil {
			return nil, nil, err
		}
		cands = append(cands, c)
	}
	cands = dedupe(cands)
	kinds, more := probe(ctx, cands)
	fails = append(fails, more...)
	var (
		mu     sync.Mutex
		wg     sync.WaitGroup
		opened = make([]*Engine, len(cands))
	)
	for i, c := range cands {
		if kinds[i] == "" {
			continue
		}
		wg.Go(func() {
			e, err := open(ctx, c, kinds[i])
			if err != nil {
				mu.Lock()
				fails = append(fails, failed(c, err))
				mu.Unlock()
				return
			}
			opened[i] = e
		})
	}
	wg.Wait()
	var out []*Engine
	for _, e := range opened {
		if e != nil {
			out = append(out, e)
		}
	}
	return out, fails, nil
}

func dedupe(c []Candidate) []Candidate {
	seen := map[string]bool{}
	var out []Candidate
	for _, x := range c {
		u := strings.Replace(x.URI, "unix:///var/run/", "unix:///run/", 1)
		if seen[u] {
			continue
		}
		seen[u] = true
		out = append(out, x)
	}
	return out
}

// NothingAnswered is the error when no engine could be used: one line naming
// every endpoint tried and why it failed, and what to do.
func NothingAnswered(fails []Failure) error {
	var parts []string
	for _, f := range fails {
		parts = append(parts, strings.TrimPrefix(f.Err.Error(), runtime.ErrUnreachable.Error()+": "))
	}
	tried := "nothing to try"
	if len(parts) > 0 {
		tried = "tried " + strings.Join(parts, "; ")
	}
	return fmt.Errorf("%w: no container engine answered (%s): start Docker or Podman, or point hpr at one with --engine (a URI, a Docker context or a Podman connection) or DOCKER_HOST/CONTAINER_HOST", runtime.ErrUnreachable, tried)
}
