// Package enginetest is the contract every runtime.Engine backend must meet,
// run against real engines: TestContract opens every engine of the harness
// with its backend and calls Run, as the non-root test user. A check that
// both backends must pass is written here, once; a backend's own test file
// keeps only what is particular to it. Every ownership judgement is made
// from the host, against os.Getuid() and os.Getgid(), never against the
// plan's prediction.
package enginetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/runtime"
)

// BaseImage is the image the harness makes available in every store.
const BaseImage = "debian:bookworm-slim"

// missingImage is an image no engine of the harness has.
const missingImage = "hpr-no-such-image:never"

// Opener opens the backend under test on one endpoint.
type Opener func(ctx context.Context, endpoint string) (runtime.Engine, error)

// Env is one engine to hold to the contract.
type Env struct {
	Mode     idmap.Mode
	Endpoint string
	Open     Opener
}

// kind is the engine family of the mode under test.
func (env Env) kind() idmap.Kind {
	if strings.HasPrefix(string(env.Mode), string(idmap.KindPodman)+"-") {
		return idmap.KindPodman
	}
	return idmap.KindDocker
}

// fixture is what every check needs: the engine, its info, a plan for the
// base image, and a project directory owned by the test user.
type fixture struct {
	env     Env
	e       runtime.Engine
	info    runtime.Info
	host    idmap.Host
	planned runtime.Planned
	dir     string
}

// Run holds one engine to the contract. Opening the engine, asking its info
// and planning are not optional: any failure there fails the test.
func Run(t *testing.T, env Env) {
	f := setup(t, env)
	for _, c := range []struct {
		name  string
		check func(t *testing.T, f *fixture)
	}{
		{"Info", checkInfo},
		{"OwnerOfWrittenFile", checkOwnerOfWrittenFile},
		{"ExitCodes", checkExitCodes},
		{"StartErrors", checkStartErrors},
		{"StdoutStderrSeparate", checkStdoutStderr},
		{"EnvAndWorkingDir", checkEnvAndWorkingDir},
		{"IdentityAndHome", checkIdentityAndHome},
		{"IdentityMounts", checkIdentityMounts},
		{"Stdin", checkStdin},
		{"TTY", checkTTY},
		{"TTYStdinResize", checkTTYStdinResize},
		{"Wait", checkWait},
		{"ExecSignalList", checkExecSignalList},
		{"ExecTTYResize", checkExecTTYResize},
		{"PublishedPort", checkPublishedPort},
		{"SIGTERMReachesContainer", checkSIGTERM},
		{"SecurityDefaults", checkSecurityDefaults},
		{"NotFound", checkNotFound},
		{"CreateErrors", checkCreateErrors},
		{"MissingBindSource", checkMissingBindSource},
		{"MissingImage", checkMissingImage},
		{"ImagePinnedByID", checkImagePinnedByID},
		{"ImportAndReadFiles", checkImportAndReadFiles},
		{"Build", checkBuild},
		{"Volumes", checkVolumes},
		{"VolumeRootHandedOver", checkVolumeRootHandedOver},
		{"VolumeInUse", checkVolumeInUse},
		{"Network", networkContract},
		{"UnreachableEndpoint", checkUnreachable},
	} {
		t.Run(c.name, func(t *testing.T) { c.check(t, f) })
	}
}

// setupTimeout bounds opening the engine and planning the base image's run.
const setupTimeout = 60 * time.Second

