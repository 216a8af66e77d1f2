package conformance

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/moby/sys/user"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/runtime"
)

// LabelRun marks every container and volume of one conformance run with the
// run's id, so that the run can tell what it left behind.
const LabelRun = "io.hpr.conformance"

// Where the probe's other mounts are inside the container.
const (
	extraTarget  = "/hpr-extra"
	volumeTarget = "/hpr-volume"
	cleanTarget  = "/hpr-clean"
)

// runTimeout bounds one probe container; the first run of a new image on
// rootless Podman makes an id-mapped copy of it, which takes seconds.
const runTimeout = 3 * time.Minute

// Options configure one engine's run. The zero value checks the default
// plan with the probe image, as run outside a project.
type Options struct {
	// Image is the image to check; "" uses the probe image. The probe
	// binary is bind-mounted read-only into any other image at ProbePath.
	Image string
	// Override is the project's [run] user; "" is idmap.OverrideAuto.
	Override idmap.Override
	// Mount is the project mount point; "" is /app.
	Mount string
	// Binary is the static hpr binary to probe with; "" is the running
	// executable.
	Binary string
	// Version is hpr's version, for the io.hpr.version label; "" is "dev".
	Version string
	// Dir is where the test directory is made; "" is os.TempDir().
	Dir string
	// Labels are added to the labels of the run's containers (the CLI adds
	// its pid, so that hpr gc leaves a running conformance alone).
	Labels map[string]string
	// PlanHook, when not nil, replaces the plans the run uses for the
	// probe (not for cleaning up), so that a test can hold a wrong plan to
	// the suite and see it fail.
	PlanHook func(idmap.Plan) idmap.Plan
}

// Check is the outcome of one check on one engine.
type Check struct {
	ID          string `json:"id"`
	Description string `json:"description"`
	Pass        bool   `json:"pass"`
	// Detail names the owner seen and, on failure, explains it.
	Detail string `json:"detail"`
}

// EngineReport is the outcome of a run on one engine.
type EngineReport struct {
	Endpoint string     `json:"endpoint"`
	Mode     idmap.Mode `json:"mode"`
	Version  string     `json:"version"`
	// Image is the image checked.
	Image string `json:"image,omitempty"`
	// Plan is the plan the probe ran under; nil when the run stopped
	// before planning.
	Plan *idmap.Plan `json:"plan"`
	Pass bool        `json:"pass"`
	// Error says why the engine could not be tested; Checks is then empty.
	Error   string  `json:"error,omitempty"`
	Seconds float64 `json:"seconds"`
	Checks  []Check `json:"checks"`
}

// Tested reports whether the engine was tested (its checks ran).
func (r EngineReport) Tested() bool { return r.Error == "" && len(r.Checks) > 0 }

// Run runs the conformance suite on one engine, whose Info is info, as the
// user running this process. An error means the engine could not be tested
// (the returned report still names it); failed checks are in the report.
func Run(ctx context.Context, e runtime.Engine, info runtime.Info, opts Options) (rep EngineReport, err error) {
	start := time.Now()
	rep = EngineReport{Endpoint: info.Endpoint, Mode: info.Mode, Version: info.Facts.Version, Checks: []Check{}}
	defer func() {
		rep.Seconds = time.Since(start).Seconds()
		if err != nil {
			rep.Error, rep.Pass, rep.Checks = err.Error(), false, []Check{}
		}
	}()
	s, err := newSession(ctx, e, info, opts)
	if err != nil {
		return rep, err
	}
	rep.Image = s.ref
	checks, err := s.run(ctx)
	if err != nil {
		return rep, err
	}
	plan := s.plan
	rep.Plan, rep.Checks, rep.Pass = &plan, checks, len(failedIDs(checks)) == 0
	return rep, nil
}

// session is one engine's run: what was decided before any container ran.
type session struct {
	e       runtime.Engine
	info    runtime.Info
	opts    Options
	host    idmap.Host
	ns      idmap.Namespace
	bin     binary
	version string
	mount   string
	// ref is the image checked; userRef the probe image with USER userUID.
	ref     string
	userRef string
	userUID int
	runID   string
	// labels mark the run's volume; containerLabels its containers.
	labels, containerLabels map[string]string
	volume                  string
	// plan and userPlan are filled by prepare, with the identities (passwd,
	// group, HOME) PlanFor made for them.
	plan, userPlan         idmap.Plan
	identity, userIdentity runtime.Identity
	// remapErr is why the remap ranges could not be read.
	remapErr error
	// volumeErr is why the volume could not be made.
	volumeErr string
	// root is the test directory.
	root string
}

