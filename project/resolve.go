package project

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"maps"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/runtime"
	"github.com/hostpersist/hpr/runtime/cache"
)

// Resolver answers, for one engine, what a project runs: the image (built,
// found by its tag, or remembered), the user mapping plan and identity, the
// volumes, and the complete container spec. Every command that starts a
// project's container — run, conformance, doctor --fix — gets its spec
// here, so that what conformance checks is what hpr run creates.
type Resolver struct {
	Engine runtime.Engine
	// Info is what Engine said about itself.
	Info runtime.Info
	// Host is the user the files must land as.
	Host idmap.Host
	// Cache keeps the build and name memos; the zero Dir keeps nothing.
	Cache cache.Dir
	// Version is hpr's, for the io.hpr.version label.
	Version string
	// BuildOutput receives build progress; nil discards it.
	BuildOutput io.Writer
	// Remote is the engine's host when it is another machine, and
	// RemoteRoot the project's directory there, the project mount's
	// source; both are set by OnHost. Nil for a local engine.
	Remote     EngineHost
	RemoteRoot string
}

// Memo says how Resolve may use what hpr remembers of a project's image.
type Memo int

// Uses of the memo.
const (
	// MemoOff neither reads nor records the name memo: for hpr's own
	// images (the conformance probe, the doctor's fixer).
	MemoOff Memo = iota
	// MemoRecord inspects the image and remembers what its name named.
	MemoRecord
	// MemoPlan plans from the remembered image when there is one, and
	// returns the check that it is still the one to run in
	// Resolved.Verify (runtime.RunOptions.Verify).
	MemoPlan
)

// Request is what a command adds to the project's own settings.
type Request struct {
	Policy BuildPolicy
	Memo   Memo
	// Cwd is the host working directory: the container's is the mount
	// point plus Cwd's path below the project root. Empty means the root.
	Cwd string
	// Cmd replaces the project's command when not nil.
	Cmd []string
	// Env (KEY=VALUE) comes after the project's environment.
	Env []string
	// Ports are published besides the project's.
	Ports []runtime.Port
	// Mounts are bind mounts besides the project's: hpr's own files (the
	// probe binary, the fixer's list), read-only.
	Mounts []runtime.Mount
	// Labels are added to the container's (those naming this hpr process).
	Labels map[string]string
	// Companions asks for the project's companions too (Resolved.Companions).
	Companions bool
}

// Resolved is what Resolve answers.
type Resolved struct {
	Spec runtime.ContainerSpec
	// Verify checks what Spec assumed when it was planned from the memo
	// (MemoPlan); nil when Spec was planned from the engine's answers.
	Verify func(context.Context) error
	// Warnings are for the user before anything runs: the project's own
	// and the plan's.
	Warnings []string
	// Companions are the specs of the project's companions, in the order
	// to start them, when the request asked for them.
	Companions []runtime.Companion
	// Gate checks the spec's bind sources again right before the create
	// (runtime.RunOptions.Gate); nil when there is nothing to check.
	Gate runtime.Gate
}

// Resolve returns the container spec of project p on the resolver's
// engine, building the image first when the request's policy says so and
// making sure the project's volumes exist.
func (r *Resolver) Resolve(ctx context.Context, p *Project, req Request) (Resolved, error) {
	if p.Run.Mount == "" {
		return r.resolveUnmapped(ctx, p, req)
	}
	planned, verify, err := r.plan(ctx, p, req.Policy, req.Memo)
	if err == nil {
		planned, err = r.place(ctx, planned)
	}
	if err != nil {
		return Resolved{}, err
	}
	spec, err := r.spec(ctx, p, req, planned)
	if err != nil {
		return Resolved{}, err
	}
	warnings := append(append([]string(nil), p.Warnings...), planned.Plan.Warnings...)
	warnings = append(warnings, idWarnings(p, planned.Plan.BuildUID, planned.Plan.BuildGID)...)
	res := Resolved{Spec: spec, Verify: verify, Warnings: warnings, Gate: r.gate(p)}
	if req.Companions {
		if res.Companions, err = r.companions(ctx, p, req); err != nil {
			return Resolved{}, err
		}
	}
	return res, nil
}

// Plan is the plan for running image ref with the user override o on the
// resolver's engine. It remembers nothing: for images other than the
// project's (conformance's probes).
func (r *Resolver) Plan(ctx context.Context, ref string, o idmap.Override) (runtime.Planned, error) {
	img, err := r.Engine.Image(ctx, ref)
	if err != nil {
		return runtime.Planned{}, err
	}
	runtime.Trace(ctx, "inspect image")
	p, err := runtime.PlanImageIn(ctx, r.Cache, r.Engine, r.Info, r.Host, img, o)
	if err != nil {
		return p, err
	}
	return r.place(ctx, p)
}

