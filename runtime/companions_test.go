package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeGroup plays containers that print one line, answer healthchecks from
// a script, and exit with a code when asked to wait. Only the order and
// the cleanup of StartCompanions are tested here; the engines themselves
// are tested against real daemons (enginetest, cmd/hpr).
type fakeGroup struct {
	Engine // not called: a call panics

	mu       sync.Mutex
	calls    []string
	created  map[string]ContainerSpec
	checks   map[string][]int // container name → exit codes of its healthchecks, in turn
	exits    map[string]int   // container name → its exit code, once Wait is asked
	networks []string
}

func (f *fakeGroup) record(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

func (f *fakeGroup) CreateNetwork(_ context.Context, n NetworkSpec) error {
	f.record("network %s", n.Name)
	f.networks = append(f.networks, n.Name)
	return nil
}

func (f *fakeGroup) RemoveNetwork(_ context.Context, name string) error {
	f.record("rm network %s", name)
	return nil
}

func (f *fakeGroup) Create(_ context.Context, s ContainerSpec) (string, error) {
	f.record("create %s %v", s.Name, s.ExtraHosts)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.created[s.Name] = s
	return s.Name, nil
}

func (f *fakeGroup) Attach(_ context.Context, id string, s Streams) (<-chan error, error) {
	fmt.Fprintf(s.Stdout, "hello from %s\npartial", id)
	done := make(chan error)
	close(done)
	return done, nil
}

func (f *fakeGroup) Start(_ context.Context, id string) error { f.record("start %s", id); return nil }

func (f *fakeGroup) Wait(ctx context.Context, id string) (int, error) {
	f.mu.Lock()
	code, ok := f.exits[id]
	f.mu.Unlock()
	if !ok {
		<-ctx.Done()
		return 0, ctx.Err()
	}
	return code, nil
}

func (f *fakeGroup) Address(_ context.Context, id, _ string) (string, error) {
	return "10.0.0." + strings.TrimPrefix(id, "c"), nil
}

func (f *fakeGroup) Exec(_ context.Context, id string, _ ExecSpec) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "check "+id)
	codes := f.checks[id]
	if len(codes) == 0 {
		return 1, nil
	}
	f.checks[id] = codes[1:]
	return codes[0], nil
}

func (f *fakeGroup) Remove(_ context.Context, id string) error { f.record("rm %s", id); return nil }

func TestStartCompanions(t *testing.T) {
	health := &Healthcheck{Test: []string{"check"}, Interval: time.Millisecond, Retries: 3}
	for _, c := range []struct {
		name    string
		comps   []Companion
		checks  map[string][]int
		exits   map[string]int
		wantErr string
		want    []string
	}{
		{
			name: "started, healthy, completed",
			comps: []Companion{
				{Name: "db", Spec: ContainerSpec{Name: "c1"}, Wait: ConditionHealthy, Health: health},
				{Name: "migrate", Spec: ContainerSpec{Name: "c2"}, Wait: ConditionCompleted},
				{Name: "cache", Spec: ContainerSpec{Name: "c3"}},
			},
			checks: map[string][]int{"c1": {1, 1, 0}},
			exits:  map[string]int{"c2": 0},
			want: []string{"network net", "create c1 []", "start c1", "check c1", "check c1", "check c1",
				"create c2 [db:10.0.0.1]", "start c2", "create c3 [db:10.0.0.1]", "start c3"},
		},
		{
			name:    "unhealthy",
			comps:   []Companion{{Name: "db", Spec: ContainerSpec{Name: "c1"}, Wait: ConditionHealthy, Health: health}, {Name: "web", Spec: ContainerSpec{Name: "c2"}}},
			checks:  map[string][]int{"c1": {1, 1, 1, 0}},
			wantErr: `service db: unhealthy: healthcheck ["check"] failed 3 times`,
			want:    []string{"network net", "create c1 []", "start c1", "check c1", "check c1", "check c1", "rm c1", "rm network net"},
		},
		{
			name:    "completed with an error",
			comps:   []Companion{{Name: "migrate", Spec: ContainerSpec{Name: "c1"}, Wait: ConditionCompleted}},
			exits:   map[string]int{"c1": 3},
			wantErr: "service migrate: it exited with status 3, and service_completed_successfully needs 0",
			want:    []string{"network net", "create c1 []", "start c1", "rm c1", "rm network net"},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := &fakeGroup{created: map[string]ContainerSpec{}, checks: c.checks, exits: c.exits}
			var out bytes.Buffer
			g, err := StartCompanions(context.Background(), f, CompanionOptions{Network: NetworkSpec{Name: "net"}, Companions: c.comps, Output: &out})
			if c.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want %q", err, c.wantErr)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				spec := g.Join(ContainerSpec{Name: "dev"})
				if spec.Network != "net" || !cmp.Equal(spec.ExtraHosts, []string{"db:10.0.0.1", "cache:10.0.0.3"}) {
					t.Errorf("joined spec: network %q, hosts %q", spec.Network, spec.ExtraHosts)
				}
				if err := g.Stop(context.Background()); err != nil {
					t.Fatal(err)
				}
				c.want = append(c.want, "rm c3", "rm c2", "rm c1", "rm network net")
			}
			if diff := cmp.Diff(c.want, f.calls); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
			if first := c.comps[0].Name + " | hello from c1\n"; !strings.HasPrefix(out.String(), first) || !strings.Contains(out.String(), c.comps[0].Name+" | partial\n") {
				t.Errorf("output %q, want lines prefixed with the service name", out.String())
			}
		})
	}
}

func TestCompanionExitsBeforeHealthy(t *testing.T) {
	f := &fakeGroup{created: map[string]ContainerSpec{}, exits: map[string]int{"c1": 1}}
	health := &Healthcheck{Test: []string{"check"}, Interval: time.Hour, Retries: 3}
	_, err := StartCompanions(context.Background(), f, CompanionOptions{Network: NetworkSpec{Name: "net"},
		Companions: []Companion{{Name: "db", Spec: ContainerSpec{Name: "c1"}, Wait: ConditionHealthy, Health: health}}})
	if !errors.Is(err, ErrUnhealthy) || !strings.Contains(err.Error(), "exited (status 1) before its healthcheck passed") {
		t.Errorf("error %v, want the exit before the healthcheck passed", err)
	}
}
