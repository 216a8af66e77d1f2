package runtime

import (
	"context"
	"errors"
	"testing"
)

// imagesByName answers Image from a map of name to ID.
type imagesByName struct {
	Engine
	ids map[string]string
}

func (f imagesByName) Image(_ context.Context, ref string) (Image, error) {
	id, ok := f.ids[ref]
	if !ok {
		return Image{}, ErrNotFound
	}
	return Image{ID: id, Ref: ref, User: "u-" + id}, nil
}

func TestLastImageAndCheck(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	const ep, other = "unix:///a.sock", "unix:///b.sock"
	if _, ok := LastImage(ep, "img"); ok {
		t.Fatal("an empty cache remembers img")
	}
	a := Image{ID: "a", Ref: "img", User: "u-a", Env: []string{"K=V"}}
	RememberImage(ep, a)
	got, ok := LastImage(ep, "img")
	if !ok || got.ID != "a" || got.User != "u-a" || len(got.Env) != 1 {
		t.Fatalf("LastImage = %+v, %v; want %+v", got, ok, a)
	}
	if _, ok := LastImage(other, "img"); ok {
		t.Error("another engine's name was taken for this one's")
	}

	e := imagesByName{ids: map[string]string{"img": "a"}}
	if err := CheckImage(t.Context(), e, ep, a); err != nil {
		t.Errorf("CheckImage of an unchanged name = %v", err)
	}
	e.ids["img"] = "b"
	if err := CheckImage(t.Context(), e, ep, a); !errors.Is(err, ErrStale) {
		t.Errorf("CheckImage of a moved name = %v, want ErrStale", err)
	}
	if got, _ := LastImage(ep, "img"); got.ID != "b" || got.User != "u-b" {
		t.Errorf("after the check, LastImage = %+v; want the new image remembered", got)
	}
	delete(e.ids, "img")
	if err := CheckImage(t.Context(), e, ep, Image{ID: "b", Ref: "img"}); !errors.Is(err, ErrStale) || !errors.Is(err, ErrNotFound) {
		t.Errorf("CheckImage of a removed name = %v, want ErrStale and ErrNotFound", err)
	}
	if _, ok := LastImage(ep, "img"); ok {
		t.Error("a removed name is still remembered")
	}
}
