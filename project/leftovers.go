package project

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/hostpersist/hpr/runtime"
	"github.com/hostpersist/hpr/runtime/cache"
)

// A build an engine cuts short by stopping (a restart of Podman's service)
// leaves the containers it made for itself behind — Buildah's working
// containers, each with its overlay still mounted — which no label ties to
// hpr and which `podman ps -a` does not show. So hpr notes every build it
// runs (cache.Building: the engine, this process, when it started) and
// drops the note when the engine ended the build (its own removal of its
// containers then holds). A build that failed because the engine went away
// keeps its note, with the time hpr saw that: the engine's build containers
// created between the two times are that build's (or of another build the
// same stop cut short) and are removed as soon as the engine answers again —
// by this hpr, bounded, or else by the next hpr run on the engine or hpr gc.
// An hpr killed mid-build leaves a note without an end; the engine, still
// running, ends that build and removes its containers itself, so the note is
// dropped once its hpr is gone.

// buildNote is the record of one build hpr runs.
type buildNote struct {
	Endpoint string    `json:"endpoint"`
	PID      int       `json:"pid"`
	Host     string    `json:"host"`
	Started  time.Time `json:"started"`
	// Ended is when the build failed because the engine went away.
	Ended time.Time `json:"ended,omitzero"`
}

// noteBuild records that a build on r's engine starts now, and returns the
// function to call with the build's outcome.
func (r *Resolver) noteBuild() func(err error) {
	host, _ := os.Hostname()
	n := buildNote{Endpoint: r.Info.Endpoint, PID: os.Getpid(), Host: host, Started: time.Now()}
	key := cache.Key(fmt.Sprintf("%s\x00%d\x00%d", n.Endpoint, n.PID, n.Started.UnixNano()))
	write := func() {
		if data, err := json.Marshal(n); err == nil {
			r.Cache.Write(cache.Building, key, data)
		}
	}
	write()
	return func(err error) {
		if !errors.Is(err, runtime.ErrUnreachable) {
			r.Cache.Remove(cache.Building, key)
			return
		}
		n.Ended = time.Now()
		write()
	}
}

// removeLeftoversOnceBack removes what the build the engine just cut short
// left, once the engine answers again (bounded by runtime.RemoveTimeout);
// what it cannot remove by then, hpr gc does.
func (r *Resolver) removeLeftoversOnceBack(ctx context.Context) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), runtime.RemoveTimeout)
	defer cancel()
	_ = runtime.OnceBack(cctx, func(ctx context.Context) error {
		_, err := RemoveBuildLeftovers(ctx, r.Engine, r.Info.Endpoint, r.Cache)
		return err
	})
}

// RemoveBuildLeftovers removes from engine e what the builds noted in
// cache c left on it (see buildNote) and drops the notes it is done with;
// it returns how many containers it removed. Notes of live builds stay.
// Without notes it costs no engine call.
func RemoveBuildLeftovers(ctx context.Context, e runtime.Engine, endpoint string, c cache.Dir) (int, error) {
	host, _ := os.Hostname()
	var done []string
	var windows []buildNote
	for _, key := range c.Keys(cache.Building) {
		data, _ := c.Read(cache.Building, key)
		var n buildNote
		if json.Unmarshal(data, &n) != nil {
			done = append(done, key)
			continue
		}
		if n.Endpoint != endpoint {
			continue
		}
		if n.Ended.IsZero() {
			// Under way, or its hpr was killed and the engine ends it.
			if n.Host == host && !alive(n.PID) {
				done = append(done, key)
			}
			continue
		}
		windows = append(windows, n)
		done = append(done, key)
	}
	if len(windows) == 0 {
		forget(c, done)
		return 0, nil
	}
	bcs, err := e.BuildContainers(ctx)
	if err != nil {
		return 0, err
	}
	removed := 0
	for _, bc := range bcs {
		if !within(bc.Created, windows) {
			continue
		}
		if err := e.Remove(ctx, bc.ID); err != nil && !errors.Is(err, runtime.ErrNotFound) {
			return removed, fmt.Errorf("removing build container %s: %w", bc.Name, err)
		}
		removed++
	}
	forget(c, done)
	return removed, nil
}

// within reports whether t falls in the time of one of the builds.
func within(t time.Time, builds []buildNote) bool {
	for _, b := range builds {
		if !t.Before(b.Started) && !t.After(b.Ended) {
			return true
		}
	}
	return false
}

func forget(c cache.Dir, keys []string) {
	for _, k := range keys {
		c.Remove(cache.Building, k)
	}
}

// alive reports whether process pid exists on this machine.
func alive(pid int) bool {
	return pid > 0 && syscall.Kill(pid, 0) != syscall.ESRCH
}
