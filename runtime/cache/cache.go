// Package cache is hpr's one on-disk cache: one directory under the user's
// cache directory, one path scheme (a kind of record and a key), and one
// writer that replaces a file in one piece.
//
// Everything in it is a memo that only saves engine calls: a record that
// cannot be read or written costs time, never correctness. Records are
// private to the user (files 0600 in 0700 directories); the one exception
// is what containers mount (Publish), which the container's user must be
// able to read whoever it runs as.
package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Kinds of records hpr keeps.
const (
	// Builds: per project, the images built for its recent build inputs.
	Builds = "builds"
	// Names: per engine, the image each image name named at its last inspect.
	Names = "names"
	// Images: per image ID, the image's /etc/passwd and /etc/group.
	Images = "images"
	// Identity: passwd and group files mounted into containers (Publish).
	Identity = "identity"
	// Engines: per endpoint, the engine's Info and the listener that gave it.
	Engines = "engines"
	// Building: the builds under way, and those their engine cut short by
	// stopping, whose build containers are still to be removed. Unlike the
	// memos, a lost record costs a leftover, never time.
	Building = "building"
)

// Dir is hpr's cache directory. The zero Dir caches nothing: reads miss
// and writes are dropped.
type Dir struct {
	root string
}

// Open returns the cache under $XDG_CACHE_HOME/hpr, or the user's cache
// directory's hpr; the zero Dir when there is neither.
func Open() Dir {
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return Dir{root: filepath.Join(d, "hpr")}
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return Dir{}
	}
	return Dir{root: filepath.Join(d, "hpr")}
}

// At returns the cache rooted at root (tests).
func At(root string) Dir { return Dir{root: root} }

// Key is a short, file-name-safe key for s (a project root, an endpoint).
func Key(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:8])
}

// Path is the file of the record kind/key; empty for the zero Dir.
func (d Dir) Path(kind, key string) string {
	if d.root == "" {
		return ""
	}
	return filepath.Join(d.root, kind, safe(key)+".json")
}

// safe keeps a key (an image ID "sha256:…") usable as a file name.
func safe(key string) string {
	return strings.NewReplacer("/", "-", ":", "-").Replace(key)
}

// Read returns the record kind/key; false when there is none.
func (d Dir) Read(kind, key string) ([]byte, bool) {
	p := d.Path(kind, key)
	if p == "" {
		return nil, false
	}
	data, err := os.ReadFile(p)
	return data, err == nil
}

// Write replaces the record kind/key with data in one piece: readers see
// the old content or the new, never a part. Best effort.
func (d Dir) Write(kind, key string, data []byte) {
	if p := d.Path(kind, key); p != "" {
		_ = writeFile(p, data, 0o600, 0o700)
	}
}

// Remove deletes the record kind/key.
func (d Dir) Remove(kind, key string) {
	if p := d.Path(kind, key); p != "" {
		_ = os.Remove(p)
	}
}

// Keys lists the keys of the records of kind.
func (d Dir) Keys(kind string) []string {
	if d.root == "" {
		return nil
	}
	ents, err := os.ReadDir(filepath.Join(d.root, kind))
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if k, ok := strings.CutSuffix(e.Name(), ".json"); ok && e.Type().IsRegular() {
			out = append(out, k)
		}
	}
	return out
}

// ErrNoCache is returned by Publish when there is no cache directory.
var ErrNoCache = errors.New("no cache directory (set XDG_CACHE_HOME)")

// Publish writes content under kind as name-<hash of content> once and
// returns its path. The name changes with the content, so a file is never
// changed while a container has it mounted. Published files are readable
// by all (0644 in 0755 directories): a container mounts them, and its user
// may be any uid.
func (d Dir) Publish(kind, name string, content []byte) (string, error) {
	if d.root == "" {
		return "", ErrNoCache
	}
	sum := sha256.Sum256(content)
	p := filepath.Join(d.root, kind, name+"-"+hex.EncodeToString(sum[:8]))
	if old, err := os.ReadFile(p); err == nil && string(old) == string(content) {
		return p, nil
	}
	if err := writeFile(p, content, 0o644, 0o755); err != nil {
		return "", err
	}
	return p, nil
}

// writeFile writes data to a file beside path and renames it over path.
// The modes are set explicitly: the umask must not make a published file
// unreadable, nor a private one readable.
func writeFile(path string, data []byte, mode, dirMode os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	f, err := os.CreateTemp(dir, filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(mode)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
