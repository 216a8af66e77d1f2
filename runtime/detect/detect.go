// Package detect finds the container engine to use and opens it with the
// right backend.
//
// Explicit wins: --engine (a kind or an endpoint URI), then HPR_ENGINE, then
// CONTAINER_HOST / DOCKER_HOST, then hpr.toml [engine]. Otherwise the
// standard sockets are probed in parallel with a short timeout, rootless
// before rootful. When nothing answers and podman is installed, a private
// `podman system service` is started and used. When still nothing answers,
// the error lists every endpoint tried and why it failed.
package detect

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/runtime"
	"github.com/hostpersist/hpr/runtime/docker"
	"github.com/hostpersist/hpr/runtime/podman"
)

// InfoTimeout bounds the first request to an engine that answered the ping.
const InfoTimeout = 10 * time.Second

// Options say where to look. Zero Options probe the standard sockets.
type Options struct {
	// Engine is --engine: "docker", "podman", or an endpoint URI.
	Engine string
	// Prefer and Endpoint come from hpr.toml [engine].
	Prefer   string
	Endpoint string
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
	// NoPrivateService disables starting a private podman service.
	NoPrivateService bool
	// Sockets replaces the standard sockets probed (tests); nil means
	// Standard($XDG_RUNTIME_DIR).
	Sockets []Candidate
}

func (o Options) standard() []Candidate {
	if o.Sockets != nil {
		return o.Sockets
	}
	return Standard(o.getenv("XDG_RUNTIME_DIR"))
}

// Candidate is one endpoint detection considered.
type Candidate struct {
	URI string
	// Kind is the kind the endpoint is expected to be ("" when unknown).
	Kind idmap.Kind
	// Source says why it was considered ("--engine", "DOCKER_HOST",
	// "standard socket", ...).
	Source string
}

// Engine is an opened engine with what it said about itself.
type Engine struct {
	runtime.Engine
	About  runtime.Info // what the engine said about itself when opened
	Source string
	// stop ends what detection started for this engine (a private podman
	// service); nil otherwise.
	stop func()
}

// Close closes the client and stops a private service detection started.
func (e *Engine) Close() error {
	err := e.Engine.Close()
	if e.stop != nil {
		e.stop()
	}
	return err
}

// Failure is an endpoint that did not answer, and why.
type Failure struct {
	Candidate
	Err error
}

func (o Options) getenv(k string) string {
	if o.Getenv != nil {
		return o.Getenv(k)
	}
	return os.Getenv(k)
}

// isKind reports whether s names a kind rather than an endpoint.
func isKind(s string) (idmap.Kind, bool) {
	switch strings.ToLower(s) {
	case "docker":
		return idmap.KindDocker, true
	case "podman":
		return idmap.KindPodman, true
	}
	return "", false
}

// Candidates returns the endpoints to try, most preferred first. When the
// choice is explicit (an endpoint URI), it is the only one.
func Candidates(o Options) ([]Candidate, error) {
	explicit := []struct{ val, source string }{
		{o.Engine, "--engine"},
		{o.getenv("HPR_ENGINE"), "HPR_ENGINE"},
	}
	var kind idmap.Kind
	for _, x := range explicit {
		if x.val == "" {
			continue
		}
		if k, ok := isKind(x.val); ok {
			kind = k
			break
		}
		if !strings.Contains(x.val, "://") {
			return nil, fmt.Errorf("%s %q: want docker, podman or an endpoint URI such as unix:///var/run/docker.sock", x.source, x.val)
		}
		return []Candidate{{URI: x.val, Source: x.source}}, nil
	}
	var out []Candidate
	if h := o.getenv("CONTAINER_HOST"); h != "" && kind != idmap.KindDocker {
		out = append(out, Candidate{URI: h, Kind: idmap.KindPodman, Source: "CONTAINER_HOST"})
	}
	if h := o.getenv("DOCKER_HOST"); h != "" && kind != idmap.KindPodman {
		out = append(out, Candidate{URI: h, Kind: idmap.KindDocker, Source: "DOCKER_HOST"})
	}
	if len(out) > 0 {
		return out, nil
	}
	if kind == "" && o.Endpoint != "" {
		return []Candidate{{URI: o.Endpoint, Source: "hpr.toml [engine] endpoint"}}, nil
	}
	if kind == "" && o.Prefer != "" && o.Prefer != "auto" {
		k, ok := isKind(o.Prefer)
		if !ok {
			return nil, fmt.Errorf("hpr.toml [engine] prefer %q: want auto, docker or podman", o.Prefer)
		}
		kind = k
	}
	for _, c := range o.standard() {
		if kind == "" || c.Kind == kind {
			out = append(out, c)
		}
	}
	return out, nil
}

