package project

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/runtime"
)

// base is what a spec holds whether or not the project is mounted: the
// image, the command and environment (with ${UID}/${GID} expanded), ports,
// labels, tmpfs, capabilities and the host access the user allowed.
func (r *Resolver) base(p *Project, req Request, planned runtime.Planned) runtime.ContainerSpec {
	uid, gid := planned.Plan.BuildUID, planned.Plan.BuildGID
	expand := func(in []string) []string {
		if in == nil {
			return nil
		}
		out := make([]string, len(in))
		for i, s := range in {
			out[i] = ExpandIDs(s, uid, gid)
		}
		return out
	}
	cmd := p.Run.Command
	if req.Cmd != nil {
		cmd = req.Cmd
	}
	var tmpfs []runtime.Tmpfs
	for _, t := range p.Run.Tmpfs {
		tmpfs = append(tmpfs, runtime.Tmpfs{Target: t, UID: planned.Plan.UID, GID: planned.Plan.GID, Mode: 0o1777})
	}
	return runtime.ContainerSpec{
		Name:       "hpr-" + p.Name + "-" + randomSuffix(),
		Image:      planned.Image.Ref,
		ImageID:    planned.Image.ID,
		Entrypoint: expand(p.Run.Entrypoint),
		Cmd:        expand(cmd),
		Env:        append(expand(p.Run.Env), req.Env...),
		Ports:      append(append([]runtime.Port(nil), p.Run.Ports...), req.Ports...),
		Labels:     r.Labels(p, p.Run.Labels, req.Labels),
		Plan:       planned.Plan,
		Tmpfs:      tmpfs,
		CapDrop:    p.Run.CapDrop,
		CapAdd:     p.Run.CapAdd,
		SELinux:    runtime.SELinuxFor(p.Run.SELinux, r.Info),
		Network:    p.Run.Network,
		Privileged: p.Run.Privileged,
		PIDHost:    p.Run.PIDHost,
		IPCHost:    p.Run.IPCHost,
		Devices:    p.Run.Devices,
	}
}

// planImage plans img for p. A user to run as (Run.UserSpec, with
// OverrideImage) is planned as if it were the image's USER, and run as the
// ids it resolves to.
func (r *Resolver) planImage(ctx context.Context, p *Project, img runtime.Image) (runtime.Planned, error) {
	if p.Run.User != idmap.OverrideImage || p.Run.UserSpec == "" {
		return runtime.PlanImageIn(ctx, r.Cache, r.Engine, r.Info, r.Host, img, p.Run.User)
	}
	as := img
	as.User = p.Run.UserSpec
	planned, err := runtime.PlanImageIn(ctx, r.Cache, r.Engine, r.Info, r.Host, as, idmap.OverrideImage)
	if err != nil {
		return runtime.Planned{}, err
	}
	plan := &planned.Plan
	planned.Image.User = img.User
	plan.User = strconv.Itoa(plan.UID) + ":" + strconv.Itoa(plan.GID)
	// idmap's warning speaks of [run] user; this user was written as user:.
	prefix := fmt.Sprintf("user override %q", idmap.OverrideImage)
	warnings := plan.Warnings[:0]
	for _, w := range plan.Warnings {
		if !strings.HasPrefix(w, prefix) {
			warnings = append(warnings, w)
		}
	}
	plan.Warnings = warnings
	if plan.HostUID != plan.HostUserUID || plan.HostGID != plan.HostUserGID {
		plan.Warnings = append(plan.Warnings, fmt.Sprintf("%s: user %q: files written in the project land on the host as %d:%d, not as you (%d:%d); write user: \"${UID}:${GID}\", or remove user:, to have them owned by you", p.Path, p.Run.UserSpec, plan.HostUID, plan.HostGID, plan.HostUserUID, plan.HostUserGID))
	}
	return planned, nil
}

// ids are the container-side ids that land on the host as the user: what
// a compose file's ${UID} and ${GID} become on this engine.
func (r *Resolver) ids() (int, int, error) {
	plan, err := idmap.NewPlan(r.Host, r.Info.Facts, idmap.Image{}, idmap.OverrideAuto)
	if err != nil {
		return 0, 0, err
	}
	return plan.BuildUID, plan.BuildGID, nil
}

// resolveUnmapped resolves a project that does not mount the project
// directory (a compose companion): no user mapping, the image's user (or
// the one written) and the engine's user namespace, as docker compose
// would run it.
func (r *Resolver) resolveUnmapped(ctx context.Context, p *Project, req Request) (Resolved, error) {
	img, err := r.Image(ctx, p, req.Policy)
	if err != nil {
		return Resolved{}, err
	}
	if img.ID == "" {
		ref := img.Ref
		if img, err = r.Engine.Image(ctx, ref); err != nil {
			if errors.Is(err, runtime.ErrNotFound) {
				return Resolved{}, fmt.Errorf("%s: service %s: image %s is not on this engine, and hpr never pulls (pull or build it first): %w", p.Path, p.Service, ref, err)
			}
			return Resolved{}, err // the backend names the image
		}
		img.Ref = ref
	}
	uid, gid, err := r.ids()
	if err != nil {
		return Resolved{}, err
	}
	planned := runtime.Planned{Image: img, Plan: idmap.Plan{Mode: r.Info.Mode, User: ExpandIDs(p.Run.UserSpec, uid, gid), BuildUID: uid, BuildGID: gid}}
	volumes, err := r.volumes(ctx, p)
	if err != nil {
		return Resolved{}, err
	}
	spec := r.base(p, req, planned)
	spec.WorkingDir = p.Run.WorkDir
	spec.Mounts = append(r.onEngineHost(p, p.Run.Mounts), req.Mounts...)
	spec.Volumes = volumes
	spec.KeepVolumeOwners = true
	return Resolved{Spec: spec, Warnings: idWarnings(p, uid, gid), Gate: r.gate(p)}, nil
}

// companions resolves the project's companions for a run of it.
func (r *Resolver) companions(ctx context.Context, p *Project, req Request) ([]runtime.Companion, error) {
	var out []runtime.Companion
	for _, c := range p.Companions {
		labels := maps.Clone(req.Labels)
		if labels == nil {
			labels = map[string]string{}
		}
		labels[runtime.LabelCompanion] = c.Name
		res, err := r.Resolve(ctx, c.Project, Request{Policy: req.Policy, Memo: MemoRecord, Labels: labels})
		if err != nil {
			return nil, err
		}
		out = append(out, runtime.Companion{Name: c.Name, Spec: res.Spec, Wait: c.Wait, Health: c.Health, Gate: res.Gate})
	}
	return out, nil
}

// idWarnings says, once, that the UID and GID the user's environment or
// .env gave are not what a compose file's ${UID}/${GID} became.
func idWarnings(p *Project, uid, gid int) []string {
	var given []string
	for _, o := range p.IDOverrides {
		want := uid
		if o.Name == "GID" {
			want = gid
		}
		if o.Value != strconv.Itoa(want) {
			given = append(given, fmt.Sprintf("%s=%s from %s", o.Name, o.Value, o.Source))
		}
	}
	if len(given) == 0 {
		return nil
	}
	return []string{fmt.Sprintf("%s: ${UID} and ${GID} are %d and %d here, the ids that land files as you on this engine, not %s", p.Path, uid, gid, strings.Join(given, ", "))}
}
