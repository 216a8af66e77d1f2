// Package faults holds hpr's fault tests that need root (build tags
// `integration && root`; scripts/test.sh runs them in its root phase): engine
// daemons restarted while hpr runs, the private Podman service after each
// way hpr can end, full filesystems. They run hpr as the harness's test
// user and read, as root, what each engine holds and what its daemon has
// open (Read), which `make soak` reports too.
package faults
