package project

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/hostpersist/hpr/runtime"
	"github.com/hostpersist/hpr/runtime/cache"
)

// namesMax bounds how many names the memo keeps per engine.
const namesMax = 64

// names remembers, per engine, which image each image name named when hpr
// last inspected it: the image's ID and config. An image's ID is the hash
// of its config, so only the name's mapping can be out of date; check says
// whether it is.
type names struct {
	c        cache.Dir
	endpoint string
}

// last is what ref named at the last inspect on this engine.
func (n names) last(ref string) (runtime.Image, bool) {
	img, ok := n.read()[ref]
	return img, ok && img.ID != "" && img.Ref == ref
}

// remember records img (an answer of Engine.Image) for its Ref. Best
// effort: the memo only saves an inspect.
func (n names) remember(img runtime.Image) {
	if img.ID == "" || img.Ref == "" {
		return
	}
	m := n.read()
	if old, ok := m[img.Ref]; ok && old.ID == img.ID {
		return
	}
	if len(m) >= namesMax {
		m = map[string]runtime.Image{}
	}
	m[img.Ref] = img
	n.write(m)
}

// forget drops what is remembered of ref.
func (n names) forget(ref string) {
	m := n.read()
	if _, ok := m[ref]; !ok {
		return
	}
	delete(m, ref)
	n.write(m)
}

// check inspects img.Ref and returns nil when it still names img, and
// otherwise an error wrapping runtime.ErrStale (after remembering the new
// answer).
func (n names) check(ctx context.Context, e runtime.Engine, img runtime.Image) error {
	now, err := e.Image(ctx, img.Ref)
	if err != nil {
		n.forget(img.Ref)
		return fmt.Errorf("%w: %s: %w", runtime.ErrStale, img.Ref, err)
	}
	if now.ID != img.ID {
		now.Ref = img.Ref
		n.remember(now)
		return fmt.Errorf("%w: %s is image %s now, not %s", runtime.ErrStale, img.Ref, runtime.ShortID(now.ID), runtime.ShortID(img.ID))
	}
	return nil
}

func (n names) read() map[string]runtime.Image {
	m := map[string]runtime.Image{}
	if data, ok := n.c.Read(cache.Names, cache.Key(n.endpoint)); ok {
		_ = json.Unmarshal(data, &m)
	}
	return m
}

func (n names) write(m map[string]runtime.Image) {
	if data, err := json.Marshal(m); err == nil {
		n.c.Write(cache.Names, cache.Key(n.endpoint), data)
	}
}
