package project

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/runtime"
	"github.com/hostpersist/hpr/runtime/cache"
	"github.com/hostpersist/hpr/runtime/dockerfile"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// BuildPolicy says when Resolver.Image may build.
type BuildPolicy int

// Build policies.
const (
	// BuildIfChanged builds when no image exists for the current build
	// inputs (hpr run's default).
	BuildIfChanged BuildPolicy = iota
	// BuildAlways builds even when the inputs are unchanged (--build).
	BuildAlways
	// BuildNever fails when the image for the current inputs is missing
	// (--no-build).
	BuildNever
)

// ErrNotBuilt is returned under BuildNever when the image is missing.
var ErrNotBuilt = errors.New("image not built")

// BuildArgs returns the build args for an image built for engine facts e:
// hpr.toml's args, plus UID and GID set to the container-side ids that land
// on the host as h (idmap's BuildUID/BuildGID) unless hpr.toml sets them.
// A compose file's ${UID} and ${GID} in an arg are those ids too.
func (p *Project) BuildArgs(h idmap.Host, e idmap.Engine) (map[string]string, error) {
	plan, err := idmap.NewPlan(h, e, idmap.Image{}, p.Run.User)
	if err != nil {
		return nil, err
	}
	args := map[string]string{}
	for k, v := range p.Image.Args {
		args[k] = ExpandIDs(v, plan.BuildUID, plan.BuildGID)
	}
	if _, ok := args["UID"]; !ok {
		args["UID"] = strconv.Itoa(plan.BuildUID)
	}
	if _, ok := args["GID"]; !ok {
		args["GID"] = strconv.Itoa(plan.BuildGID)
	}
	return args, nil
}

// Image returns the image to run: [image] ref as is, or the tag of the
// image built from the project's build inputs, building it first when the
// policy allows and no image for these inputs exists. The tag is
// "hpr-<name>:<12 hex digits of the inputs' hash>", so unchanged inputs mean
// no build and no context upload. Build output goes to r.BuildOutput.
//
// The result's Ref is what to run. Where Image knows the image (a build
// found by its tag or the build memo) the result is the engine's whole
// answer (ID set), which runtime.PlanImage takes instead of inspecting it
// again; otherwise only Ref is set.
//
// The hash covers the base images' IDs, which only the engine knows, so an
// unchanged build costs at least one inspect per FROM image. It costs no
// more: the image built for the same inputs last time is remembered in the
// build memo with its ID and config (an image's ID is the hash of its
// config, so the config cannot go stale), and while the bases are
// inspected hpr only asks whether that image ID still exists (ImageExists,
// cheaper than an inspect on Podman).
func (r *Resolver) Image(ctx context.Context, p *Project, policy BuildPolicy) (runtime.Image, error) {
	if !p.Image.Building() {
		return runtime.Image{Ref: p.Image.Ref}, nil
	}
	in, err := r.inputs(p)
	if err != nil {
		return runtime.Image{}, err
	}
	memo := r.builds(p)
	var last builtImage
	if policy != BuildAlways {
		last = memo.last(in.hash)
	}
	key, found, err := in.keyAndLookup(ctx, r.Engine, p.Image.Dockerfile, last.Image.ID)
	if err != nil {
		return runtime.Image{}, err
	}
	tag := "hpr-" + p.Name + ":" + key[:12]
	if policy != BuildAlways {
		if last.Key == key && found {
			return last.Image, nil
		}
		img, err := r.Engine.Image(ctx, tag)
		switch {
		case err == nil:
			img.Ref = tag
			memo.remember(builtImage{Inputs: in.hash, Key: key, Image: img})
			return img, nil
		case !errors.Is(err, runtime.ErrNotFound):
			return runtime.Image{}, err // the backend names the image
		case policy == BuildNever:
			return runtime.Image{}, fmt.Errorf("%w: %s (the build inputs changed or it was never built): run `hpr build`", ErrNotBuilt, tag)
		}
	}
	return r.build(ctx, p, in, key, tag, memo)
}

// build builds the project's image as tag and remembers it.
func (r *Resolver) build(ctx context.Context, p *Project, in buildInputs, key, tag string, memo buildMemo) (runtime.Image, error) {
	out := r.BuildOutput
	if out == nil {
		out = io.Discard
	}
	ended := r.noteBuild()
	err := r.Engine.Build(ctx, runtime.BuildOptions{
		ContextDir: p.Image.BuildContext,
		Dockerfile: p.Image.DockerfileInContext(),
		Tag:        tag,
		Args:       in.args,
		Target:     p.Image.Target,
		Labels: map[string]string{
			runtime.LabelProject: p.RealRoot,
			"io.hpr.inputs":      key,
		},
		Output: out,
	})
	ended(err)
	if err != nil {
		if errors.Is(err, runtime.ErrUnreachable) {
			r.removeLeftoversOnceBack(ctx)
		}
		return runtime.Image{}, fmt.Errorf("building %s: %w", tag, err)
	}
	img, err := r.Engine.Image(ctx, tag)
	if err != nil {
		return runtime.Image{}, fmt.Errorf("inspecting the image just built, %s: %w", tag, err)
	}
	img.Ref = tag
	memo.remember(builtImage{Inputs: in.hash, Key: key, Image: img})
	return img, nil
}

