// Package docker is hpr's runtime.Engine over the Docker Engine API
// (github.com/docker/docker/client).
//
// It speaks only what API 1.41 (Docker 20.10) offers, negotiating the version
// with the daemon, and never pulls: Create, ReadImageFiles and Build work on
// local images only, and Build checks every base image exists before it asks
// the daemon to build. Client errors are translated into the runtime
// sentinels (ErrNotFound, ErrUnreachable, ErrPermission, ErrConflict, ...).
//
// The identity a plan asks for (a passwd and group entry, a HOME) comes as
// mounts from runtime.Run (runtime.Identity); Create only hands the roots of
// the container's named volumes to the plan's user, on every run, by copying
// a directory entry into the created container, since Docker has no option
// for it.
package docker
