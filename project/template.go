package project

import (
	"fmt"
	"strings"
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
		fmt.Fprintf(&b, "name = %-27q # names the image, volumes and containers\n", sanitizeName(name))
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