// rememberedBuild is the image built last time on this engine for the
// project's current local build inputs (the build memo), with the check
// that it is still the one to run: the base images still have the IDs it
// was built from and the image still exists. It costs no engine call;
// check makes the calls Image would, and fails with an error wrapping
// runtime.ErrStale when the image is not the one to run (then Image
// decides, building if it must). ok is false without a record.
func (r *Resolver) rememberedBuild(p *Project) (img runtime.Image, check func(context.Context) error, ok bool) {
	in, err := r.inputs(p)
	if err != nil {
		return runtime.Image{}, nil, false
	}
	last := r.builds(p).last(in.hash)
	if last.Image.ID == "" {
		return runtime.Image{}, nil, false
	}
	check = func(ctx context.Context) error {
		key, found, err := in.keyAndLookup(ctx, r.Engine, p.Image.Dockerfile, last.Image.ID)
		switch {
		case !found:
			return fmt.Errorf("%w: image %s was removed", runtime.ErrStale, last.Image.Ref)
		case err != nil:
			return fmt.Errorf("%w: %w", runtime.ErrStale, err)
		case key != last.Key:
			return fmt.Errorf("%w: a base image of %s changed", runtime.ErrStale, last.Image.Ref)
		}
		return nil
	}
	return last.Image, check, true
}

// inputs are the project's local build inputs for this engine (the build
// args depend on its mode).
func (r *Resolver) inputs(p *Project) (buildInputs, error) {
	args, err := p.BuildArgs(r.Host, r.Info.Facts)
	if err != nil {
		return buildInputs{}, err
	}
	return p.localInputs(args)
}

// buildInputs are a build's inputs on this machine: hash covers the
// Dockerfile, .dockerignore, the build args and the context files COPY and
// ADD use — only those, so the cost does not grow with the project unless
// the Dockerfile copies all of it; bases are the FROM images, whose IDs the
// key adds.
type buildInputs struct {
	hash  string
	bases []string
	args  map[string]string
}

