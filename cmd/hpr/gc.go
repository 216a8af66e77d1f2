package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"strconv"
	"syscall"

	"github.com/hostpersist/hpr/conformance"
	"github.com/hostpersist/hpr/project"
	"github.com/hostpersist/hpr/runtime"
	"github.com/hostpersist/hpr/runtime/cache"
	"github.com/hostpersist/hpr/runtime/detect"
	"github.com/spf13/cobra"
)

func newGCCmd(s *streams) *cobra.Command {
	var engines []string
	cmd := &cobra.Command{
		Use:   "gc [--engine E]...",
		Short: "Remove containers hpr left behind, old conformance probe images, and memos of gone projects",
		Long: `Remove the containers hpr started (label io.hpr.project) whose hpr process
is gone — killed with SIGKILL, or on a machine that rebooted — on every
engine that answers (or the --engine ones), with the networks such runs
made for the services their project depended on. Containers of an hpr run
that is still going are left alone; named volumes stay.

Also remove the containers an engine kept of an hpr build that it cut short
by stopping mid-build (Podman's Buildah working containers, which podman ps
-a does not show, each holding an overlay mount), the probe images
(hpr-probe:<digest>) that hpr conformance of other hpr builds imported (this
build's own probe stays), and what hpr remembers of the builds of projects
whose directory is gone.

On an engine users share (rootful Docker or Podman), only what this user's
hpr made is removed (label io.hpr.uid).`,
		Example: `  hpr gc
  hpr gc --engine podman`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			found, _, err := detect.All(ctx, detect.Options{}, engines)
			if err != nil {
				return err
			}
			exe, exeErr := os.Executable()
			var failed error
			for _, e := range found {
				n, err := removeStale(ctx, e, map[string]string{}, false)
				if err == nil {
					_, err = removeStaleNetworks(ctx, e, map[string]string{})
				}
				if err != nil {
					failed = err
					fmt.Fprintf(s.err, "hpr: %s: %v\n", e.About.Endpoint, err)
				}
				builds, err := project.RemoveBuildLeftovers(ctx, e, e.About.Endpoint, cache.Open())
				if err != nil {
					failed = err
					fmt.Fprintf(s.err, "hpr: %s: build containers: %v\n", e.About.Endpoint, err)
				}
				n += builds
				probes := 0
				if exeErr == nil {
					probes, err = conformance.RemoveOldProbes(ctx, e, exe)
				} else {
					err = exeErr
				}
				if err != nil {
					failed = err
					fmt.Fprintf(s.err, "hpr: %s: old probe images: %v\n", e.About.Endpoint, err)
				}
				fmt.Fprintf(s.out, "%s: removed %d container(s), %d old probe image(s)\n", e.About.Mode, n, probes)
				e.Close()
			}
			if n := project.PruneBuildMemos(cache.Open()); n > 0 {
				fmt.Fprintf(s.out, "forgot the builds of %d project(s) that are gone\n", n)
			}
			if len(found) == 0 {
				return fmt.Errorf("no engine answered: nothing to clean")
			}
			if failed != nil {
				return fmt.Errorf("some containers or images could not be removed")
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&engines, "engine", nil, "an endpoint URI or a kind (docker, podman); repeatable")
	return cmd
}

// removeStale removes hpr's containers (narrowed by labels) whose hpr process
// is gone, and returns how many it removed. With skipExiting it leaves alone
// an exited container the engine removes by itself (Podman, within a
// fraction of a second of its exit: see runtime.ExitState); removing it
// would only wait for the engine's cleanup.
func removeStale(ctx context.Context, e runtime.Engine, labels map[string]string, skipExiting bool) (int, error) {
	cs, err := e.List(ctx, hprLabels(labels))
	if err != nil {
		return 0, fmt.Errorf("listing containers: %w", err)
	}
	host, _ := os.Hostname()
	n := 0
	for _, c := range cs {
		if !mine(c.Labels, os.Getuid()) || !stale(c, host) || skipExiting && runtime.BeingRemoved(c) {
			continue
		}
		if err := e.Remove(ctx, c.ID); err != nil {
			return n, fmt.Errorf("removing %s: %w", c.Name, err)
		}
		n++
	}
	return n, nil
}

// removeStaleNetworks removes the networks hpr made for a run (narrowed by
// labels) whose hpr process is gone, once their containers are removed.
func removeStaleNetworks(ctx context.Context, e runtime.Engine, labels map[string]string) (int, error) {
	ns, err := e.Networks(ctx, hprLabels(labels))
	if err != nil {
		return 0, fmt.Errorf("listing networks: %w", err)
	}
	host, _ := os.Hostname()
	n := 0
	for _, nw := range ns {
		if !mine(nw.Labels, os.Getuid()) || !stale(runtime.Container{Labels: nw.Labels}, host) {
			continue
		}
		if err := e.RemoveNetwork(ctx, nw.Name); err != nil && !errors.Is(err, runtime.ErrNotFound) && !errors.Is(err, runtime.ErrConflict) {
			return n, fmt.Errorf("removing network %s: %w", nw.Name, err)
		}
		n++
	}
	return n, nil
}

// hprLabels selects what hpr made (io.hpr.project set), narrowed by labels.
func hprLabels(labels map[string]string) map[string]string {
	sel := map[string]string{runtime.LabelProject: ""}
	maps.Copy(sel, labels)
	return sel
}

// mine reports whether what hpr made with labels is the user uid's: labelled
// for uid, or made by an hpr from before the label. Another user's (on an
// engine users share) is never this user's to remove.
func mine(labels map[string]string, uid int) bool {
	owner, ok := labels[runtime.LabelUID]
	return !ok || owner == strconv.Itoa(uid)
}

// stale reports whether container c was left behind: its hpr process on
// this machine no longer exists, or — for another machine's or an unlabelled
// container — it is not running. A container whose hpr is alive is never
// stale, even before it starts (another hpr run of the same project).
func stale(c runtime.Container, host string) bool {
	pid, err := strconv.Atoi(c.Labels[runtime.LabelPID])
	if c.Labels[runtime.LabelHost] != host || err != nil || pid <= 0 {
		return c.State != "running"
	}
	return syscall.Kill(pid, 0) == syscall.ESRCH
}
