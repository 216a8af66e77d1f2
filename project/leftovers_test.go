package project

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hostpersist/hpr/runtime"
	"github.com/hostpersist/hpr/runtime/cache"
)

// buildContainers is an engine with build containers; it records removals.
type buildContainers struct {
	runtime.Engine // not called: a call panics
	have           []runtime.BuildContainer
	listed         int
	removed        []string
}

func (b *buildContainers) BuildContainers(context.Context) ([]runtime.BuildContainer, error) {
	b.listed++
	return b.have, nil
}

func (b *buildContainers) Remove(_ context.Context, id string) error {
	b.removed = append(b.removed, id)
	return nil
}

// RemoveBuildLeftovers removes the build containers made during a build the
// engine cut short (a note with an end), on that engine only, and no other;
// it drops the notes it is done with, and those of killed hprs, and keeps
// the notes of builds under way.
func TestRemoveBuildLeftovers(t *testing.T) {
	host, _ := os.Hostname()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	const dead = 1 << 30 // above any pid_max: no such process
	live := os.Getpid()
	notes := map[string]buildNote{
		"cut-short":     {Endpoint: "unix:///a.sock", PID: dead, Host: host, Started: at(10), Ended: at(20)},
		"cut-short-own": {Endpoint: "unix:///a.sock", PID: live, Host: host, Started: at(40), Ended: at(45)},
		"killed-hpr":    {Endpoint: "unix:///a.sock", PID: dead, Host: host, Started: at(50)},
		"under-way":     {Endpoint: "unix:///a.sock", PID: live, Host: host, Started: at(60)},
		"other-machine": {Endpoint: "unix:///a.sock", PID: dead, Host: host + "-not", Started: at(70)},
		"other-engine":  {Endpoint: "unix:///b.sock", PID: dead, Host: host, Started: at(0), Ended: at(100)},
	}
	c := cache.At(t.TempDir())
	for k, n := range notes {
		data, _ := json.Marshal(n)
		c.Write(cache.Building, k, data)
	}
	c.Write(cache.Building, "unreadable", []byte("{"))
	e := &buildContainers{have: []runtime.BuildContainer{
		{ID: "before", Created: at(9)},
		{ID: "first", Created: at(10)},
		{ID: "during", Created: at(15)},
		{ID: "last", Created: at(20)},
		{ID: "between", Created: at(30)},
		{ID: "own", Created: at(44)},
		{ID: "of-the-killed-hpr", Created: at(51)},
		{ID: "of-the-build-under-way", Created: at(61)},
	}}
	n, err := RemoveBuildLeftovers(context.Background(), e, "unix:///a.sock", c)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"first", "during", "last", "own"}, e.removed); diff != "" || n != len(e.removed) {
		t.Errorf("removed %d (-want +got):\n%s", n, diff)
	}
	kept := c.Keys(cache.Building)
	slices.Sort(kept)
	if diff := cmp.Diff([]string{"other-engine", "other-machine", "under-way"}, kept); diff != "" {
		t.Errorf("notes kept (-want +got):\n%s", diff)
	}

	// With nothing cut short, the engine is not asked.
	e = &buildContainers{}
	if _, err := RemoveBuildLeftovers(context.Background(), e, "unix:///a.sock", c); err != nil || e.listed != 0 {
		t.Errorf("listed %d times (%v) with no build cut short, want 0", e.listed, err)
	}
}

// A build notes itself while it runs; the note goes when the engine ended
// the build, and stays, with an end, when the engine went away.
func TestNoteBuild(t *testing.T) {
	for _, tc := range []struct {
		name  string
		err   error
		ended bool
	}{
		{"built", nil, false},
		{"failed", fmt.Errorf("building: step 2: exit status 1"), false},
		{"engine gone", fmt.Errorf("building: %w: connection reset", runtime.ErrUnreachable), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := cache.At(t.TempDir())
			r := &Resolver{Cache: c, Info: runtime.Info{Endpoint: "unix:///a.sock"}}
			ended := r.noteBuild()
			if got := len(c.Keys(cache.Building)); got != 1 {
				t.Fatalf("%d notes while the build runs, want 1", got)
			}
			ended(tc.err)
			keys := c.Keys(cache.Building)
			if !tc.ended {
				if len(keys) != 0 {
					t.Errorf("the note stays after %v", tc.err)
				}
				return
			}
			var n buildNote
			data, _ := c.Read(cache.Building, keys[0])
			if err := json.Unmarshal(data, &n); err != nil || n.Ended.Before(n.Started) || n.Ended.IsZero() || n.PID != os.Getpid() {
				t.Errorf("note after the engine went away: %+v (%v)", n, err)
			}
		})
	}
}