// plan returns the project's image, planned; with MemoPlan and an image
// hpr remembers, planned from that, with the check for Resolved.Verify.
func (r *Resolver) plan(ctx context.Context, p *Project, policy BuildPolicy, memo Memo) (runtime.Planned, func(context.Context) error, error) {
	if memo == MemoPlan {
		if img, check, ok := r.remembered(p, policy); ok {
			runtime.Trace(ctx, "image")
			// A plan that fails for the remembered image is made again
			// below from the engine's answer.
			if planned, err := r.planImage(ctx, p, img); err == nil {
				return planned, check, nil
			}
		}
	}
	img, err := r.Image(ctx, p, policy)
	if err != nil {
		return runtime.Planned{}, nil, err
	}
	runtime.Trace(ctx, "image")
	if img.ID != "" { // known already: a build found by its tag or memo
		planned, err := r.planImage(ctx, p, img)
		return planned, nil, err
	}
	inspected, err := r.Engine.Image(ctx, img.Ref)
	if err != nil {
		return runtime.Planned{}, nil, err // the backend names the image
	}
	runtime.Trace(ctx, "inspect image")
	inspected.Ref = img.Ref
	planned, err := r.planImage(ctx, p, inspected)
	if err == nil && memo != MemoOff {
		r.names().remember(planned.Image)
	}
	return planned, nil, err
}

// remembered is the image hpr remembers for the project on this engine,
// with the engine calls that check it is still the one to run: for a
// build, the image built last time for the current local inputs; for a
// name, the image it named at the last inspect. No engine call is made
// here.
func (r *Resolver) remembered(p *Project, policy BuildPolicy) (runtime.Image, func(context.Context) error, bool) {
	if p.Image.Building() {
		if policy == BuildAlways {
			return runtime.Image{}, nil, false
		}
		return r.rememberedBuild(p)
	}
	n := r.names()
	last, ok := n.last(p.Image.Ref)
	if !ok {
		return runtime.Image{}, nil, false
	}
	return last, func(ctx context.Context) error { return n.check(ctx, r.Engine, last) }, true
}

func (r *Resolver) names() names { return names{c: r.Cache, endpoint: r.Info.Endpoint} }

// spec assembles the container spec of a planned image.
func (r *Resolver) spec(ctx context.Context, p *Project, req Request, planned runtime.Planned) (runtime.ContainerSpec, error) {
	workdir, err := p.WorkDir(cmp.Or(req.Cwd, p.Root))
	if err != nil {
		return runtime.ContainerSpec{}, err
	}
	volumes, err := r.volumes(ctx, p)
	if err != nil {
		return runtime.ContainerSpec{}, err
	}
	mounts := append([]runtime.Mount{{Source: cmp.Or(r.RemoteRoot, p.Root), Target: p.Run.Mount, Project: true}}, r.onEngineHost(p, p.Run.Mounts)...)
	spec := r.base(p, req, planned)
	spec.WorkingDir = workdir
	spec.Mounts = append(mounts, req.Mounts...)
	spec.Volumes = volumes
	spec.Labels[runtime.LabelUser] = planned.Plan.User
	spec.Identity = planned.Identity
	return spec, nil
}

// volumes makes sure the project's named volumes exist. Their roots are
// handed to the plan's user by the engine backend when the container is
// created, whoever created them.
func (r *Resolver) volumes(ctx context.Context, p *Project) ([]runtime.VolumeMount, error) {
	out := append([]runtime.VolumeMount(nil), p.Run.Volumes...)
	for _, v := range out {
		if v.Name == "" {
			continue // anonymous: the engine makes it, and removes it with the container
		}
		if _, err := r.Engine.EnsureVolume(ctx, runtime.VolumeSpec{Name: v.Name, Labels: r.Labels(p)}); err != nil {
			return nil, fmt.Errorf("creating volume %s: %w", v.Name, err)
		}
	}
	return out, nil
}

// Labels are the labels of what hpr makes for project p (its containers,
// volumes and networks): extra's, in order, then the project's root and
// hpr's version, which gc and the next run select by and no extra may
// replace.
func (r *Resolver) Labels(p *Project, extra ...map[string]string) map[string]string {
	labels := map[string]string{}
	for _, m := range extra {
		maps.Copy(labels, m)
	}
	labels[runtime.LabelProject] = p.RealRoot
	labels[runtime.LabelVersion] = cmp.Or(r.Version, "dev")
	return labels
}

func randomSuffix() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
