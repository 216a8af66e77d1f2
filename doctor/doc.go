// Package doctor finds the files in a project that are not owned by the host
// user, explains each owner with idmap's reverse map (which container uid,
// under which engine mode, could have left it), and hands them back through a
// short-lived container that runs as root on an engine whose user namespace
// maps the owner — so no sudo is needed.
//
// Scan and the explanations are plain functions over the file tree and
// idmap; Fix runs the container through runtime; Inside is what runs in it
// (hpr's hidden `doctor --fix-inside`), changing owners with os.Root so that
// no symlink leads it out of the project.
package doctor
