// Package runtime is hpr's engine layer: the Engine interface every backend
// implements (runtime/docker over the Docker API client, runtime/podman over
// the libpod bindings), the sentinel errors backends translate their clients'
// errors into, engine detection, and Run — the one create → identity →
// attach → start → wait → remove sequence every command uses — and Exec,
// which passes signals on to a command in a running container by Run's rule.
//
// Backends know their client; this package knows the order of things.
package runtime
