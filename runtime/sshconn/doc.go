// Package sshconn reaches a container engine on another machine through the
// ssh binary, as the engines' own CLIs do: Docker by running `docker system
// dial-stdio` on the remote host (docker/cli's connection helper), Podman by
// forwarding the remote service's unix socket (the channel the Podman
// bindings open). Every ssh is a session of one master connection per user,
// host and port (see ControlPersist). Over the same connection it answers
// what hpr needs of the engine's host itself: who owns a directory there,
// files published there for containers to mount, scripts run there.
//
// Running ssh itself, rather than a Go ssh client, is what makes the user's
// ~/.ssh/config (Host aliases, ProxyJump, IdentityFile), the
// agent and known_hosts apply exactly as they do for `ssh HOST`. Every ssh is
// started with BatchMode (it never asks for a password or a host key: stdin
// belongs to the container) in a session of its own (no controlling
// terminal, and the terminal's Ctrl-C goes to hpr, which forwards it to the
// container, not to the connection), with a connect timeout, so an
// unreachable host fails within the bound hpr gives every engine, with ssh's
// own words naming the host and the cause.
package sshconn
