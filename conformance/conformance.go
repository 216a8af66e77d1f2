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
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/moby/sys/user"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/project"
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
	// Project is the project whose container is checked: conformance runs
	// its probes in the very spec hpr run creates for it (image, plan,
	// identity, capabilities, environment, volumes), with the probe as
	// the command and a test directory as the project mount (ProbeSpec).
	// Nil checks the default plan in the probe image.
	Project *project.Project
	// Image replaces the project's image; "" keeps it (or, without a
	// project, uses the probe image). The probe binary is bind-mounted
	// read-only into any image but the probe image, at ProbePath.
	Image string
	// Binary is the static hpr binary to probe with; "" is the running
	// executable.
	Binary string
	// Dir is where the test directory is made on this machine; "" is
	// os.TempDir(). A remote engine's is made in the temporary directory
	// of its host.
	Dir string
	// Remote is the engine's host when the engine is on another machine
	// (an ssh:// engine's sshconn.Target): the test directory is made,
	// observed and removed there, and files are judged from its side.
	// Nil for a local engine.
	Remote Remote
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

// Run runs the conformance suite on the resolver's engine, as the
// resolver's host user. An error means the engine could not be tested (the
// returned report still names it); failed checks are in the report.
func Run(ctx context.Context, r *project.Resolver, opts Options) (rep EngineReport, err error) {
	start := time.Now()
	info := r.Info
	rep = EngineReport{Endpoint: info.Endpoint, Mode: info.Mode, Version: info.Facts.Version, Checks: []Check{}}
	defer func() {
		rep.Seconds = time.Since(start).Seconds()
		if err != nil {
			rep.Error, rep.Pass, rep.Checks = err.Error(), false, []Check{}
		}
	}()
	s, err := newSession(r, opts)
	if err != nil {
		return rep, err
	}
	rep.Image = s.ref
	checks, err := s.run(ctx)
	rep.Image = cmp.Or(s.base.Image, s.ref)
	if err != nil {
		return rep, err
	}
	plan := s.base.Plan
	rep.Plan, rep.Checks, rep.Pass = &plan, checks, len(failedIDs(checks)) == 0
	return rep, nil
}

// session is one engine's run: what was decided before any container ran.
type session struct {
	r    *project.Resolver
	e    runtime.Engine
	info runtime.Info
	opts Options
	ns   idmap.Namespace
	bin  binary
	// proj is what is checked; probeImage says its image is the probe's.
	proj       *project.Project
	probeImage bool
	// ref is the image checked; userRef the probe image with USER userUID.
	ref     string
	userRef string
	userUID int
	runID   string
	// labels mark the run's volume; containerLabels its containers.
	labels, containerLabels map[string]string
	volume                  string
	// base is the spec hpr run would create for proj, and user the plan of
	// the image-user probe; filled by prepare.
	base runtime.ContainerSpec
	user runtime.Planned
	// remapErr is why the remap ranges could not be read.
	remapErr error
	// volumeErr is why the volume could not be made.
	volumeErr string
	// host is where the engine's containers write: the test directory is
	// there. root is the test directory, probePath the probe binary that
	// images other than the probe's mount (both the host's paths).
	host            testHost
	root, probePath string
}

func newSession(r *project.Resolver, opts Options) (*session, error) {
	info := r.Info
	if err := info.Mode.Validate(); err != nil {
		return nil, fmt.Errorf("testing %s: %w", info.Endpoint, err)
	}
	var host testHost = localHost{dir: opts.Dir}
	if !info.Local {
		if opts.Remote == nil {
			return nil, fmt.Errorf("testing %s: the engine is on another machine that hpr reaches without ssh, so the files its containers write cannot be judged from that machine's side; reach it with an ssh:// endpoint, or run hpr conformance there", info.Endpoint)
		}
		host = remoteHost{opts.Remote}
	}
	binPath := opts.Binary
	if binPath == "" {
		var err error
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
		r: r, e: r.Engine, info: info, opts: opts, bin: bin, host: host,
		runID: hex.EncodeToString(id), ns: idmap.Namespace{Mode: info.Mode},
	}
	s.proj, s.probeImage = target(opts, bin)
	s.ref = s.proj.Image.Ref // empty for a project that builds its image
	s.labels = map[string]string{runtime.LabelVersion: cmp.Or(r.Version, "dev"), LabelRun: s.runID}
	s.containerLabels = maps.Clone(opts.Labels)
	if s.containerLabels == nil {
		s.containerLabels = map[string]string{}
	}
	maps.Copy(s.containerLabels, s.labels)
	s.volume = "hpr-conformance-" + s.runID
	return s, nil
}