func newSession(ctx context.Context, e runtime.Engine, info runtime.Info, opts Options) (*session, error) {
	if err := info.Mode.Validate(); err != nil {
		return nil, fmt.Errorf("testing %s: %w", info.Endpoint, err)
	}
	if !info.Local {
		return nil, fmt.Errorf("testing %s: the engine is not on this machine, so the files its containers write cannot be judged here; run hpr conformance on the engine's machine", info.Endpoint)
	}
	host, err := idmap.CurrentHost()
	if err != nil {
		return nil, fmt.Errorf("reading your identity: %w", err)
	}
	binPath := opts.Binary
	if binPath == "" {
		if binPath, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("finding the hpr binary: %w", err)
		}
	}
	bin, err := loadBinary(binPath)
	if err != nil {
		return nil, err
	}
	id := make([]byte, 6)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	s := &session{
		e: e, info: info, opts: opts, host: host, bin: bin,
		version: cmp.Or(opts.Version, "dev"), mount: cmp.Or(opts.Mount, "/app"),
		ref: cmp.Or(opts.Image, bin.probeRef()), userUID: otherUID(host.UID),
		runID: hex.EncodeToString(id),
		ns:    idmap.Namespace{Mode: info.Mode},
	}
	s.userRef = bin.userProbeRef(s.userUID)
	s.labels = map[string]string{runtime.LabelVersion: s.version, LabelRun: s.runID}
	s.containerLabels = maps.Clone(opts.Labels)
	if s.containerLabels == nil {
		s.containerLabels = map[string]string{}
	}
	maps.Copy(s.containerLabels, s.labels)
	s.volume = "hpr-conformance-" + s.runID
	if info.Mode == idmap.DockerUsernsRemap {
		s.ns.RemapUIDs, s.ns.RemapGIDs, s.remapErr = RemapRanges("/etc/subuid", "/etc/subgid", "dockremap")
	}
	return s, nil
}

// RemapRanges reads the subordinate ranges of a userns-remap daemon's remap
// user (dockremap by default) from subuid and subgid files, dropping
// entries with no ids, which the parser accepts silently.
func RemapRanges(subuid, subgid, name string) (uids, gids []idmap.IDRange, err error) {
	read := func(file string) ([]idmap.IDRange, error) {
		subs, err := user.ParseSubIDFileFilter(file, func(s user.SubID) bool { return s.Name == name && s.Count > 0 && s.SubID > 0 })
		if err != nil {
			return nil, fmt.Errorf("reading the %s ranges of %s: %w", name, file, err)
		}
		var out []idmap.IDRange
		for _, s := range subs {
			out = append(out, idmap.IDRange{HostID: s.SubID, Count: s.Count})
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("%s has no ranges for %s", file, name)
		}
		return out, nil
	}
	if uids, err = read(subuid); err != nil {
		return nil, nil, err
	}
	if gids, err = read(subgid); err != nil {
		return nil, nil, err
	}
	return uids, gids, nil
}

// prepare makes sure the images and the volume exist and makes the plans,
// concurrently.
func (s *session) prepare(ctx context.Context) error {
	override := cmp.Or(s.opts.Override, idmap.OverrideAuto)
	ensureAndPlan := func(ref, user string, imp bool) (runtime.Planned, error) {
		if imp {
			if err := ensureProbeImage(ctx, s.e, s.bin, ref, s.version, user); err != nil {
				return runtime.Planned{}, err
			}
		}
		p, err := runtime.PlanFor(ctx, s.e, s.info, s.host, ref, override)
		if errors.Is(err, runtime.ErrNotFound) && !imp {
			return p, fmt.Errorf("image %s is not on this engine, and hpr never pulls: pull or build it there first (%w)", ref, runtime.ErrNotFound)
		}
		return p, err
	}
	var (
		wg                sync.WaitGroup
		main, other       runtime.Planned
		mainErr, otherErr error
	)
	wg.Go(func() { main, mainErr = ensureAndPlan(s.ref, "", s.opts.Image == "") })
	wg.Go(func() {
		other, otherErr = ensureAndPlan(s.userRef, fmt.Sprintf("%d:%d", s.userUID, s.userUID), true)
	})
	wg.Go(func() {
		// A volume that cannot be made fails the volume check, not the run.
		if _, err := s.e.EnsureVolume(ctx, runtime.VolumeSpec{Name: s.volume, Labels: s.labels}); err != nil {
			s.volumeErr = fmt.Sprintf("creating volume %s: %v", s.volume, err)
		}
	})
	wg.Wait()
	if err := errors.Join(mainErr, otherErr); err != nil {
		s.removeVolume(ctx)
		return err
	}
	s.plan, s.userPlan = main.Plan, other.Plan
	s.identity, s.userIdentity = main.Identity, other.Identity
	if s.opts.PlanHook != nil {
		s.plan, s.userPlan = s.opts.PlanHook(s.plan), s.opts.PlanHook(s.userPlan)
	}
	return nil
}

