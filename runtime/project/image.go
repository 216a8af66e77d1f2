package project

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
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
	"github.com/hostpersist/hpr/runtime/dockerfile"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// BuildPolicy says when EnsureImage may build.
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
func (p *Project) BuildArgs(h idmap.Host, e idmap.Engine) (map[string]string, error) {
	plan, err := idmap.NewPlan(h, e, idmap.Image{}, p.Run.User)
	if err != nil {
		return nil, err
	}
	args := map[string]string{}
	for k, v := range p.Image.Args {
		args[k] = v
	}
	if _, ok := args["UID"]; !ok {
		args["UID"] = strconv.Itoa(plan.BuildUID)
	}
	if _, ok := args["GID"]; !ok {
		args["GID"] = strconv.Itoa(plan.BuildGID)
	}
	return args, nil
}

// EnsureImage returns the image to run: [image] ref as is, or the tag of the
// image built from the project's build inputs, building it first when the
// policy allows and no image for these inputs exists. The tag is
// "hpr-<name>:<12 hex digits of the inputs' hash>", so unchanged inputs mean
// no build and no context upload. Build output goes to out.
//
// The result's Ref is what to run. Where EnsureImage inspected the image (a
// build found by its tag) the result is the engine's whole answer (ID set),
// which runtime.PlanImage takes instead of inspecting it again; otherwise
// only Ref is set.
//
// The hash covers the base images' IDs, which only the engine knows. So that
// an unchanged build costs one round trip, not two, the tag the same local
// inputs had last time (remembered under hpr's cache directory) is inspected
// while the base images are: when the bases are unchanged too, that answer
// is the one needed (on Podman each inspect is 4–7 ms).
func (p *Project) EnsureImage(ctx context.Context, e runtime.Engine, facts idmap.Engine, h idmap.Host, policy BuildPolicy, out io.Writer) (runtime.Image, error) {
	if !p.Image.Building() {
		return runtime.Image{Ref: p.Image.Ref}, nil
	}
	args, err := p.BuildArgs(h, facts)
	if err != nil {
		return runtime.Image{}, err
	}
	in, err := p.localInputs(args)
	if err != nil {
		return runtime.Image{}, err
	}
	type lookup struct {
		img runtime.Image
		err error
	}
	var guessed chan lookup
	guess := ""
	if policy != BuildAlways {
		guess = p.lastTag(in.hash)
	}
	if guess != "" {
		guessed = make(chan lookup, 1)
		go func() {
			img, err := e.Image(ctx, guess)
			guessed <- lookup{img, err}
		}()
	}
	key, err := in.key(ctx, e, p.Image.Dockerfile)
	if err != nil {
		return runtime.Image{}, err
	}
	tag := "hpr-" + p.Name + ":" + key[:12]
	if policy != BuildAlways {
		var img runtime.Image
		if guess == tag {
			g := <-guessed
			img, err = g.img, g.err
		} else {
			img, err = e.Image(ctx, tag)
		}
		switch {
		case err == nil:
			img.Ref = tag
			if guess != tag {
				p.rememberTag(in.hash, tag)
			}
			return img, nil
		case !errors.Is(err, runtime.ErrNotFound):
			return runtime.Image{}, fmt.Errorf("inspecting image %s: %w", tag, err)
		case policy == BuildNever:
			return runtime.Image{}, fmt.Errorf("%w: %s (the build inputs changed or it was never built): run `hpr build`", ErrNotBuilt, tag)
		}
	}
	err = e.Build(ctx, runtime.BuildOptions{
		ContextDir: p.Image.BuildContext,
		Dockerfile: p.Image.DockerfileInContext(),
		Tag:        tag,
		Args:       args,
		Labels: map[string]string{
			runtime.LabelProject: p.RealRoot,
			"io.hpr.inputs":      key,
		},
		Output: out,
	})
	if err != nil {
		return runtime.Image{}, fmt.Errorf("building %s: %w", tag, err)
	}
	p.rememberTag(in.hash, tag)
	return runtime.Image{Ref: tag}, nil
}

// buildInputs are a build's inputs on this machine: hash covers the
// Dockerfile, .dockerignore, the build args and the context files COPY and
// ADD use — only those, so the cost does not grow with the project unless
// the Dockerfile copies all of it; bases are the FROM images, whose IDs the
// key adds.
type buildInputs struct {
	hash  string
	bases []string
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

func (p *Project) localInputs(args map[string]string) (buildInputs, error) {
	df, err := os.ReadFile(p.Image.Dockerfile)
	if err != nil {
		return buildInputs{}, fmt.Errorf("reading the Dockerfile: %w", err)
	}
	h := sha256.New()
	field := func(name, value string) { fmt.Fprintf(h, "%s %d\n%s\n", name, len(value), value) }
	field("dockerfile-path", p.Image.DockerfileInContext())
	field("dockerfile", string(df))

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
	return buildInputs{hash: hex.EncodeToString(h.Sum(nil)), bases: bases}, nil
}

// lastTag is the tag recorded for these local inputs of the project, or "".
func (p *Project) lastTag(inputs string) string {
	data, err := os.ReadFile(p.tagMemo())
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		if in, tag, ok := strings.Cut(line, " "); ok && in == inputs {
			return tag
		}
	}
	return ""
}

// rememberTag records tag for the local inputs, keeping the last few
// (engines and modes differ in build args, hence in inputs). Best effort:
// the memo only saves a round trip.
func (p *Project) rememberTag(inputs, tag string) {
	path := p.tagMemo()
	if path == "" {
		return
	}
	lines := []string{inputs + " " + tag}
	if data, err := os.ReadFile(path); err == nil {
		for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			if in, _, ok := strings.Cut(l, " "); ok && in != inputs && len(lines) < tagMemoSize {
				lines = append(lines, l)
			}
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tags-*")
	if err != nil {
		return
	}
	_, werr := tmp.WriteString(strings.Join(lines, "\n") + "\n")
	if cerr := tmp.Close(); werr != nil || cerr != nil || os.Rename(tmp.Name(), path) != nil {
		os.Remove(tmp.Name())
	}
}

// tagMemoSize is how many input sets a project's memo keeps.
const tagMemoSize = 8

// tagMemo is the file that remembers the project's recent build tags.
func (p *Project) tagMemo() string {
	dir, err := runtime.CacheDir()
	if err != nil {
		return ""
	}
	sum := sha256.Sum256([]byte(p.RealRoot))
	return filepath.Join(dir, "builds", hex.EncodeToString(sum[:8]))
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