// makeDir makes the test directory where the engine's containers write
// and learns whose files land there: on a remote engine's host, the
// directory's owner there becomes the resolver's host user (the same step
// hpr run takes for its remote root). The image-user probe's USER and the
// remap ranges follow from that host.
func (s *session) makeDir(ctx context.Context) error {
	var err error
	if s.root, s.probePath, err = s.host.makeDir(ctx, s.bin, !s.probeImage); err != nil {
		return err
	}
	if s.opts.Remote != nil {
		if err := s.r.OnHost(ctx, s.opts.Remote, path.Join(s.root, appDir)); err != nil {
			s.host.removeAll(context.WithoutCancel(ctx), s.root)
			return err
		}
	}
	s.userUID = otherUID(s.r.Host.UID)
	s.userRef = s.bin.userProbeRef(s.userUID)
	if s.info.Mode == idmap.DockerUsernsRemap {
		s.ns.RemapUIDs, s.ns.RemapGIDs, s.remapErr = s.remapRanges(ctx)
	}
	return nil
}

// remapRanges reads the remap user's ranges from the host's files.
func (s *session) remapRanges(ctx context.Context) (uids, gids []idmap.IDRange, err error) {
	read := func(path string) ([]byte, error) { return s.host.readFile(ctx, path) }
	return remapRangesFrom(read, "/etc/subuid", "/etc/subgid", "dockremap")
}

// target is the project a run checks: the options' project (with its
// image replaced by Image), or the default plan in the probe image (or
// Image); and whether its image is the probe image.
func target(opts Options, bin binary) (*project.Project, bool) {
	p := opts.Project
	if p == nil {
		dir, _ := os.Getwd()
		p = project.AdHoc(dir, "")
	} else {
		c := *p
		p = &c
	}
	if opts.Image != "" {
		p.Image = project.Image{Ref: opts.Image}
	}
	if !p.Image.Building() && p.Image.Ref == "" {
		p.Image = project.Image{Ref: bin.probeRef()}
		return p, true
	}
	return p, false
}

// RemapRanges reads the subordinate ranges of a userns-remap daemon's remap
// user (dockremap by default) from subuid and subgid files, dropping
// entries with no ids, which the parser accepts silently.
func RemapRanges(subuid, subgid, name string) (uids, gids []idmap.IDRange, err error) {
	return remapRangesFrom(os.ReadFile, subuid, subgid, name)
}

// remapRangesFrom is RemapRanges with the files read by read (on the
// engine's host, for a remote engine). Its errors name the file they are
// about.
func remapRangesFrom(read func(path string) ([]byte, error), subuid, subgid, name string) (uids, gids []idmap.IDRange, err error) {
	if uids, err = subRanges(read, subuid, name); err != nil {
		return nil, nil, err
	}
	if gids, err = subRanges(read, subgid, name); err != nil {
		return nil, nil, err
	}
	return uids, gids, nil
}

// subRanges reads name's ranges from the subordinate id file at path.
func subRanges(read func(path string) ([]byte, error), path, name string) ([]idmap.IDRange, error) {
	content, err := read(path)
	if err != nil {
		return nil, fmt.Errorf("reading the %s ranges of %s: %w", name, path, err)
	}
	subs, err := user.ParseSubIDFilter(bytes.NewReader(content), func(s user.SubID) bool { return s.Name == name && s.Count > 0 && s.SubID > 0 })
	if err != nil {
		return nil, fmt.Errorf("reading the %s ranges of %s: %w", name, path, err)
	}
	var out []idmap.IDRange
	for _, s := range subs {
		out = append(out, idmap.IDRange{HostID: s.SubID, Count: s.Count})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s has no ranges for %s", path, name)
	}
	return out, nil
}

// prepare makes sure the images and the volume exist, resolves the spec
// hpr run would create for the project and plans the image-user probe,
// concurrently.
func (s *session) prepare(ctx context.Context) error {
	var (
		wg              sync.WaitGroup
		baseErr, usrErr error
	)
	wg.Go(func() { s.base, baseErr = s.resolveBase(ctx) })
	wg.Go(func() {
		usrErr = ensureProbeImage(ctx, s.e, s.bin, s.userRef, s.r.Version, fmt.Sprintf("%d:%d", s.userUID, s.userUID))
		if usrErr == nil {
			s.user, usrErr = s.r.Plan(ctx, s.userRef, s.proj.Run.User)
		}
	})
	wg.Go(func() {
		// A volume that cannot be made fails the volume check, not the run.
		if _, err := s.e.EnsureVolume(ctx, runtime.VolumeSpec{Name: s.volume, Labels: s.labels}); err != nil {
			s.volumeErr = fmt.Sprintf("creating volume %s: %v", s.volume, err)
		}
	})
	wg.Wait()
	if err := errors.Join(baseErr, usrErr); err != nil {
		s.removeVolume(ctx)
		return err
	}
	if s.opts.PlanHook != nil {
		s.base.Plan, s.user.Plan = s.opts.PlanHook(s.base.Plan), s.opts.PlanHook(s.user.Plan)
	}
	return nil
}