// Standard returns the standard sockets, rootless first.
func Standard(xdgRuntimeDir string) []Candidate {
	if xdgRuntimeDir == "" {
		xdgRuntimeDir = fmt.Sprintf("/run/user/%d", os.Getuid())
	}
	return []Candidate{
		{URI: "unix://" + xdgRuntimeDir + "/podman/podman.sock", Kind: idmap.KindPodman, Source: "standard socket"},
		{URI: "unix://" + xdgRuntimeDir + "/docker.sock", Kind: idmap.KindDocker, Source: "standard socket"},
		{URI: "unix:///var/run/docker.sock", Kind: idmap.KindDocker, Source: "standard socket"},
		{URI: "unix:///run/podman/podman.sock", Kind: idmap.KindPodman, Source: "standard socket"},
	}
}

// Open opens the engine at uri with the backend for kind (asked of the
// endpoint when kind is empty) and reads its Info. A kind given means the
// caller has just pinged uri (probe does), so Open does not ping again.
func Open(ctx context.Context, uri string, kind idmap.Kind) (*Engine, error) {
	if kind == "" {
		k, err := runtime.Ping(ctx, uri)
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
		e, err = docker.New(uri)
	case idmap.KindPodman:
		e, err = podman.Connect(ctx, uri)
	default:
		return nil, fmt.Errorf("endpoint %s: unknown engine kind %q", uri, kind)
	}
	if err != nil {
		return nil, err
	}
	who := listener(uri)
	if info, ok := loadInfo(uri, who); ok {
		return &Engine{Engine: e, About: info}, nil
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
	return &Engine{Engine: e, About: info}, nil
}

// probe pings every candidate in parallel and returns the kinds that
// answered (by index) and the failures.
func probe(ctx context.Context, cands []Candidate) ([]idmap.Kind, []Failure) {
	kinds := make([]idmap.Kind, len(cands))
	errs := make([]error, len(cands))
	var wg sync.WaitGroup
	for i, c := range cands {
		wg.Add(1)
		go func() {
			defer wg.Done()
			kinds[i], errs[i] = runtime.Ping(ctx, c.URI)
		}()
	}
	wg.Wait()
	var fails []Failure
	for i, err := range errs {
		if err != nil {
			fails = append(fails, Failure{cands[i], err})
		}
	}
	return kinds, fails
}

// Pick returns the one engine hpr should use, opened. The caller closes it.
func Pick(ctx context.Context, o Options) (*Engine, error) {
	cands, err := Candidates(o)
	if err != nil {
		return nil, err
	}
	kinds, fails := probe(ctx, cands)
	for i, c := range cands {
		if kinds[i] == "" {
			continue
		}
		e, err := Open(ctx, c.URI, kinds[i])
		if err != nil {
			fails = append(fails, Failure{c, err})
			continue
		}
		e.Source = c.Source
		return e, nil
	}
	explicit := len(cands) == 1 && cands[0].Kind == "" // an endpoint the user named
	if !explicit && !o.NoPrivateService && o.allowsPodman() {
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

func (o Options) allowsPodman() bool {
	for _, v := range []string{o.Engine, o.getenv("HPR_ENGINE")} {
		if v != "" {
			k, ok := isKind(v)
			return ok && k == idmap.KindPodman
		}
	}
	if o.getenv("DOCKER_HOST") != "" || o.getenv("CONTAINER_HOST") != "" || o.Endpoint != "" {
		return false // the user named an endpoint: use it or say why not
	}
	return o.Prefer == "" || o.Prefer == "auto" || o.Prefer == "podman"
}

// All opens every engine that answers among the candidates (for `hpr
// engines` and `hpr conformance`): with no explicit choice, every standard
// socket plus CONTAINER_HOST and DOCKER_HOST. extra adds endpoints or kinds
// (repeatable --engine).
func All(ctx context.Context, o Options, extra []string) ([]*Engine, []Failure, error) {
	var cands []Candidate
	if len(extra) == 0 {
		for _, k := range []string{"CONTAINER_HOST", "DOCKER_HOST"} {
			if h := o.getenv(k); h != "" {
				cands = append(cands, Candidate{URI: h, Source: k})
			}
		}
		cands = append(cands, o.standard()...)
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
		if !strings.Contains(x, "://") {
			return nil, nil, fmt.Errorf("--engine %q: want docker, podman or an endpoint URI such as unix:///var/run/docker.sock", x)
		}
		cands = append(cands, Candidate{URI: x, Source: "--engine"})
	}
	cands = dedupe(cands)
	kinds, fails := probe(ctx, cands)
	var (
		mu     sync.Mutex
		wg     sync.WaitGroup
		opened = make([]*Engine, len(cands))
	)
	for i, c := range cands {
		if kinds[i] == "" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			e, err := Open(ctx, c.URI, kinds[i])
			if err != nil {
				mu.Lock()
				fails = append(fails, Failure{c, err})
				mu.Unlock()
				return
			}
			e.Source = c.Source
			opened[i] = e
		}()
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
	return fmt.Errorf("%w: no container engine answered (%s): start Docker or Podman, or point hpr at one with --engine URI or DOCKER_HOST/CONTAINER_HOST", runtime.ErrUnreachable, tried)
}
