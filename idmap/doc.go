// Package idmap decides how a container must run so that the files it writes
// into a bind-mounted project land on the host as the host user.
//
// It is pure: given the host identity (Host), what the engine says about
// itself (Engine) and the user the image declares (Image), NewPlan returns a
// Plan — container user, user-namespace mode, build args, the passwd/group
// entry to add and the HOME to use — and Reverse explains which container uid
// produced an owner seen on disk. It imports no engine library and does no
// I/O of its own beyond reading host identity files through moby/sys/user.
package idmap