// resolveBase is the spec hpr run would create for the project on this
// engine, asked of the same resolver hpr run asks. A project's image is
// never built here: conformance checks what is there.
func (s *session) resolveBase(ctx context.Context) (runtime.ContainerSpec, error) {
	memo := project.MemoRecord
	if s.probeImage {
		memo = project.MemoOff
		if err := ensureProbeImage(ctx, s.e, s.bin, s.ref, s.r.Version, ""); err != nil {
			return runtime.ContainerSpec{}, err
		}
	}
	res, err := s.r.Resolve(ctx, s.proj, project.Request{Policy: project.BuildNever, Memo: memo, Labels: s.containerLabels})
	switch {
	case errors.Is(err, project.ErrNotBuilt):
		return runtime.ContainerSpec{}, fmt.Errorf("%w (here: hpr build --engine %s)", err, s.info.Endpoint)
	case errors.Is(err, runtime.ErrNotFound) && !s.probeImage && !s.proj.Image.Building():
		return runtime.ContainerSpec{}, fmt.Errorf("image %s is not on this engine, and hpr never pulls: pull or build it there first (%w)", s.ref, runtime.ErrNotFound)
	}
	return res.Spec, err
}

// run makes the test directory, prepares, runs the probes, judges and
// cleans up.
func (s *session) run(ctx context.Context) ([]Check, error) {
	if err := s.makeDir(ctx); err != nil {
		return nil, err
	}
	if err := s.prepare(ctx); err != nil {
		s.host.removeAll(context.WithoutCancel(ctx), s.root)
		return nil, err
	}
	var (
		wg               sync.WaitGroup
		mainRun, userRun probeRun
		extraErr         string
	)
	wg.Go(func() { mainRun, extraErr = s.mainProbe(ctx) })
	wg.Go(func() { userRun = s.userProbe(ctx) })
	wg.Wait()

	in := judgeInput{
		host: s.r.Host, plan: s.base.Plan, ns: s.ns, mount: s.mount(),
		main: mainRun, extraErr: extraErr, volumeErr: s.volumeErr,
		userImageUser: fmt.Sprintf("%d:%d", s.userUID, s.userUID), userPlan: s.user.Plan, user: userRun,
	}
	files, err := s.host.observe(ctx, s.root)
	in.files = files
	in.cleanupNote = s.clean(ctx)
	if err != nil {
		s.removeVolume(ctx)
		return nil, err
	}
	if s.remapErr != nil {
		in.cleanupNote = strings.TrimPrefix(in.cleanupNote+"; ", "; ") + "owners cannot be explained: " + s.remapErr.Error()
	}
	in.leftovers, in.listErr = s.leftovers(ctx)
	in.volumeNote = s.removeVolume(ctx)
	return judge(in), nil
}

// mainProbe runs the probe in the project's spec, with the test
// directory's extra mount; an engine that refuses the second mount must
// not hide every other check, so without it if need be (extraErr says
// why).
func (s *session) mainProbe(ctx context.Context) (run probeRun, extraErr string) {
	app := runtime.Mount{Source: filepath.Join(s.root, appDir), Target: s.mount()}
	extra := runtime.Mount{Source: filepath.Join(s.root, extraDir), Target: extraTarget}
	args := []string{"probe", "--app", s.mount()}
	var vols []runtime.VolumeMount
	if s.volumeErr == "" {
		vols = []runtime.VolumeMount{{Name: s.volume, Target: volumeTarget}}
		args = append(args, "--volume", volumeTarget)
	}
	run, err := s.probe(ctx, s.probeSpec(s.base, append(args, "--extra", extraTarget), app, vols, extra))
	if err != nil {
		if again, aerr := s.probe(ctx, s.probeSpec(s.base, args, app, vols)); aerr == nil {
			return again, err.Error()
		}
	}
	return run, ""
}

// userProbe runs the probe in the image whose USER is another uid, under
// the plan the project's [run] user gives it. A container that did not
// start says nothing about the mapping (seen once on rootless Podman,
// whose first keep-id run of a new image copies its layers while the main
// probe starts): it is tried once more, and both errors are reported if
// that fails too.
func (s *session) userProbe(ctx context.Context) probeRun {
	base := s.base
	base.Image, base.ImageID, base.Plan, base.Identity = s.user.Image.Ref, s.user.Image.ID, s.user.Plan, s.user.Identity
	base.Volumes = nil
	args := []string{"probe", "--app", s.mount(), "--steps", strings.Join([]string{CheckCreate, CheckNested, CheckChild}, ",")}
	app := runtime.Mount{Source: filepath.Join(s.root, imageUserDir), Target: s.mount()}
	spec := s.probeSpec(base, args, app, nil)
	run, err := s.probe(ctx, spec)
	if err == nil {
		return run
	}
	again, aerr := s.probe(ctx, spec)
	if aerr == nil {
		return again
	}
	run.Err = fmt.Sprintf("%v (and on a second try: %v)", err, aerr)
	return run
}

