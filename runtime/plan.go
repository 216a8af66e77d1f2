package runtime

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/runtime/cache"
)

// Planned is an image and the plan to run it with on one engine.
type Planned struct {
	Image Image
	Plan  idmap.Plan
	// Identity is what gives Plan's user a name and HOME in the container
	// (ContainerSpec.Identity).
	Identity Identity
}

// PlanFor inspects ref on e (never pulling: ErrNotFound when absent) and
// makes the idmap plan for running it as host h with override o.
//
// The plan needs the image's /etc/passwd and /etc/group. Reading them costs a
// throwaway container, so they are cached by image ID (content-addressed, so
// the cache is valid across engines) under the user's cache directory.
func PlanFor(ctx context.Context, e Engine, info Info, h idmap.Host, ref string, o idmap.Override) (Planned, error) {
	img, err := e.Image(ctx, ref)
	if err != nil {
		return Planned{}, err // the backend names the image
	}
	Trace(ctx, "inspect image")
	return PlanImage(ctx, e, info, h, img, o)
}

// PlanImage is PlanFor for an image already inspected (Image as e.Image
// returned it, Ref the reference to run): one inspect less.
func PlanImage(ctx context.Context, e Engine, info Info, h idmap.Host, img Image, o idmap.Override) (Planned, error) {
	return PlanImageIn(ctx, cache.Open(), e, info, h, img, o)
}

// PlanImageIn is PlanImage with the image's identity files and the
// container's passwd and group written under c, the resolver's cache,
// rather than the user's.
func PlanImageIn(ctx context.Context, c cache.Dir, e Engine, info Info, h idmap.Host, img Image, o idmap.Override) (Planned, error) {
	passwd, group, err := imageIdentity(ctx, e, c, img)
	if err != nil {
		return Planned{}, err
	}
	plan, err := idmap.NewPlan(h, info.Facts, idmap.Image{User: img.User, Passwd: passwd, Group: group}, o)
	if err != nil {
		return Planned{}, fmt.Errorf("planning the user mapping for %s on %s: %w", img.Ref, info.Endpoint, err)
	}
	id, err := makeIdentity(c, plan, passwd, group)
	if err != nil {
		return Planned{}, err
	}
	Trace(ctx, "plan")
	return Planned{Image: img, Plan: plan, Identity: id}, nil
}

// identityFiles is what the cache keeps of an image: its passwd and group.
type identityFiles struct {
	Passwd []byte `json:"passwd"`
	Group  []byte `json:"group"`
}

func imageIdentity(ctx context.Context, e Engine, c cache.Dir, img Image) (passwd, group []byte, err error) {
	if img.ID != "" {
		if data, ok := c.Read(cache.Images, img.ID); ok {
			var f identityFiles
			if json.Unmarshal(data, &f) == nil {
				return f.Passwd, f.Group, nil
			}
		}
	}
	// An image without one of the files names nobody there: absent from
	// the map, nil here.
	files, err := e.ReadImageFiles(ctx, img.ID, "/etc/passwd", "/etc/group")
	if err != nil {
		return nil, nil, fmt.Errorf("reading the users of image %s: %w", img.Ref, err)
	}
	passwd, group = files["/etc/passwd"], files["/etc/group"]
	if img.ID != "" {
		if data, err := json.Marshal(identityFiles{passwd, group}); err == nil {
			c.Write(cache.Images, img.ID, data)
		}
	}
	return passwd, group, nil
}
