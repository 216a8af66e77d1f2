// Package podman is hpr's runtime.Engine over a Podman service, spoken to
// through the libpod API with github.com/containers/podman/v5/pkg/bindings.
//
// It works with services from Podman 4.0 on (Debian 12 ships 4.3.1): it
// never uses an endpoint or option the older services lack without saying
// so, and never pulls an image.
package podman
