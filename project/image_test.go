package project

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/runtime"
	"github.com/hostpersist/hpr/runtime/cache"
)

// fakeImages is an engine that knows images by reference and builds by
// recording the tag. Only Resolver.Image's decisions are tested here; real
// builds are tested against the engines.
type fakeImages struct {
	runtime.Engine // not called: a call panics

	mu     sync.Mutex
	ids    map[string]string // ref → image ID
	builds []string
	// inspects and lookups count Image and ImageExists calls by argument.
	inspects, lookups map[string]int
	// With pairUp, an inspect waits (up to a second) for a second one to be
	// under way at the same time; maxInFlight is the most seen at once.
	pairUp      bool
	inFlight    int
	maxInFlight int
	paired      chan struct{}
}

func (f *fakeImages) Image(ctx context.Context, ref string) (runtime.Image, error) {
	f.enter()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inFlight--
	f.count(&f.inspects, ref)
	id, ok := f.ids[ref]
	if !ok {
		return runtime.Image{}, runtime.ErrNotFound
	}
	return runtime.Image{ID: id, Ref: ref, User: "user-of-" + id}, nil
}

// ImageExists answers for image IDs only (what Resolver.Image asks it), and
// takes part in pairUp like Image.
func (f *fakeImages) ImageExists(ctx context.Context, ref string) (bool, error) {
	f.enter()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inFlight--
	f.count(&f.lookups, ref)
	for _, id := range f.ids {
		if id == ref {
			return true, nil
		}
	}
	return false, nil
}

// enter counts a call in flight and, with pairUp, waits (up to a second)
// for a second one to be under way at the same time. The caller holds no
// lock and decrements inFlight when done.
func (f *fakeImages) enter() {
	f.mu.Lock()
	f.inFlight++
	f.maxInFlight = max(f.maxInFlight, f.inFlight)
	if f.inFlight == 2 && f.paired != nil {
		close(f.paired)
	}
	pairUp, paired := f.pairUp, f.paired
	f.mu.Unlock()
	if pairUp {
		select {
		case <-paired:
		case <-time.After(time.Second):
		}
	}
}

func (f *fakeImages) count(m *map[string]int, ref string) {
	if *m == nil {
		*m = map[string]int{}
	}
	(*m)[ref]++
}

func (f *fakeImages) Build(ctx context.Context, o runtime.BuildOptions) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.builds = append(f.builds, o.Tag)
	f.ids[o.Tag] = "sha256:built-" + o.Tag
	return nil
}

func TestImageBuildsOnlyWhenInputsChange(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	path := writeProject(t, "app", "[image]\nbuild = \".\"\n")
	dir := filepath.Dir(path)
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("Dockerfile", "FROM base:1\nARG UID\nCOPY Gemfile /app/\nUSER ${UID}\n")
	write("Gemfile", "gem 'jekyll'\n")
	write("README", "not copied\n")
	p, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeImages{ids: map[string]string{"base:1": "sha256:b1"}}
	host := idmap.Host{UID: 1000, GID: 1000}
	about := runtime.Info{Endpoint: "unix:///fake.sock", Facts: idmap.Engine{Kind: idmap.KindDocker}}
	ensure := func(policy BuildPolicy) (runtime.Image, error) {
		t.Helper()
		return resolver(f, about, host).Image(t.Context(), p, policy)
	}
	first, err := ensure(BuildIfChanged)
	if err != nil || len(f.builds) != 1 || first.Ref != f.builds[0] || !strings.HasPrefix(first.Ref, "hpr-app:") || first.ID != f.ids[first.Ref] {
		t.Fatalf("first = %+v, %v; builds %v: want one build, its tag and ID returned", first, err, f.builds)
	}
	again, err := ensure(BuildIfChanged)
	if err != nil || len(f.builds) != 1 || again.Ref != first.Ref || again.ID == "" {
		t.Fatalf("unchanged = %+v, %v; builds %v: want no build, the tag inspected", again, err, f.builds)
	}

	write("README", "changed, but not copied\n")
	if img, _ := ensure(BuildIfChanged); img.Ref != first.Ref || len(f.builds) != 1 {
		t.Errorf("a file the build does not copy changed: %s, builds %v; want no build", img.Ref, f.builds)
	}
	for _, change := range []struct {
		name string
		do   func()
	}{
		{"a copied file", func() { write("Gemfile", "gem 'jekyll', '4.3'\n") }},
		{"the Dockerfile", func() { write("Dockerfile", "FROM base:1\nARG UID\nCOPY Gemfile /app/\nUSER ${UID}\nRUN true\n") }},
		{"the base image's ID", func() { f.ids["base:1"] = "sha256:b2" }},
		{"a build arg (the user)", func() { host.UID = 1001 }},
	} {
		before := len(f.builds)
		change.do()
		img, err := ensure(BuildIfChanged)
		if err != nil || len(f.builds) != before+1 || img.Ref == first.Ref {
			t.Errorf("after changing %s: %+v, %v, builds %v; want a build under a new tag", change.name, img, err, f.builds)
		}
		if again, err := ensure(BuildIfChanged); err != nil || again.Ref != img.Ref || len(f.builds) != before+1 {
			t.Errorf("after changing %s, the next run: %+v, %v; want the new tag, no build", change.name, again, err)
		}
	}

	// A base image that is not there is an error naming it: hpr never pulls.
	delete(f.ids, "base:1")
	if _, err := ensure(BuildIfChanged); !errors.Is(err, runtime.ErrNotFound) || !strings.Contains(err.Error(), "base:1") {
		t.Errorf("missing base = %v, want ErrNotFound naming base:1", err)
	}
	f.ids["base:1"] = "sha256:b3"
	if _, err := ensure(BuildNever); !errors.Is(err, ErrNotBuilt) {
		t.Errorf("BuildNever with a new base = %v, want ErrNotBuilt", err)
	}
	before := len(f.builds)
	if _, err := ensure(BuildAlways); err != nil || len(f.builds) != before+1 {
		t.Errorf("BuildAlways = %v, builds %v; want a build", err, f.builds)
	}
}