// key is the hash of everything a build reads: the local inputs and the
// IDs of the base images (which also checks that they exist: hpr never
// pulls).
func (in buildInputs) key(ctx context.Context, e runtime.Engine, dockerfile string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "inputs %s\n", in.hash)
	for _, b := range in.bases {
		img, err := e.Image(ctx, b)
		if errors.Is(err, runtime.ErrNotFound) {
			return "", fmt.Errorf("base image %s of %s is not on this engine: import or build it first (hpr never pulls): %w", b, dockerfile, runtime.ErrNotFound)
		}
		if err != nil {
			return "", fmt.Errorf("inspecting base image %s: %w", b, err)
		}
		fmt.Fprintf(h, "base %d\n%s@%s\n", len(b)+1+len(img.ID), b, img.ID)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// keyAndLookup is key while asking, at the same time, whether the image
// with ID id (when not empty) still exists: the time of one round trip for
// both. An error of the lookup counts as not found.
func (in buildInputs) keyAndLookup(ctx context.Context, e runtime.Engine, dockerfile, id string) (key string, found bool, err error) {
	lookup := make(chan bool, 1)
	if id == "" {
		lookup <- false
	} else {
		go func() {
			ok, err := e.ImageExists(ctx, id)
			lookup <- ok && err == nil
		}()
	}
	key, err = in.key(ctx, e, dockerfile)
	return key, <-lookup, err
}

func (p *Project) localInputs(args map[string]string) (buildInputs, error) {
	df, err := os.ReadFile(p.Image.Dockerfile)
	if err != nil {
		return buildInputs{}, fmt.Errorf("reading the Dockerfile: %w", err)
	}
	h := sha256.New()
	field := func(name, value string) { fmt.Fprintf(h, "%s %d\n%s\n", name, len(value), value) }
	field("dockerfile-path", p.Image.DockerfileInContext())
	field("dockerfile", string(df))
	if p.Image.Target != "" {
		field("target", p.Image.Target)
	}

	ctxDir := p.Image.BuildContext
	ignore, err := os.ReadFile(filepath.Join(ctxDir, ".dockerignore"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return buildInputs{}, fmt.Errorf("reading .dockerignore: %w", err)
	}
	field("dockerignore", string(ignore))
	patterns, err := ignorefile.ReadAll(strings.NewReader(string(ignore)))
	if err != nil {
		return buildInputs{}, fmt.Errorf("%s: %w", filepath.Join(ctxDir, ".dockerignore"), err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return buildInputs{}, fmt.Errorf("%s: %w", filepath.Join(ctxDir, ".dockerignore"), err)
	}

	keys := make([]string, 0, len(args))
	for k := range args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		field("arg", k+"="+args[k])
	}

	bases, err := dockerfile.BaseImages(df, args)
	if err != nil {
		return buildInputs{}, fmt.Errorf("%s: %w", p.Image.Dockerfile, err)
	}
	srcs, err := dockerfile.Sources(df, args)
	if err != nil {
		return buildInputs{}, fmt.Errorf("%s: %w", p.Image.Dockerfile, err)
	}
	for _, src := range srcs {
		if err := hashSource(h, ctxDir, src, pm); err != nil {
			return buildInputs{}, err
		}
	}
	return buildInputs{hash: hex.EncodeToString(h.Sum(nil)), bases: bases, args: args}, nil
}

// builtImage is what the build memo keeps of one build: the local inputs'
// hash, the whole key (inputs and base image IDs) and the image the engine
// answered for the tag (Ref, ID, config).
type builtImage struct {
	Inputs string        `json:"inputs"`
	Key    string        `json:"key"`
	Image  runtime.Image `json:"image"`
}

// buildMemo is one project's record of its recent builds on one engine,
// in hpr's cache (kind cache.Builds, keyed by the project and the engine).
type buildMemo struct {
	c   cache.Dir
	key string
	rec buildRecord
}

// buildRecord is the file: the project's root and engine, so that hpr gc
// can drop records of projects that are gone, and the builds, newest first.
type buildRecord struct {
	Project string       `json:"project"`
	Engine  string       `json:"engine"`
	Builds  []builtImage `json:"builds"`
}

// memoSize is how many input sets a project's memo keeps per engine.
const memoSize = 16

// builds reads the project's build memo for this engine. A record it
// cannot read (an older hpr's format) reads as empty.
func (r *Resolver) builds(p *Project) buildMemo {
	key := p.RealRoot + "\x00" + r.Info.Endpoint
	if p.Service != "" {
		key += "\x00" + p.Service // a compose project's services build their own images
	}
	m := buildMemo{c: r.Cache, key: cache.Key(key)}
	if data, ok := m.c.Read(cache.Builds, m.key); ok {
		_ = json.Unmarshal(data, &m.rec)
	}
	m.rec.Project, m.rec.Engine = p.RealRoot, r.Info.Endpoint
	return m
}

// last is the record for these local inputs, or a zero one.
func (m buildMemo) last(inputs string) builtImage {
	for _, b := range m.rec.Builds {
		if b.Inputs == inputs {
			return b
		}
	}
	return builtImage{}
}

// remember records b first, keeping the last memoSize input sets. Best
// effort: the memo only saves round trips.
func (m buildMemo) remember(b builtImage) {
	builds := []builtImage{b}
	for _, old := range m.rec.Builds {
		if len(builds) < memoSize && old.Inputs != b.Inputs {
			builds = append(builds, old)
		}
	}
	m.rec.Builds = builds
	if data, err := json.Marshal(m.rec); err == nil {
		m.c.Write(cache.Builds, m.key, data)
	}
}

// PruneBuildMemos removes the build memos of projects whose directory no
// longer exists, and of an older hpr's format, from cache c. It returns how
// many it removed.
func PruneBuildMemos(c cache.Dir) int {
	n := 0
	for _, key := range c.Keys(cache.Builds) {
		var rec buildRecord
		data, _ := c.Read(cache.Builds, key)
		if json.Unmarshal(data, &rec) == nil && rec.Project != "" {
			if _, err := os.Stat(rec.Project); !errors.Is(err, fs.ErrNotExist) {
				continue
			}
		}
		c.Remove(cache.Builds, key)
		n++
	}
	return n
}

// hashSource hashes the context files a COPY/ADD source names (a path or a
// glob), skipping what .dockerignore excludes.
func hashSource(h io.Writer, ctxDir, src string, pm *patternmatcher.PatternMatcher) error {
	clean := filepath.Clean("/" + src)[1:] // inside the context, as the builder sees it
	matches, err := filepath.Glob(filepath.Join(ctxDir, clean))
	if err != nil {
		return fmt.Errorf("COPY/ADD source %q: %w", src, err)
	}
	sort.Strings(matches)
	fmt.Fprintf(h, "source %q %d\n", src, len(matches))
	for _, m := range matches {
		err := filepath.WalkDir(m, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(ctxDir, path)
			if err != nil {
				return err
			}
			if rel != "." {
				if skip, _ := pm.MatchesOrParentMatches(filepath.ToSlash(rel)); skip {
					if d.IsDir() && !pm.Exclusions() {
						return filepath.SkipDir
					}
					return nil
				}
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "%s %o\n", filepath.ToSlash(rel), info.Mode())
			switch {
			case info.Mode().IsRegular():
				f, err := os.Open(path)
				if err != nil {
					return err
				}
				defer f.Close()
				_, err = io.Copy(h, f)
				return err
			case info.Mode()&fs.ModeSymlink != 0:
				t, err := os.Readlink(path)
				fmt.Fprintf(h, "-> %s\n", t)
				return err
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("hashing build input %s: %w", m, err)
		}
	}
	return nil
}
