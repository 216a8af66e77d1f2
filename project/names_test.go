package project

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/hostpersist/hpr/runtime"
	"github.com/hostpersist/hpr/runtime/cache"
)

// imagesByName answers Image from a map of name to ID.
type imagesByName struct {
	runtime.Engine
	ids map[string]string
}

func (f imagesByName) Image(_ context.Context, ref string) (runtime.Image, error) {
	id, ok := f.ids[ref]
	if !ok {
		return runtime.Image{}, runtime.ErrNotFound
	}
	return runtime.Image{ID: id, Ref: ref, User: "u-" + id}, nil
}

func TestNamesRememberAndCheck(t *testing.T) {
	c := cache.At(filepath.Join(t.TempDir(), "hpr"))
	n, other := names{c, "unix:///a.sock"}, names{c, "unix:///b.sock"}
	if _, ok := n.last("img"); ok {
		t.Fatal("an empty cache remembers img")
	}
	a := runtime.Image{ID: "a", Ref: "img", User: "u-a", Env: []string{"K=V"}}
	n.remember(a)
	got, ok := n.last("img")
	if !ok || got.ID != "a" || got.User != "u-a" || len(got.Env) != 1 {
		t.Fatalf("last = %+v, %v; want %+v", got, ok, a)
	}
	if _, ok := other.last("img"); ok {
		t.Error("another engine's name was taken for this one's")
	}

	e := imagesByName{ids: map[string]string{"img": "a"}}
	if err := n.check(t.Context(), e, a); err != nil {
		t.Errorf("check of an unchanged name = %v", err)
	}
	e.ids["img"] = "b"
	if err := n.check(t.Context(), e, a); !errors.Is(err, runtime.ErrStale) {
		t.Errorf("check of a moved name = %v, want ErrStale", err)
	}
	if got, _ := n.last("img"); got.ID != "b" || got.User != "u-b" {
		t.Errorf("after the check, last = %+v; want the new image remembered", got)
	}
	delete(e.ids, "img")
	if err := n.check(t.Context(), e, runtime.Image{ID: "b", Ref: "img"}); !errors.Is(err, runtime.ErrStale) || !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("check of a removed name = %v, want ErrStale and ErrNotFound", err)
	}
	if _, ok := n.last("img"); ok {
		t.Error("a removed name is still remembered")
	}
}