// run prepares, runs the probes, judges and cleans up.
func (s *session) run(ctx context.Context) ([]Check, error) {
	if err := s.prepare(ctx); err != nil {
		return nil, err
	}
	root, err := os.MkdirTemp(cmp.Or(s.opts.Dir, os.TempDir()), "hpr-conformance-")
	if err != nil {
		s.removeVolume(ctx)
		return nil, fmt.Errorf("making the test directory: %w", err)
	}
	if err := makeFixture(root); err != nil {
		os.RemoveAll(root)
		s.removeVolume(ctx)
		return nil, err
	}
	s.root = root
	app := runtime.Mount{Source: filepath.Join(root, appDir), Target: s.mount}
	extra := runtime.Mount{Source: filepath.Join(root, extraDir), Target: extraTarget}
	var vols []runtime.VolumeMount
	if s.volumeErr == "" {
		vols = []runtime.VolumeMount{{Name: s.volume, Target: volumeTarget}}
	}
	args := func(withExtra bool) []string {
		a := []string{"probe", "--app", s.mount}
		if vols != nil {
			a = append(a, "--volume", volumeTarget)
		}
		if withExtra {
			a = append(a, "--extra", extraTarget)
		}
		return a
	}

	var (
		wg               sync.WaitGroup
		mainRun, userRun probeRun
		extraErr         string
	)
	wg.Go(func() {
		var err error
		mainRun, err = s.probe(ctx, s.spec(s.ref, s.plan, s.identity, args(true), []runtime.Mount{app, extra}, vols))
		if err != nil {
			// An engine that refuses the second mount must not hide every
			// other check: try again without it.
			again, aerr := s.probe(ctx, s.spec(s.ref, s.plan, s.identity, args(false), []runtime.Mount{app}, vols))
			if aerr == nil {
				mainRun, extraErr = again, err.Error()
			}
		}
	})
	wg.Go(func() {
		userArgs := []string{"probe", "--app", s.mount, "--steps", strings.Join([]string{CheckCreate, CheckNested, CheckChild}, ",")}
		userApp := runtime.Mount{Source: filepath.Join(root, imageUserDir), Target: s.mount}
		spec := s.spec(s.userRef, s.userPlan, s.userIdentity, userArgs, []runtime.Mount{userApp}, nil)
		var err error
		if userRun, err = s.probe(ctx, spec); err != nil {
			// A container that did not start says nothing about the
			// mapping (seen once on rootless Podman 4.3.1, whose first
			// keep-id run of a new image copies its layers while the main
			// probe starts): try once more, and report both if it fails
			// again.
			if again, aerr := s.probe(ctx, spec); aerr == nil {
				userRun = again
			} else {
				userRun.Err = fmt.Sprintf("%v (and on a second try: %v)", err, aerr)
			}
		}
	})
	wg.Wait()

	in := judgeInput{
		host: s.host, plan: s.plan, ns: s.ns, mount: s.mount,
		main: mainRun, extraErr: extraErr, volumeErr: s.volumeErr,
		userImageUser: fmt.Sprintf("%d:%d", s.userUID, s.userUID), userPlan: s.userPlan, user: userRun,
		files: observe(root),
	}
	in.cleanupNote = s.clean(ctx)
	if s.remapErr != nil {
		in.cleanupNote = strings.TrimPrefix(in.cleanupNote+"; ", "; ") + "owners cannot be explained: " + s.remapErr.Error()
	}
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), runtime.RemoveTimeout)
	// Podman removes an exited container itself, a fraction of a second
	// after hpr has read its exit status: give it the time.
	left, err := runtime.Settle(lctx, s.e, map[string]string{LabelRun: s.runID}, settleTimeout)
	cancel()
	if err != nil {
		in.listErr = err.Error()
	}
	in.leftovers = left
	in.volumeNote = s.removeVolume(ctx)
	return judge(in), nil
}

// settleTimeout bounds how long the no-leftovers check waits for an engine
// that removes exited containers itself (see runtime.Settle).
const settleTimeout = 10 * time.Second

