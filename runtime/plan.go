package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hostpersist/hpr/idmap"
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
// makes the idmap plan for running it as host h with override o. Every
// command that runs a container gets its plan here.
//
// The plan needs the image's /etc/passwd and /etc/group. Reading them costs a
// throwaway container, so they are cached by image ID (content-addressed, so
// the cache is valid across engines) under the user's cache directory.
func PlanFor(ctx context.Context, e Engine, info Info, h idmap.Host, ref string, o idmap.Override) (Planned, error) {
	img, err := e.Image(ctx, ref)
	if err != nil {
		return Planned{}, fmt.Errorf("inspecting image %s: %w", ref, err)
	}
	Trace("inspect image")
	RememberImage(info.Endpoint, img)
	return PlanImage(ctx, e, info, h, img, o)
}

// PlanImage is PlanFor for an image already inspected (Image as e.Image
// returned it, Ref the reference to run): one inspect less, 4–6 ms on
// Podman.
func PlanImage(ctx context.Context, e Engine, info Info, h idmap.Host, img Image, o idmap.Override) (Planned, error) {
	ref := img.Ref
	passwd, group, err := imageIdentity(ctx, e, img)
	if err != nil {
		return Planned{}, err
	}
	plan, err := idmap.NewPlan(h, info.Facts, idmap.Image{User: img.User, Passwd: passwd, Group: group}, o)
	if err != nil {
		return Planned{}, fmt.Errorf("planning the user mapping for %s on %s: %w", ref, info.Endpoint, err)
	}
	id, err := makeIdentity(plan, passwd, group)
	if err != nil {
		return Planned{}, err
	}
	Trace("plan")
	return Planned{Image: img, Plan: plan, Identity: id}, nil
}

type identityCache struct {
	Passwd []byte `json:"passwd"`
	Group  []byte `json:"group"`
}

// CacheDir is hpr's cache directory ($XDG_CACHE_HOME/hpr or ~/.cache/hpr).
func CacheDir() (string, error) {
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "hpr"), nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("finding a cache directory (set XDG_CACHE_HOME): %w", err)
	}
	return filepath.Join(d, "hpr"), nil
}

func imageIdentity(ctx context.Context, e Engine, img Image) (passwd, group []byte, err error) {
	dir, derr := CacheDir()
	var file string
	if derr == nil && img.ID != "" {
		file = filepath.Join(dir, "images", strings.ReplaceAll(img.ID, ":", "-")+".json")
		if data, err := os.ReadFile(file); err == nil {
			var c identityCache
			if json.Unmarshal(data, &c) == nil {
				return c.Passwd, c.Group, nil
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
	if file != "" {
		if data, err := json.Marshal(identityCache{passwd, group}); err == nil {
			WriteCache(file, data)
		}
	}
	return passwd, group, nil
}
