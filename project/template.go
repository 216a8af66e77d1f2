package project

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/hostpersist/hpr/runtime"
)

// Template returns the commented hpr.toml that `hpr init` writes. With
// hasDockerfile the image is built from the Dockerfile beside it; without,
// an image reference is shown commented out, so `hpr run` needs --image
// until one is set. name is sanitised like a directory name; empty leaves
// the name to default to the directory's.
func Template(hasDockerfile bool, name string) string {
	var b strings.Builder
	b.WriteString("# hpr.toml: how `hpr run` starts this project's development container.\n")
	b.WriteString("# Paths are relative to this file. Unknown keys are errors.\n\n")
	if name != "" {
		fmt.Fprintf(&b, "name = %-27s # names the image, volumes and containers\n", tomlString(sanitizeName(name)))
	} else {
		b.WriteString("# name = \"blog\"                 # default: the directory's name\n")
	}
	b.WriteString(`
[engine]
prefer = "auto"                  # auto | docker | podman
# endpoint = "unix:///run/user/1000/podman/podman.sock"
# remote_root = "/home/me/src/blog"   # the project's copy on a remote engine's host

[image]
`)
	if hasDockerfile {
		b.WriteString(`build = "."                      # build context
# dockerfile = "Dockerfile"      # relative to the build context
# args = { JEKYLL_ENV = "development" }   # UID and GID are added unless set here
# ref = "debian:bookworm-slim"   # or run an existing image instead of build
`)
	} else {
		b.WriteString(`# ref = "debian:bookworm-slim"   # an existing image; without ref or build, pass --image
# build = "."                    # or build one from a Dockerfile in this directory
`)
	}
	b.WriteString(`
[run]
# command = ["jekyll", "serve", "--watch", "--host", "0.0.0.0", "--port", "5000"]
# entrypoint = []                # replaces the image's ENTRYPOINT; [] clears it
mount = "/app"                   # where the project is mounted
# ports = ["5000:5000"]          # "PORT", "HOST:CONTAINER", "IP:HOST:CONTAINER", "…/udp"
# env = { TZ = "UTC" }
# volumes = ["bundle:/usr/local/bundle"]   # named, project-scoped, writable by you
user = "auto"                    # auto | root | image: override the plan
# cap_drop = ["ALL"]             # Linux capabilities to drop and add
# cap_add = ["NET_BIND_SERVICE"]
# selinux = "disable"            # SELinux hosts: disable (default), shared (:z) or private (:Z)
`)
	return b.String()
}

// ComposeTemplate returns the hpr.toml `hpr init` writes in a compose
// project: [compose] names the file (relative to dir, where hpr.toml goes)
// and p's service, and what hpr takes from the compose file is shown as
// comments, in hpr.toml's own keys, to override where wanted.
func ComposeTemplate(p *Project, dir string) string {
	var b strings.Builder
	file, err := filepath.Rel(dir, p.Path)
	if err != nil {
		file = p.Path
	}
	fmt.Fprintf(&b, "# hpr.toml: `hpr run` runs service %s of %s, as that file says;\n", tomlString(p.Service), tomlString(file))
	b.WriteString("# a key set here wins over the compose file's. Paths are relative to this\n# file. Unknown keys are errors.\n")
	fmt.Fprintf(&b, "name = %s\n\n[compose]\nfile = %s\nservice = %s\n", tomlString(p.Name), tomlString(filepath.ToSlash(file)), tomlString(p.Service))
	b.WriteString("# allow = [\"bind:/path/outside\"]  # what the compose file may reach outside the project:\n")
	b.WriteString("#                                 # privileged, devices, network_mode, pid, ipc, bind:PATH\n")
	fmt.Fprintf(&b, "\n# What hpr takes from %s (uncomment a line to override it):\n#\n# [image]\n", tomlString(file))
	switch {
	case p.Image.Building():
		fmt.Fprintf(&b, "# build = %s\n# dockerfile = %s\n", tomlString(relTo(dir, p.Image.BuildContext)), tomlString(p.Image.DockerfileInContext()))
		if args := shownArgs(p.Image.Args); args != "" {
			fmt.Fprintf(&b, "# args = { %s }\n", args)
		}
		b.WriteString("#   (UID and GID, and ${UID}/${GID} in the compose file, are the ids that land files as you)\n")
	default:
		fmt.Fprintf(&b, "# ref = %s\n", tomlString(p.Image.Ref))
	}
	b.WriteString("#\n# [run]\n")
	r := p.Run
	if r.Command != nil {
		fmt.Fprintf(&b, "# command = %s\n", tomlList(r.Command))
	}
	if r.Entrypoint != nil {
		fmt.Fprintf(&b, "# entrypoint = %s\n", tomlList(r.Entrypoint))
	}
	fmt.Fprintf(&b, "# mount = %s\n", tomlString(r.Mount))
	var ports []string
	for _, pt := range r.Ports {
		ports = append(ports, portString(pt))
	}
	if len(ports) > 0 {
		fmt.Fprintf(&b, "# ports = %s\n", tomlList(ports))
	}
	if len(r.Env) > 0 {
		fmt.Fprintf(&b, "# env = { %s }\n", shownEnv(r.Env))
	}
	fmt.Fprintf(&b, "# user = %s\n", tomlString(string(r.User)))
	for _, c := range p.Companions {
		fmt.Fprintf(&b, "#\n# Started first, removed after: service %s (hpr waits for %s)\n", tomlString(c.Name), tomlString(string(c.Wait)))
	}
	return b.String()
}

func relTo(dir, p string) string {
	if rel, err := filepath.Rel(dir, p); err == nil {
		return filepath.ToSlash(rel)
	}
	return p
}

// tomlString quotes s as a TOML basic string. What it quotes comes from
// the project's files, so nothing in it may end the string or the line:
// quotes, backslashes and control characters are escaped, as TOML spells
// them (Go's %q writes \a, \v and \x.., which TOML has not).
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < ' ' || r == 0x7f || r == 0x2028 || r == 0x2029 || r == 0x85:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func tomlList(l []string) string {
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = tomlString(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func tomlKey(k string) string {
	if k != "" && strings.Trim(k, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == "" {
		return k
	}
	return tomlString(k)
}

// shownArgs are the build args other than the ids hpr sets.
func shownArgs(args map[string]string) string {
	var kv []string
	for _, k := range slices.Sorted(maps.Keys(args)) {
		if !hasMarker(args[k]) {
			kv = append(kv, tomlKey(k)+" = "+tomlString(args[k]))
		}
	}
	return strings.Join(kv, ", ")
}

func shownEnv(env []string) string {
	kv := make([]string, 0, len(env))
	for _, e := range env {
		k, v, _ := strings.Cut(e, "=")
		if hasMarker(v) {
			v = strings.NewReplacer(markUID, "<your UID on the engine>", markGID, "<your GID on the engine>").Replace(v)
		}
		kv = append(kv, tomlKey(k)+" = "+tomlString(v))
	}
	return strings.Join(kv, ", ")
}

func portString(p runtime.Port) string {
	s := strconv.Itoa(int(p.ContainerPort))
	if p.HostPort != 0 {
		s = strconv.Itoa(int(p.HostPort)) + ":" + s
	}
	if p.HostIP != "" {
		ip := p.HostIP
		if strings.Contains(ip, ":") {
			ip = "[" + ip + "]"
		}
		s = ip + ":" + s
	}
	if p.Protocol == "udp" {
		s += "/udp"
	}
	return s
}