func setup(t *testing.T, env Env) *fixture {
	t.Helper()
	// An engine that accepts connections but no longer answers fails the
	// run here, named, instead of holding it up.
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	e, err := env.Open(ctx, env.Endpoint)
	if err != nil {
		t.Fatalf("opening %s: %v", env.Endpoint, err)
	}
	t.Cleanup(func() { e.Close() })
	info, err := e.Info(ctx)
	if err != nil {
		t.Fatalf("Info: %v", err)
	}
	if info.Mode != env.Mode {
		t.Fatalf("engine at %s reports mode %s, want %s", env.Endpoint, info.Mode, env.Mode)
	}
	host, err := idmap.CurrentHost()
	if err != nil {
		t.Fatal(err)
	}
	planned, err := runtime.PlanFor(ctx, e, info, host, BaseImage, idmap.OverrideAuto)
	if err != nil {
		t.Fatalf("planning a run of %s on %s: %v", BaseImage, env.Endpoint, err)
	}
	return &fixture{env: env, e: e, info: info, host: host, planned: planned, dir: t.TempDir()}
}

// spec returns a container spec for the base image with the project
// directory mounted at /app and the test's label.
func (f *fixture) spec(t *testing.T, cmd ...string) runtime.ContainerSpec {
	return runtime.ContainerSpec{
		Image:      BaseImage,
		Cmd:        cmd,
		WorkingDir: "/app",
		Mounts:     []runtime.Mount{{Source: f.dir, Target: "/app"}},
		Labels:     map[string]string{runtime.LabelProject: f.dir, "io.hpr.test": t.Name()},
		Plan:       f.planned.Plan,
		Identity:   f.planned.Identity,
	}
}

// rootSpec is spec run as container root in the plan's user namespace: on
// rootful engines (docker-userns-remap: "host") that is the host's root,
// which sees the host's ids.
func (f *fixture) rootSpec(t *testing.T, cmd ...string) runtime.ContainerSpec {
	s := f.spec(t, cmd...)
	p := f.planned.Plan
	s.Plan = idmap.Plan{Mode: p.Mode, Override: idmap.OverrideRoot, User: "0:0", Userns: p.Userns}
	s.Identity = runtime.Identity{}
	return s
}

type result struct {
	code           int
	stdout, stderr string
}

func (f *fixture) run(t *testing.T, opts runtime.RunOptions) result {
	t.Helper()
	res, err := f.tryRun(opts)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// tryRun is run for goroutines, which must not call t.Fatal.
func (f *fixture) tryRun(opts runtime.RunOptions) (result, error) {
	var out, errb bytes.Buffer
	if opts.Streams.Stdout == nil {
		opts.Streams.Stdout = &out
	}
	if opts.Streams.Stderr == nil {
		opts.Streams.Stderr = &errb
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code, err := runtime.Run(ctx, f.e, opts)
	if err != nil {
		return result{}, fmt.Errorf("Run: %v (stderr %q)", err, errb.String())
	}
	return result{code, out.String(), errb.String()}, nil
}

// runAsync starts a run in a goroutine; the result arrives on the channel.
func (f *fixture) runAsync(opts runtime.RunOptions) <-chan asyncResult {
	ch := make(chan asyncResult, 1)
	go func() {
		r, err := f.tryRun(opts)
		ch <- asyncResult{r, err}
	}()
	return ch
}

type asyncResult struct {
	result
	err error
}

// created creates a container from s, removed when the test ends (unless
// the engine removed it by itself).
func (f *fixture) created(t *testing.T, s runtime.ContainerSpec) string {
	t.Helper()
	ctx := context.Background()
	id, err := f.e.Create(ctx, s)
	if err != nil {
		t.Fatalf("Create(%q): %v", s.Cmd, err)
	}
	t.Cleanup(func() {
		if err := f.e.Remove(ctx, id); err != nil && !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("removing %s: %v", id, err)
		}
	})
	return id
}

// noneLeft asserts no container carrying this test's label exists, once
// the engine has had up to 10 s to remove the ones it removes by itself.
func (f *fixture) noneLeft(t *testing.T) {
	t.Helper()
	left, err := runtime.Settle(context.Background(), f.e, map[string]string{"io.hpr.test": t.Name()}, 10*time.Second)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(left) > 0 {
		t.Errorf("%d container(s) left after the run: %+v", len(left), left)
	}
}

// unique is a name no other test or run uses.
func unique(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), time.Now().UnixNano())
}
