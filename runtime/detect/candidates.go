package detect

import (
	"fmt"
	"os"
	"strings"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/runtime"
	"github.com/hostpersist/hpr/runtime/sshconn"
)

// Options say where to look. Zero Options follow the user's environment and
// the engines' CLI configuration, then probe the standard sockets.
type Options struct {
	// Engine is --engine: "docker", "podman", an endpoint URI, or the name
	// of a Docker context or a Podman connection.
	Engine string
	// Prefer and Endpoint come from hpr.toml [engine].
	Prefer   string
	Endpoint string
	// Getenv reads the environment; nil means os.Getenv. (Podman's config
	// library reads XDG_CONFIG_HOME, HOME, CONTAINERS_CONF and
	// PODMAN_CONNECTIONS_CONF from the process environment itself.)
	Getenv func(string) string
	// NoPrivateService disables starting a private podman service.
	NoPrivateService bool
	// Sockets replaces the standard sockets probed (tests); nil means
	// Standard($XDG_RUNTIME_DIR).
	Sockets []Candidate
}

// SourceProbe is the Source of a standard socket found by probing.
const SourceProbe = "probe"

func (o Options) standard() []Candidate {
	if o.Sockets == nil {
		return Standard(o.getenv("XDG_RUNTIME_DIR"))
	}
	out := append([]Candidate(nil), o.Sockets...)
	for i := range out {
		if out[i].Source == "" {
			out[i].Source = SourceProbe
		}
	}
	return out
}

// Candidate is one endpoint detection considered.
type Candidate struct {
	URI string
	// Kind is the kind the endpoint is expected to be ("" when unknown).
	Kind idmap.Kind
	// Source says where it came from, as `hpr engines` shows it: "--engine",
	// "HPR_ENGINE", "environment DOCKER_HOST", "context NAME (current)",
	// "connection NAME (default)", "hpr.toml [engine] endpoint", "probe".
	Source string
	// File is the file that named the endpoint (a Docker context's
	// meta.json, Podman's connections file or containers.conf), if any.
	File string
	// SSH are the ssh options a Podman connection records.
	SSH sshconn.Options
}

func (c Candidate) endpoint() runtime.Endpoint {
	return runtime.Endpoint{URI: c.URI, Kind: c.Kind, SSH: c.SSH}
}

// Failure is an endpoint that did not answer, or a source that could not be
// read, and why.
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

// Candidates returns the endpoints to try, most preferred first, in the
// engines' own order of precedence:
//
//  1. --engine, then HPR_ENGINE: a URI, a Docker context or a Podman
//     connection is the one endpoint; a kind (docker, podman) keeps only
//     that kind's sources below.
//  2. CONTAINER_CONNECTION (else CONTAINER_HOST), DOCKER_HOST (else
//     DOCKER_CONTEXT): every one set.
//  3. hpr.toml [engine]: endpoint is the one endpoint; prefer a kind.
//  4. the Docker CLI's current context and Podman's default connection.
//  5. the standard sockets, rootless first.
//
// The first step that names anything decides: a context that names a
// missing socket is an error naming its file, never a reason to use another
// engine.
func Candidates(o Options) ([]Candidate, error) {
	cands, fails, err := o.candidates()
	if err == nil && len(cands) == 0 && len(fails) > 0 {
		err = fails[0].Err
	}
	return cands, err
}

// candidates is Candidates with the sources that could not be read.
func (o Options) candidates() ([]Candidate, []Failure, error) {
	kind, named, err := o.named()
	if err != nil || named != nil {
		return named, nil, err
	}
	if cands, fails := o.environment(kind); len(cands)+len(fails) > 0 {
		return cands, fails, nil
	}
	if kind == "" && o.Endpoint != "" {
		return []Candidate{{URI: o.Endpoint, Source: "hpr.toml [engine] endpoint"}}, nil, nil
	}
	if kind == "" && o.Prefer != "" && o.Prefer != "auto" {
		k, ok := isKind(o.Prefer)
		if !ok {
			return nil, nil, fmt.Errorf("hpr.toml [engine] prefer %q: want auto, docker or podman", o.Prefer)
		}
		kind = k
	}
	if cands, fails := o.configured(kind); len(cands)+len(fails) > 0 {
		return cands, fails, nil
	}
	var out []Candidate
	for _, c := range o.standard() {
		if kind == "" || c.Kind == kind {
			out = append(out, c)
		}
	}
	return out, nil, nil
}

// named reads --engine, else HPR_ENGINE: a kind narrows the sources that
// follow; anything else is the one endpoint.
func (o Options) named() (idmap.Kind, []Candidate, error) {
	for _, x := range []struct{ val, source string }{{o.Engine, "--engine"}, {o.getenv("HPR_ENGINE"), "HPR_ENGINE"}} {
		if x.val == "" {
			continue
		}
		if k, ok := isKind(x.val); ok {
			return k, nil, nil
		}
		c, err := o.resolve(x.val, x.source)
		if err != nil {
			return "", nil, err
		}
		return "", []Candidate{c}, nil
	}
	return "", nil, nil
}

