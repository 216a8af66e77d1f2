package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// RootCanaryDir holds the file only root may read that the harness makes
// (scripts/engines.sh up): a project that gets a container to read or
// change it reached root's files through the engine.
const RootCanaryDir = "/var/lib/hpr-harness/canary"

// RootCanaryText is what the root canary holds: a project's container that
// prints it, or writes it into the project, read root's file.
const RootCanaryText = "hpr-root-canary-c4a7"

// Canaries are files outside the project a hostile project's container
// must neither read nor change: one of root's, one in the test user's home.
type Canaries struct {
	// Root is RootCanaryDir's secret (0600 root), holding RootCanaryText.
	Root string
	// Home is a directory in the test user's home, HomeFile its secret
	// (0600), holding HomeText.
	Home, HomeFile, HomeText string
}

// NewCanaries makes the home canary (removed when the test ends) and checks
// the root canary is there. A harness without the root canary fails the
// test: an attack suite without its canary proves nothing.
func NewCanaries(t testing.TB) Canaries {
	t.Helper()
	c := Canaries{Root: filepath.Join(RootCanaryDir, "secret")}
	fi, err := os.Stat(c.Root)
	if err != nil {
		t.Fatalf("root canary: %v (scripts/engines.sh up makes it)", err)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 0 || fi.Mode().Perm()&0o077 != 0 {
		t.Fatalf("root canary %s is not root's alone (uid %d, mode %v)", c.Root, st.Uid, fi.Mode())
	}
	home, err := os.UserHomeDir()
	if err != nil {
		t.Fatal(err)
	}
	c.Home, err = os.MkdirTemp(home, ".hpr-canary-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(c.Home) })
	b := make([]byte, 12)
	rand.Read(b)
	c.HomeText = "hpr-home-canary-" + hex.EncodeToString(b)
	c.HomeFile = filepath.Join(c.Home, "secret")
	if err := os.WriteFile(c.HomeFile, []byte(c.HomeText+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return c
}

// Leaked returns which canary's text appears in the texts given (a run's
// output, files the container wrote): "" when none.
func (c Canaries) Leaked(texts ...string) string {
	for _, s := range texts {
		switch {
		case strings.Contains(s, RootCanaryText):
			return "root's canary " + c.Root
		case c.HomeText != "" && strings.Contains(s, c.HomeText):
			return "the home canary " + c.HomeFile
		}
	}
	return ""
}

// LeakedInto is Leaked over every regular file below dir (the project after
// an attack).
func (c Canaries) LeakedInto(dir string) string {
	var found string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || found != "" || !d.Type().IsRegular() {
			return nil
		}
		if b, err := os.ReadFile(p); err == nil {
			if w := c.Leaked(string(b)); w != "" {
				found = w + " in " + p
			}
		}
		return nil
	})
	return found
}

// Snapshot is the metadata of files and directories as the test user sees
// them: path → mode, owner, size, modification and change times. Taken
// before and after an attack, it shows anything created, removed or changed
// outside the project, unreadable files included (stat needs only search
// permission on the directory).
type Snapshot map[string]string

// Snap records paths and, for directories, what is below them (depth
// levels down; unreadable directories are recorded, not entered).
func Snap(depth int, paths ...string) Snapshot {
	s := Snapshot{}
	for _, p := range paths {
		s.add(p, depth)
	}
	return s
}

func (s Snapshot) add(p string, depth int) {
	fi, err := os.Lstat(p)
	if err != nil {
		s[p] = "absent"
		return
	}
	st := fi.Sys().(*syscall.Stat_t)
	s[p] = fmt.Sprintf("%v %d:%d %d m%d.%d c%d.%d", fi.Mode(), st.Uid, st.Gid, fi.Size(), st.Mtim.Sec, st.Mtim.Nsec, st.Ctim.Sec, st.Ctim.Nsec)
	if !fi.IsDir() || depth <= 0 {
		return
	}
	ents, err := os.ReadDir(p)
	if err != nil {
		return
	}
	for _, e := range ents {
		s.add(filepath.Join(p, e.Name()), depth-1)
	}
}

// Diff lists what differs from before to s, one path a line; "" when
// nothing did.
func (s Snapshot) Diff(before Snapshot) string {
	var out []string
	for p, was := range before {
		if now, ok := s[p]; !ok {
			out = append(out, fmt.Sprintf("%s: %s → gone", p, was))
		} else if now != was {
			out = append(out, fmt.Sprintf("%s: %s → %s", p, was, now))
		}
	}
	for p, now := range s {
		if _, ok := before[p]; !ok {
			out = append(out, fmt.Sprintf("%s: new, %s", p, now))
		}
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}
