// Package hostpath resolves a host path a project names (a bind source, a
// build context, an env file) against the project's real root the way the
// kernel would, without ever following a symlink out of the project: each
// component is resolved by openat2(2) with RESOLVE_BENEATH and
// RESOLVE_NO_MAGICLINKS from an O_PATH descriptor of the root, and the
// real path is read back from /proc/self/fd. A symlink that stays inside
// the project is followed; one that leaves it, a component hpr may not
// search, or a loop is reported, with where the path really points for the
// message. It is pure filesystem: no engine, no consent (the project
// package decides what an answer means).
package hostpath