// An unchanged build asks the engine for the base image's ID and, at the
// same time, whether the image built last time still exists: no inspect of
// the tag (an inspect costs more than a lookup on Podman), and the image's
// config from the memo. When
// that image is gone, or the memo is another engine's, the tag is inspected.
func TestImageUnchangedAsksOnlyForTheBase(t *testing.T) {
	p, f, host, about := baseProject(t, "app")
	built, err := resolver(f, about, host).Image(t.Context(), p, BuildIfChanged)
	if err != nil {
		t.Fatal(err)
	}
	f.pairUp, f.paired, f.maxInFlight = true, make(chan struct{}), 0
	f.inspects, f.lookups = nil, nil
	img, err := resolver(f, about, host).Image(t.Context(), p, BuildIfChanged)
	if err != nil || len(f.builds) != 1 {
		t.Fatalf("unchanged = %+v, %v, builds %v", img, err, f.builds)
	}
	if img.Ref != built.Ref || img.ID != built.ID || img.User != built.User {
		t.Errorf("unchanged = %+v, want the image built: %+v", img, built)
	}
	if f.inspects[built.Ref] != 0 || f.inspects["base:1"] != 1 || f.lookups[built.ID] != 1 {
		t.Errorf("inspects %v, lookups %v: want the base inspected and the built ID looked up, once each", f.inspects, f.lookups)
	}
	if f.maxInFlight != 2 {
		t.Errorf("at most %d call(s) at once, want the base's inspect and the lookup together", f.maxInFlight)
	}
	f.pairUp = false

	// Another engine with the same base ID does not take this one's image.
	f.inspects, f.lookups = nil, nil
	other := about
	other.Endpoint = "unix:///b.sock"
	if _, err := resolver(f, other, host).Image(t.Context(), p, BuildIfChanged); err != nil || f.inspects[built.Ref] != 1 || len(f.lookups) != 0 {
		t.Errorf("other engine: %v, inspects %v, lookups %v: want the tag inspected", err, f.inspects, f.lookups)
	}

	// The image was removed and the tag now names another one (or none):
	// the tag is inspected, and built when missing.
	f.ids[built.Ref] = "sha256:rebuilt"
	f.inspects = nil
	if img, err := resolver(f, about, host).Image(t.Context(), p, BuildIfChanged); err != nil || img.ID != "sha256:rebuilt" || f.inspects[built.Ref] != 1 || img.User != "user-of-sha256:rebuilt" {
		t.Errorf("image replaced: %+v, %v, inspects %v; want the tag's new image", img, err, f.inspects)
	}
	delete(f.ids, built.Ref)
	if img, err := resolver(f, about, host).Image(t.Context(), p, BuildIfChanged); err != nil || len(f.builds) != 2 || img.ID == "" {
		t.Errorf("image removed: %+v, %v, builds %v; want a build", img, err, f.builds)
	}
}