// spec is a probe container: the probe binary as entrypoint (bind-mounted
// when the image is not a probe image), the run's labels.
func (s *session) spec(ref string, plan idmap.Plan, id runtime.Identity, args []string, mounts []runtime.Mount, vols []runtime.VolumeMount) runtime.ContainerSpec {
	mountBinary := ref != s.bin.probeRef() && ref != s.userRef
	// The test directory is the project of the run's containers: never
	// the user's project, whose containers hpr exec and gc look for.
	labels := maps.Clone(s.containerLabels)
	labels[runtime.LabelProject] = s.root
	ms := append([]runtime.Mount(nil), mounts...)
	if mountBinary {
		ms = append(ms, runtime.Mount{Source: s.bin.Path, Target: ProbePath, ReadOnly: true})
	}
	return runtime.ContainerSpec{
		Image:      ref,
		Entrypoint: []string{ProbePath},
		Cmd:        append([]string(nil), args...),
		WorkingDir: s.mount,
		Mounts:     ms,
		Volumes:    vols,
		Labels:     labels,
		Plan:       plan,
		Identity:   id,
	}
}

// probe runs one probe container and reads its report. An error means the
// container could not be run at all; a probe that ran but did not report
// is a probeRun with Err.
func (s *session) probe(ctx context.Context, spec runtime.ContainerSpec) (probeRun, error) {
	ctx, cancel := context.WithTimeout(ctx, runTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code, err := runtime.Run(ctx, s.e, runtime.RunOptions{Spec: spec, Streams: runtime.Streams{Stdout: &stdout, Stderr: &stderr}})
	if err != nil {
		return probeRun{Err: err.Error()}, err
	}
	if code != 0 {
		return probeRun{Err: fmt.Sprintf("exit status %d: %s", code, strings.TrimSpace(stderr.String()))}, nil
	}
	var r probeReport
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		return probeRun{Err: fmt.Sprintf("reading the probe's report: %v (stdout %q, stderr %q)", err, truncate(stdout.String()), truncate(stderr.String()))}, nil
	}
	return probeRun{Report: &r}, nil
}

func truncate(s string) string {
	const n = 300
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// clean removes the test directory. What the host user cannot remove (files
// a wrong mapping left owned by others) is removed by a container running
// as container root, which may act on every id its namespace maps. It
// returns a note when something is left.
func (s *session) clean(ctx context.Context) string {
	root := s.root
	if err := removeAll(root); err == nil {
		return ""
	}
	// Clean up even when the caller gave up: what is left is root's.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), runTimeout)
	defer cancel()
	p, err := runtime.PlanFor(ctx, s.e, s.info, s.host, s.ref, idmap.OverrideRoot)
	if err != nil {
		return fmt.Sprintf("%s is left (remove it as root): planning a container to remove it: %v", root, err)
	}
	spec := s.spec(s.ref, p.Plan, p.Identity, []string{"probe", "--clean", cleanTarget},
		[]runtime.Mount{{Source: root, Target: cleanTarget}}, nil)
	spec.WorkingDir = cleanTarget
	var stderr bytes.Buffer
	code, err := runtime.Run(ctx, s.e, runtime.RunOptions{Spec: spec, Streams: runtime.Streams{Stderr: &stderr}})
	if err == nil && code != 0 {
		err = fmt.Errorf("exit status %d: %s", code, strings.TrimSpace(stderr.String()))
	}
	if rerr := removeAll(root); rerr != nil {
		if err == nil {
			err = rerr
		}
		return fmt.Sprintf("%s is left (remove it as root): %v", root, err)
	}
	return "files owned by others were removed by a container running as root"
}

// volumeRemover is what an engine needs to remove the run's volume. It is
// not part of runtime.Engine yet; without it the volume is left, labelled,
// for hpr gc.
type volumeRemover interface {
	RemoveVolume(ctx context.Context, name string) error
}

// removeVolume removes the run's volume once; it returns a note when it
// cannot.
func (s *session) removeVolume(ctx context.Context) string {
	if s.volume == "" {
		return ""
	}
	name := s.volume
	s.volume = ""
	vr, ok := s.e.(volumeRemover)
	if !ok {
		return fmt.Sprintf("volume %s is left: hpr cannot remove volumes yet; remove it with `%s volume rm %s`", name, s.info.Facts.Kind, name)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), runtime.RemoveTimeout)
	defer cancel()
	if err := vr.RemoveVolume(ctx, name); err != nil && !errors.Is(err, runtime.ErrNotFound) {
		return fmt.Sprintf("removing volume %s: %v", name, err)
	}
	return ""
}
