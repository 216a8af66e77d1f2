package detect

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	dockercontext "github.com/docker/cli/cli/context"
	"github.com/docker/cli/cli/context/store"
	podmanconfig "go.podman.io/common/pkg/config"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/runtime/sshconn"
)

// The engines' CLIs keep where they talk to in files of their own: the
// Docker CLI its current context in config.json and each context's endpoint
// in a context store next to it; Podman its connections in
// podman-connections.json (Podman 5) or containers.conf (Podman 4), one of
// them the default. hpr reads the stores with the engines' own packages
// (docker/cli's context store, containers/common's config), so it lands
// where `docker` and `podman` would.

// errNoSuchName: neither a Docker context nor a Podman connection is called so.
var errNoSuchName = errors.New("no Docker context or Podman connection has that name (docker context ls; podman system connection ls)")

// defaultContext is the Docker CLI's implicit context: DOCKER_HOST, else
// the default socket.
const defaultContext = "default"

// dockerConfigDir is where the Docker CLI keeps config.json and contexts.
func (o Options) dockerConfigDir() string {
	if d := o.getenv("DOCKER_CONFIG"); d != "" {
		return d
	}
	home := o.getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	return filepath.Join(home, ".docker")
}

// dockerCurrentContext is the context config.json makes current ("" for
// none or the default), and the file.
func (o Options) dockerCurrentContext() (name, file string, err error) {
	file = filepath.Join(o.dockerConfigDir(), "config.json")
	f, err := os.Open(file)
	if errors.Is(err, os.ErrNotExist) {
		return "", file, nil
	}
	if err != nil {
		return "", file, fmt.Errorf("reading the Docker CLI's config: %w", err)
	}
	defer f.Close()
	// Only currentContext matters here: decoded with encoding/json rather
	// than docker/cli's configfile, whose credential-store code would add to
	// the binary for one field.
	var cf struct {
		CurrentContext string `json:"currentContext"`
	}
	if err := json.NewDecoder(f).Decode(&cf); err != nil {
		return "", file, fmt.Errorf("reading the Docker CLI's config %s: %w", file, err)
	}
	if cf.CurrentContext == defaultContext {
		return "", file, nil
	}
	return cf.CurrentContext, file, nil
}

// dockerContext reads the Docker endpoint of context name from the Docker
// CLI's context store. found is false when there is no such context.
func (o Options) dockerContext(name string) (c Candidate, found bool, err error) {
	if name == defaultContext {
		return Candidate{URI: "unix:///var/run/docker.sock", Kind: idmap.KindDocker, Source: "context default"}, true, nil
	}
	s := store.New(filepath.Join(o.dockerConfigDir(), "contexts"), store.NewConfig(
		func() any { return &map[string]any{} },
		store.EndpointTypeGetter("docker", func() any { return &dockercontext.EndpointMetaBase{} }),
	))
	file := filepath.Join(s.GetStorageInfo(name).MetadataPath, "meta.json")
	md, err := s.GetMetadata(name)
	switch {
	case cerrdefs.IsNotFound(err):
		return Candidate{}, false, nil
	case err != nil:
		return Candidate{}, true, fmt.Errorf("docker context %q: %w", name, err)
	}
	ep, ok := md.Endpoints["docker"].(dockercontext.EndpointMetaBase)
	if !ok || ep.Host == "" {
		return Candidate{}, true, fmt.Errorf("docker context %q (%s) has no docker endpoint", name, file)
	}
	if tls, _ := s.ListTLSFiles(name); len(tls["docker"]) > 0 || ep.SkipTLSVerify {
		return Candidate{}, true, fmt.Errorf("docker context %q (%s) connects with TLS, which hpr does not support: use an ssh:// or unix:// endpoint", name, file)
	}
	return Candidate{URI: ep.Host, Kind: idmap.KindDocker, Source: "context " + name, File: file}, true, nil
}

// podmanConnection reads a Podman connection: name's, or the default one
// when name is empty. found is false when there is no such connection (or
// no default).
func podmanConnection(name string) (c Candidate, found bool, err error) {
	if !podmanMayConnect() {
		return Candidate{}, false, nil
	}
	cfg, err := podmanconfig.New(nil)
	if err != nil {
		return Candidate{}, false, fmt.Errorf("reading Podman's containers.conf: %w", err)
	}
	conn, err := cfg.GetConnection(name, name == "")
	if err != nil {
		// The library says "not found" only in its text.
		return Candidate{}, false, nil
	}
	file := podmanConnectionsFile()
	if !conn.ReadWrite {
		file = podmanConfFile(conn.Name)
	}
	if conn.TLSCA != "" || conn.TLSCert != "" || conn.TLSKey != "" {
		return Candidate{}, true, fmt.Errorf("podman connection %q (%s) connects with TLS, which hpr does not support: use an ssh:// or unix:// endpoint", conn.Name, file)
	}
	return Candidate{
		URI: conn.URI, Kind: idmap.KindPodman, Source: "connection " + conn.Name, File: file,
		SSH: sshconn.Options{Identity: conn.Identity, Machine: conn.IsMachine},
	}, true, nil
}

// podmanUserConfDir is where Podman keeps a user's containers.conf and
// podman-connections.json (containers.conf(5)).
func podmanUserConfDir() string {
	if d := os.Getenv("XDG_CONFIG_HOME"); d != "" {
		return filepath.Join(d, "containers")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".config", "containers")
}

func podmanConnectionsFile() string {
	if f := os.Getenv("PODMAN_CONNECTIONS_CONF"); f != "" {
		return f
	}
	return filepath.Join(podmanUserConfDir(), "podman-connections.json")
}

// podmanConfFiles are the containers.conf files Podman reads, in
// containers.conf(5)'s order.
func podmanConfFiles() []string {
	if f := os.Getenv("CONTAINERS_CONF"); f != "" {
		return []string{f}
	}
	files := []string{"/usr/share/containers/containers.conf", "/etc/containers/containers.conf"}
	more, _ := filepath.Glob("/etc/containers/containers.conf.d/*.conf")
	files = append(files, more...)
	files = append(files, filepath.Join(podmanUserConfDir(), "containers.conf"))
	more, _ = filepath.Glob(filepath.Join(podmanUserConfDir(), "containers.conf.d", "*.conf"))
	return append(files, more...)
}

// podmanMayConnect reports whether any file could define a Podman
// connection: the connections file exists, or a containers.conf has a line
// (not a comment: the shipped default has commented examples) about service
// destinations. Parsing every containers.conf, as the config library does,
// costs each run milliseconds; most machines define no connection.
func podmanMayConnect() bool {
	if _, err := os.Stat(podmanConnectionsFile()); err == nil {
		return true
	}
	for _, f := range podmanConfFiles() {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for l := range strings.Lines(string(data)) {
			l = strings.TrimSpace(l)
			if !strings.HasPrefix(l, "#") && (strings.Contains(l, "service_destinations") || strings.Contains(l, "active_service")) {
				return true
			}
		}
	}
	return false
}

// podmanConfFile names, for messages, the containers.conf that defines
// connection name: the config library merges them all and does not say.
// It is the last file, in containers.conf(5)'s order, that mentions it.
func podmanConfFile(name string) string {
	found := "containers.conf"
	for _, f := range podmanConfFiles() {
		if data, err := os.ReadFile(f); err == nil && strings.Contains(string(data), name) && strings.Contains(string(data), "service_destinations") {
			found = f
		}
	}
	return found
}
