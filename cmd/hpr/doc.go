// Command hpr runs a project's development container on whatever engine the
// machine has — Docker or Podman, rootful or rootless — with the project
// mounted at /app and users mapped so every file the container writes there
// is owned by the host user.
//
// This package is the CLI only: flags become options, results are printed,
// errors become exit codes (one exitError type). The work is done by
// runtime, idmap and conformance.
package main
