package faults

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/runtime/detect"
)

// State is what an engine holds and what its daemon process has open, as
// read from the host. Every count is engine-wide: the caller compares two
// States of the same engine taken while nothing else uses it.
type State struct {
	Pid        int // the process listening on the engine's socket
	Containers int // every container, stopped ones included
	// External are Podman's storage containers that are not libpod's:
	// Buildah's working containers of builds (`podman ps --external`).
	// Always 0 on Docker.
	External int
	Images   int // every image, intermediate ones included
	Networks int
	Volumes  int
	// Mounts are the overlay `merged` mounts under the engine's storage
	// root, in the daemon's own mount namespace (/proc/PID/mountinfo).
	Mounts int
	// FDs are the daemon's open file descriptors, one count (SettledFDs
	// counts them settled).
	FDs int
}

// Leftovers is what other holds beyond s: the columns that grew, by name,
// with both values; empty when nothing did. FDs are left out (the soak
// judges them): a test's engine serves other clients meanwhile.
func (s State) Leftovers(other State) []string {
	var grew []string
	for _, c := range []struct {
		name    string
		was, is int
	}{
		{"containers", s.Containers, other.Containers},
		{"external containers", s.External, other.External},
		{"images", s.Images, other.Images},
		{"networks", s.Networks, other.Networks},
		{"volumes", s.Volumes, other.Volumes},
		{"merged mounts", s.Mounts, other.Mounts},
	} {
		if c.is > c.was {
			grew = append(grew, fmt.Sprintf("%s %d → %d", c.name, c.was, c.is))
		}
	}
	return grew
}

// Read reads the State of the engine in mode at endpoint (a unix:// URI on
// this machine). The counts come from the engine's own CLI, not from hpr's
// backends, so that they witness what hpr did; reading another user's
// daemon (its mount namespace, its file descriptors) needs root.
func Read(ctx context.Context, mode idmap.Mode, endpoint string) (State, error) {
	s := State{Pid: detect.ListenerPID(endpoint)}
	if s.Pid <= 0 {
		return s, fmt.Errorf("%s: no process listens on it (or not in this pid namespace)", endpoint)
	}
	cli, err := newCLI(mode, endpoint)
	if err != nil {
		return s, err
	}
	counts := []struct {
		n    *int
		args []string
	}{
		{&s.Containers, []string{"ps", "-aq"}},
		{&s.Images, []string{"images", "-aq"}},
		{&s.Networks, []string{"network", "ls", "-q"}},
		{&s.Volumes, []string{"volume", "ls", "-q"}},
	}
	for _, c := range counts {
		out, err := cli.run(ctx, c.args...)
		if err != nil {
			return s, err
		}
		*c.n = len(strings.Fields(out))
	}
	if cli.podman {
		s.External, err = cli.external(ctx)
		if err != nil {
			return s, err
		}
	}
	root, err := cli.storageRoot(ctx)
	if err != nil {
		return s, err
	}
	if s.Mounts, err = MergedMounts(s.Pid, root); err != nil {
		return s, err
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", s.Pid))
	if err != nil {
		return s, fmt.Errorf("the daemon's open files: %w", err)
	}
	s.FDs = len(fds)
	return s, nil
}

// SettledFDs is the fewest open file descriptors process pid has over
// about two seconds: the connections of the CLI calls just made, which
// the daemon closes a little after the client, are not counted.
func SettledFDs(ctx context.Context, pid int) (int, error) {
	least := -1
	for i := 0; i < 5; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				return least, ctx.Err()
			case <-time.After(500 * time.Millisecond): // sampling a count that settles, not waiting for an event
			}
		}
		fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		if err != nil {
			return 0, fmt.Errorf("the daemon's open files: %w", err)
		}
		if least < 0 || len(fds) < least {
			least = len(fds)
		}
	}
	return least, nil
}

// MergedMounts counts the overlay mounts named `merged` below root in the
// mount namespace of process pid.
func MergedMounts(pid int, root string) (int, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", pid))
	if err != nil {
		return 0, fmt.Errorf("the daemon's mounts: %w", err)
	}
	root = filepath.Clean(root) + "/"
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		// id parent major:minor root mountpoint options ... - fstype source super
		f := strings.Fields(sc.Text())
		if len(f) < 5 {
			continue
		}
		mp := f[4]
		if strings.HasPrefix(mp, root) && filepath.Base(mp) == "merged" {
			n++
		}
	}
	return n, sc.Err()
}

// cli is an engine's own command-line client pointed at one endpoint.
type cli struct {
	podman bool
	base   []string
}

func newCLI(mode idmap.Mode, endpoint string) (cli, error) {
	switch mode {
	case idmap.DockerRootful, idmap.DockerRootless, idmap.DockerUsernsRemap:
		return cli{base: []string{"docker", "-H", endpoint}}, nil
	case idmap.PodmanRootful, idmap.PodmanRootless:
		return cli{podman: true, base: []string{"podman", "--remote", "--url", endpoint}}, nil
	default:
		return cli{}, fmt.Errorf("unknown engine mode %q", mode)
	}
}

func (c cli) run(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, c.base[0], append(c.base[1:], args...)...)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w: %s", strings.Join(c.base, " "), strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return string(out), nil
}

// external counts Podman's storage containers that libpod does not know
// (State "storage" in `podman ps --external`).
func (c cli) external(ctx context.Context) (int, error) {
	out, err := c.run(ctx, "ps", "-a", "--external", "--format", "{{.State}}")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, st := range strings.Fields(out) {
		if st == "storage" {
			n++
		}
	}
	return n, nil
}

// storageRoot is where the engine keeps images and containers.
func (c cli) storageRoot(ctx context.Context) (string, error) {
	format := "{{.DockerRootDir}}"
	if c.podman {
		format = "{{.Store.GraphRoot}}"
	}
	out, err := c.run(ctx, "info", "--format", format)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(out), nil
}
