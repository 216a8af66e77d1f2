package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrStale says a run was prepared from what hpr remembered of an image
// name, and the name no longer names that image (or any): nothing was
// started, and the run is to be prepared again from the engine's answer.
var ErrStale = errors.New("the image name names another image now")

// lastImagesMax bounds how many names a memo file keeps per engine.
const lastImagesMax = 64

// LastImage is what ref named on the engine at endpoint when hpr last
// inspected it there (PlanFor remembers it): the image's ID and config. An
// image's ID is the hash of its config, so only the name's mapping can be
// out of date; CheckImage says whether it is.
func LastImage(endpoint, ref string) (Image, bool) {
	m := readLastImages(endpoint)
	img, ok := m[ref]
	return img, ok && img.ID != "" && img.Ref == ref
}

// RememberImage records img (an answer of Engine.Image) for its Ref on the
// engine at endpoint. Best effort: the memo only saves an inspect.
func RememberImage(endpoint string, img Image) {
	if img.ID == "" || img.Ref == "" {
		return
	}
	m := readLastImages(endpoint)
	if old, ok := m[img.Ref]; ok && old.ID == img.ID {
		return
	}
	if len(m) >= lastImagesMax {
		m = map[string]Image{}
	}
	m[img.Ref] = img
	writeLastImages(endpoint, m)
}

// ForgetImage drops what hpr remembers of ref on the engine at endpoint.
func ForgetImage(endpoint, ref string) {
	m := readLastImages(endpoint)
	if _, ok := m[ref]; !ok {
		return
	}
	delete(m, ref)
	writeLastImages(endpoint, m)
}

// CheckImage inspects img.Ref and returns nil when it still names img, and
// otherwise an error wrapping ErrStale (after remembering the new answer).
func CheckImage(ctx context.Context, e Engine, endpoint string, img Image) error {
	now, err := e.Image(ctx, img.Ref)
	if err != nil {
		ForgetImage(endpoint, img.Ref)
		return fmt.Errorf("%w: %s: %w", ErrStale, img.Ref, err)
	}
	if now.ID != img.ID {
		now.Ref = img.Ref
		RememberImage(endpoint, now)
		return fmt.Errorf("%w: %s is image %s now, not %s", ErrStale, img.Ref, shortID(now.ID), shortID(img.ID))
	}
	return nil
}

func writeLastImages(endpoint string, m map[string]Image) {
	if data, err := json.Marshal(m); err == nil {
		WriteCache(lastImagesPath(endpoint), data)
	}
}

func readLastImages(endpoint string) map[string]Image {
	m := map[string]Image{}
	if path := lastImagesPath(endpoint); path != "" {
		if data, err := os.ReadFile(path); err == nil {
			_ = json.Unmarshal(data, &m)
		}
	}
	return m
}

func lastImagesPath(endpoint string) string {
	dir, err := CacheDir()
	if err != nil {
		return ""
	}
	sum := sha256.Sum256([]byte(endpoint))
	return filepath.Join(dir, "names", hex.EncodeToString(sum[:8])+".json")
}

// WriteCache writes a file of hpr's cache (under CacheDir) in one piece:
// readers see the old content or the new, never a part. Best effort: a
// cache that cannot be written costs time, not correctness.
func WriteCache(path string, data []byte) {
	if path == "" || os.MkdirAll(filepath.Dir(path), 0o700) != nil {
		return
	}
	tmp := fmt.Sprintf("%s.%d", path, os.Getpid())
	if os.WriteFile(tmp, data, 0o600) != nil || os.Rename(tmp, path) != nil {
		os.Remove(tmp)
	}
}