// leftovers lists the run's containers still there once the engine had
// the time to remove those it removes by itself (Podman, a fraction of a
// second after hpr read their exit status).
func (s *session) leftovers(ctx context.Context) ([]runtime.Container, string) {
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), runtime.RemoveTimeout)
	defer cancel()
	left, err := runtime.Settle(lctx, s.e, map[string]string{LabelRun: s.runID}, settleTimeout)
	if err != nil {
		return left, err.Error()
	}
	return left, ""
}

// settleTimeout bounds how long the no-leftovers check waits for an engine
// that removes exited containers itself (see runtime.Settle).
const settleTimeout = 10 * time.Second

// mount is the project mount point inside the container.
func (s *session) mount() string { return s.base.Mounts[0].Target }

// probeSpec is the spec of a probe container made from base, the spec hpr
// run creates for the project: the same image, plan, identity, environment,
// capabilities and volumes, with only these replaced — the probe binary as
// entrypoint with args as its command (bind-mounted read-only when the
// image is not a probe image); app (a test directory, at the project mount
// point) as the project mount; the mount point as the working directory;
// no published ports (a running hpr run may hold them); the engine's
// choice of name; labels that make the test directory the container's
// project (never the user's project, whose containers hpr exec and gc look
// for) and mark the conformance run; and vols and extra mounts added.
func (s *session) probeSpec(base runtime.ContainerSpec, args []string, app runtime.Mount, vols []runtime.VolumeMount, extra ...runtime.Mount) runtime.ContainerSpec {
	spec := base
	spec.Name = ""
	spec.Entrypoint = []string{ProbePath}
	spec.Cmd = append([]string(nil), args...)
	spec.WorkingDir = app.Target
	spec.Ports = nil
	spec.Mounts = append(append([]runtime.Mount{app}, base.Mounts[1:]...), extra...)
	if base.Image != s.bin.probeRef() && base.Image != s.userRef {
		spec.Mounts = append(spec.Mounts, runtime.Mount{Source: s.probePath, Target: ProbePath, ReadOnly: true})
	}
	spec.Volumes = append(append([]runtime.VolumeMount(nil), base.Volumes...), vols...)
	spec.Labels = maps.Clone(base.Labels)
	maps.Copy(spec.Labels, s.containerLabels)
	spec.Labels[runtime.LabelProject] = s.root
	return spec
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
	// Clean up even when the caller gave up: what is left is root's.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), runTimeout)
	defer cancel()
	if err := s.host.removeAll(ctx, root); err == nil {
		return ""
	}
	p, err := s.r.Plan(ctx, s.base.Image, idmap.OverrideRoot)
	if err != nil {
		return fmt.Sprintf("%s is left (remove it as root): planning a container to remove it: %v", root, err)
	}
	base := s.base
	base.Image, base.ImageID, base.Plan, base.Identity, base.Volumes = p.Image.Ref, p.Image.ID, p.Plan, p.Identity, nil
	spec := s.probeSpec(base, []string{"probe", "--clean", cleanTarget}, runtime.Mount{Source: root, Target: cleanTarget}, nil)
	var stderr bytes.Buffer
	code, err := runtime.Run(ctx, s.e, runtime.RunOptions{Spec: spec, Streams: runtime.Streams{Stderr: &stderr}})
	if err == nil && code != 0 {
		err = fmt.Errorf("exit status %d: %s", code, strings.TrimSpace(stderr.String()))
	}
	if rerr := s.host.removeAll(ctx, root); rerr != nil {
		if err == nil {
			err = rerr
		}
		return fmt.Sprintf("%s is left (remove it as root): %v", root, err)
	}
	return "files owned by others were removed by a container running as root"
}

// removeVolume removes the run's volume once; it returns a note when it
// cannot.
func (s *session) removeVolume(ctx context.Context) string {
	if s.volume == "" {
		return ""
	}
	name := s.volume
	s.volume = ""
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), runtime.RemoveTimeout)
	defer cancel()
	if err := runtime.RemoveVolumeSettled(ctx, s.e, name); err != nil {
		return fmt.Sprintf("removing volume %s: %v", name, err)
	}
	return ""
}
