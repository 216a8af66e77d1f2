// Package project is the project model and the one resolver of what runs.
//
// A Project is what a project's configuration says: its root, name, image
// (a reference, or a build) and how its container runs. Open decides which
// project a directory belongs to, for every command alike: Find walks up to
// the nearest hpr.toml or compose file; Load parses an hpr.toml against
// schema v1, applies defaults and resolves paths relative to the file;
// LoadCompose fills the same model from compose files (DESIGN.md, "Compose
// files"); AdHoc stands in when there is no file (`hpr run --image`).
// Template and ComposeTemplate are what `hpr init` writes. The model is the
// contract: hpr.toml and compose files are two ways to fill it.
//
// Resolver answers, for one engine, everything a project's container is:
// the image (built when its inputs changed, found by its tag, or
// remembered), the user mapping plan and identity, the volumes, and the
// complete runtime.ContainerSpec. hpr run, conformance and doctor --fix
// all get their containers from it.
//
// Schema v1 (DESIGN.md "hpr.toml (v1)") plus three [run] keys added for the
// runner:
//
//	name = "blog"            # default: the directory's name, sanitised
//
//	[engine]
//	prefer = "auto"          # auto | docker | podman
//	endpoint = "unix:///…"   # unix://, or tcp:// to this machine
//	remote_root = "/…"       # the project's copy on a remote engine's host
//
//	[image]                  # ref, or build; neither: `hpr run` needs --image
//	ref = "…"
//	build = "."              # relative to hpr.toml
//	dockerfile = "Dockerfile" # relative to the build context, inside it
//	args = { K = "v" }
//
//	[run]
//	command = ["…"]          # replaces the image's CMD; not empty
//	entrypoint = ["…"]       # replaces the image's ENTRYPOINT; [] clears it
//	mount = "/app"           # absolute, clean, not "/"
//	ports = ["5000", "5000:5000", "127.0.0.1:8080:80", "[::1]:8080:80", "8080:80/udp"]
//	env = { TZ = "UTC" }
//	volumes = ["bundle:/usr/local/bundle"]  # scoped as hpr-<name>-bundle
//	user = "auto"            # auto | root | image
//	cap_drop = ["ALL"]       # capabilities(7) names, with or without CAP_;
//	cap_add = ["CHOWN"]      # nothing is dropped unless listed
//	selinux = "disable"      # disable | shared | private; default: disable where SELinux is on
//
//	[compose]                # the project is this compose file's service,
//	file = "compose.yaml"    # with the keys above over it
//	service = "web"
//	allow = ["privileged"]   # what the compose file may do to the host
//
// Every value is a string, a list of strings or a table of strings: numbers
// must be quoted, so that one spelling works everywhere. A problem in the
// file is an *Error whose message is one line, "<path>:<line>: <what is
// wrong> (<fix>)"; unknown keys are errors.
package project