// rememberedBuild answers from the memo without the engine, and its check
// fails with ErrStale when a base image changed or the image is gone.
func TestRememberedBuild(t *testing.T) {
	p, f, host, about := baseProject(t, "app")
	if _, _, ok := resolver(f, about, host).rememberedBuild(p); ok {
		t.Fatal("remembered an image before any build")
	}
	built, err := resolver(f, about, host).Image(t.Context(), p, BuildIfChanged)
	if err != nil {
		t.Fatal(err)
	}
	f.inspects, f.lookups = nil, nil
	img, check, ok := resolver(f, about, host).rememberedBuild(p)
	if !ok || img.ID != built.ID || img.Ref != built.Ref || len(f.inspects)+len(f.lookups) != 0 {
		t.Fatalf("RememberedImage = %+v, %v (engine calls %v %v); want the build, no engine call", img, ok, f.inspects, f.lookups)
	}
	if err := check(t.Context()); err != nil {
		t.Errorf("check of an unchanged build = %v", err)
	}
	f.ids["base:1"] = "sha256:b2"
	if err := check(t.Context()); !errors.Is(err, runtime.ErrStale) {
		t.Errorf("check after the base changed = %v, want ErrStale", err)
	}
	f.ids["base:1"] = "sha256:b1"
	delete(f.ids, built.Ref)
	if err := check(t.Context()); !errors.Is(err, runtime.ErrStale) {
		t.Errorf("check after the image was removed = %v, want ErrStale", err)
	}
}

// resolver is a Resolver of e for host h, with the cache of the test's
// XDG_CACHE_HOME.
func resolver(e runtime.Engine, info runtime.Info, h idmap.Host) *Resolver {
	return &Resolver{Engine: e, Info: info, Host: h, Cache: cache.Open()}
}

// PruneBuildMemos forgets the builds of projects whose directory is gone,
// and records it cannot read, and keeps the rest.
func TestPruneBuildMemos(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	f := &fakeImages{ids: map[string]string{"base:1": "sha256:b1"}}
	host := idmap.Host{UID: 1000, GID: 1000}
	about := runtime.Info{Endpoint: "unix:///a.sock", Facts: idmap.Engine{Kind: idmap.KindDocker}}
	var projects []*Project
	for _, name := range []string{"kept", "gone"} {
		path := writeProject(t, name, "[image]\nbuild = \".\"\n")
		if err := os.WriteFile(filepath.Join(filepath.Dir(path), "Dockerfile"), []byte("FROM base:1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := resolver(f, about, host).Image(t.Context(), p, BuildIfChanged); err != nil {
			t.Fatal(err)
		}
		projects = append(projects, p)
	}
	c := cache.Open()
	c.Write(cache.Builds, "old-format", []byte(`{"engine":"x","inputs":"y"}`+"\n"))
	if err := os.RemoveAll(projects[1].Root); err != nil {
		t.Fatal(err)
	}
	if n := PruneBuildMemos(c); n != 2 {
		t.Errorf("pruned %d memos, want 2 (the gone project's, the old format)", n)
	}
	if keys := c.Keys(cache.Builds); len(keys) != 1 {
		t.Errorf("memos left: %v, want the kept project's", keys)
	}
	if _, _, ok := resolver(f, about, host).rememberedBuild(projects[0]); !ok {
		t.Error("the kept project's build was forgotten")
	}
}

// baseProject is a project name whose Dockerfile is FROM base:1, an engine
// that has base:1, a host user and the engine's Info, in a cache of the
// test's own.
func baseProject(t *testing.T, name string) (*Project, *fakeImages, idmap.Host, runtime.Info) {
	t.Helper()
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	path := writeProject(t, name, "[image]\nbuild = \".\"\n")
	if err := os.WriteFile(filepath.Join(filepath.Dir(path), "Dockerfile"), []byte("FROM base:1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeImages{ids: map[string]string{"base:1": "sha256:b1"}}
	about := runtime.Info{Endpoint: "unix:///a.sock", Facts: idmap.Engine{Kind: idmap.KindDocker}}
	return p, f, idmap.Host{UID: 1000, GID: 1000}, about
}