// resolve turns what the user named — a URI, a Docker context, a Podman
// connection, looked up in that order — into a candidate.
func (o Options) resolve(val, source string) (Candidate, error) {
	if strings.Contains(val, "://") {
		return Candidate{URI: val, Source: source}, nil
	}
	c, found, err := o.dockerContext(val)
	if err == nil && !found {
		c, found, err = podmanConnection(val)
	}
	if err != nil {
		return Candidate{}, fmt.Errorf("%s %q: %w", source, val, err)
	}
	if !found {
		return Candidate{}, fmt.Errorf("%s %q: want docker, podman, an endpoint URI such as unix:///var/run/docker.sock, or a context or connection name, and %w", source, val, errNoSuchName)
	}
	c.Source += " (" + source + ")"
	return c, nil
}

// environment reads the engines' own variables, each as its CLI does:
// Podman's CONTAINER_CONNECTION before CONTAINER_HOST, Docker's DOCKER_HOST
// before DOCKER_CONTEXT. kind, when set, skips the other engine's.
func (o Options) environment(kind idmap.Kind) ([]Candidate, []Failure) {
	var (
		out   []Candidate
		fails []Failure
	)
	add := func(c Candidate, found bool, err error, variable, name, missing string) {
		if err == nil && !found {
			err = fmt.Errorf("%s %q: %s", variable, name, missing)
		}
		if err != nil {
			fails = append(fails, Failure{Candidate{URI: name, Source: variable}, err})
			return
		}
		c.Source += " (" + variable + ")"
		out = append(out, c)
	}
	if kind != idmap.KindDocker {
		if name := o.getenv("CONTAINER_CONNECTION"); name != "" {
			c, found, err := podmanConnection(name)
			add(c, found, err, "CONTAINER_CONNECTION", name, "no such Podman connection (podman system connection ls)")
		} else if h := o.getenv("CONTAINER_HOST"); h != "" {
			out = append(out, Candidate{URI: h, Kind: idmap.KindPodman, Source: "environment CONTAINER_HOST"})
		}
	}
	if kind != idmap.KindPodman {
		if h := o.getenv("DOCKER_HOST"); h != "" {
			out = append(out, Candidate{URI: h, Kind: idmap.KindDocker, Source: "environment DOCKER_HOST"})
		} else if name := o.getenv("DOCKER_CONTEXT"); name != "" {
			c, found, err := o.dockerContext(name)
			add(c, found, err, "DOCKER_CONTEXT", name, "no such Docker context (docker context ls)")
		}
	}
	return out, fails
}

// configured reads what the CLIs were told to use: the Docker CLI's current
// context and Podman's default connection. kind, when set, skips the other.
func (o Options) configured(kind idmap.Kind) ([]Candidate, []Failure) {
	var (
		out   []Candidate
		fails []Failure
	)
	if kind != idmap.KindPodman {
		name, file, err := o.dockerCurrentContext()
		var c Candidate
		found := name == ""
		if err == nil && name != "" {
			c, found, err = o.dockerContext(name)
		}
		switch {
		case err == nil && !found:
			err = fmt.Errorf("%s makes Docker context %q current, but there is no such context: docker context use default, or create it", file, name)
			fallthrough
		case err != nil:
			fails = append(fails, Failure{Candidate{URI: name, Source: "Docker's current context", File: file}, err})
		case name != "":
			c.Source += " (current)"
			out = append(out, c)
		}
	}
	if kind != idmap.KindDocker {
		c, found, err := podmanConnection("")
		switch {
		case err != nil:
			fails = append(fails, Failure{Candidate{Source: "Podman's default connection"}, err})
		case found:
			c.Source += " (default)"
			out = append(out, c)
		}
	}
	return out, fails
}

// Standard returns the standard sockets, rootless first.
func Standard(xdgRuntimeDir string) []Candidate {
	if xdgRuntimeDir == "" {
		xdgRuntimeDir = fmt.Sprintf("/run/user/%d", os.Getuid())
	}
	return []Candidate{
		{URI: "unix://" + xdgRuntimeDir + "/podman/podman.sock", Kind: idmap.KindPodman, Source: SourceProbe},
		{URI: "unix://" + xdgRuntimeDir + "/docker.sock", Kind: idmap.KindDocker, Source: SourceProbe},
		{URI: "unix:///var/run/docker.sock", Kind: idmap.KindDocker, Source: SourceProbe},
		{URI: "unix:///run/podman/podman.sock", Kind: idmap.KindPodman, Source: SourceProbe},
	}
}
