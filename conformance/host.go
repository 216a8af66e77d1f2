package conformance

import (
	"cmp"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hostpersist/hpr/project"
	"github.com/hostpersist/hpr/runtime/sshconn"
)

// Remote is a remote engine's host as hpr reaches it (runtime/sshconn's
// Target, over the engine's own ssh connection): what the resolver asks of
// it, and a shell there in which the test directory is made, observed and
// removed.
type Remote interface {
	project.EngineHost
	// Script runs a POSIX sh script there and returns what it printed.
	Script(ctx context.Context, script string) (string, error)
	// Input runs a command there with its stdin read from in.
	Input(ctx context.Context, in io.Reader, remote ...string) (string, error)
}

// testHost is the machine whose files the checks judge — where the engine
// runs: this one, or a remote engine's host. The test directory is made,
// observed and removed there, in paths of its own, and ownership is judged
// from its side (stat), never from the container's word.
type testHost interface {
	// makeDir makes a new test directory holding the fixture (see
	// makeFixture) and returns its path; with probe, it also puts the
	// probe binary where containers of the engine can mount it and
	// returns that path.
	makeDir(ctx context.Context, bin binary, probe bool) (root, probePath string, err error)
	// observe is what the host sees of every path below root (see
	// observe).
	observe(ctx context.Context, root string) (map[string]fileInfo, error)
	// removeAll removes root; an error says what is left.
	removeAll(ctx context.Context, root string) error
	// readFile reads a file of the host's (its subuid and subgid files).
	readFile(ctx context.Context, path string) ([]byte, error)
}

// localHost is this machine: the engine is local.
type localHost struct {
	dir string // where test directories are made; "" is os.TempDir()
}

func (h localHost) makeDir(_ context.Context, bin binary, _ bool) (string, string, error) {
	root, err := os.MkdirTemp(cmp.Or(h.dir, os.TempDir()), "hpr-conformance-")
	if err != nil {
		return "", "", fmt.Errorf("making the test directory: %w", err)
	}
	if err := makeFixture(root); err != nil {
		os.RemoveAll(root)
		return "", "", err
	}
	return root, bin.Path, nil
}

func (localHost) observe(_ context.Context, root string) (map[string]fileInfo, error) {
	return observe(root), nil
}

func (localHost) removeAll(_ context.Context, root string) error { return removeAll(root) }

func (localHost) readFile(_ context.Context, path string) ([]byte, error) { return os.ReadFile(path) }

// remoteHost is a remote engine's host, through a shell there. It needs
// GNU find and coreutils (stat, base64, mktemp) there, as Linux
// distributions have.
type remoteHost struct{ r Remote }

// remoteProbe is the probe binary's name in a remote test directory.
const remoteProbe = "hpr-probe"

func (h remoteHost) makeDir(ctx context.Context, bin binary, probe bool) (string, string, error) {
	out, err := h.r.Script(ctx, fixtureScript(probe))
	if err != nil {
		return "", "", fmt.Errorf("making the test directory on the engine's host: %w", err)
	}
	root := strings.TrimSuffix(out, "\n")
	if !filepath.IsAbs(root) || strings.Contains(root, "\n") {
		return "", "", fmt.Errorf("making the test directory on the engine's host: unexpected answer %q", out)
	}
	if !probe {
		return root, "", nil
	}
	probePath := root + "/" + remoteProbe
	if err := h.copyBinary(ctx, bin, probePath); err != nil {
		h.removeAll(context.WithoutCancel(ctx), root)
		return "", "", err
	}
	return root, probePath, nil
}

// copyBinary copies the probe binary to path there (made 0755 by the
// fixture script).
func (h remoteHost) copyBinary(ctx context.Context, bin binary, path string) error {
	f, err := os.Open(bin.Path)
	if err != nil {
		return fmt.Errorf("copying the probe binary to the engine's host: %w", err)
	}
	defer f.Close()
	if _, err := h.r.Input(ctx, f, "cat", ">", sshconn.Quote(path)); err != nil {
		return fmt.Errorf("copying the probe binary to the engine's host: %w", err)
	}
	return nil
}

// fixtureScript makes the test directory and the fixture (as makeFixture
// does here) and prints the directory's path; with probe, an empty 0755
// file for the probe binary.
func fixtureScript(probe bool) string {
	var b strings.Builder
	b.WriteString(`set -e
umask 022
d=$(mktemp -d "${TMPDIR:-/tmp}/hpr-conformance-XXXXXX")
cd "$d"
chmod 0755 .
`)
	for _, d := range []string{appDir, extraDir, imageUserDir} {
		fmt.Fprintf(&b, "mkdir -m 0755 %s\n", sshconn.Quote(d))
	}
	for _, f := range fixture {
		p := sshconn.Quote(appDir + "/" + f.path)
		if f.dir {
			fmt.Fprintf(&b, "mkdir %s\n", p)
		} else {
			fmt.Fprintf(&b, "printf '%%s' %s >%s\n", sshconn.Quote(f.content), p)
		}
		fmt.Fprintf(&b, "chmod %04o %s\n", f.mode.Perm(), p)
	}
	if probe {
		fmt.Fprintf(&b, ": >%s\nchmod 0755 %s\n", remoteProbe, remoteProbe)
	}
	b.WriteString("printf '%s\\n' \"$d\"\n")
	return b.String()
}

func (h remoteHost) observe(ctx context.Context, root string) (map[string]fileInfo, error) {
	out, err := h.r.Script(ctx, observeScript(root))
	if err != nil {
		return nil, fmt.Errorf("looking at the test directory on the engine's host: %w", err)
	}
	return parseObserved(out)
}

func (h remoteHost) removeAll(ctx context.Context, root string) error {
	_, err := h.r.Script(ctx, "rm -rf -- "+sshconn.Quote(root)+"\n[ ! -e "+sshconn.Quote(root)+" ]\n")
	return err
}

func (h remoteHost) readFile(ctx context.Context, path string) ([]byte, error) {
	return h.r.ReadFile(ctx, path)
}

// observeScript prints what the host sees below root, NUL-separated
// records: "F" and a path's relative name (empty for root), uid, gid,
// octal mode, type letter, inode, link count, mtime (seconds.fraction)
// and symlink target; "U" and a directory that cannot be listed; "C" and
// a small readable regular file's content in base64. find and stat do
// not follow symlinks, as observe's Lstat does not.
func observeScript(root string) string {
	return `cd -- ` + sshconn.Quote(root) + ` || exit 3
find . -printf 'F\0%P\0%U\0%G\0%m\0%y\0%i\0%n\0%T@\0%l\0' 2>/dev/null
find . -type d \( ! -readable -o ! -executable \) -printf 'U\0%P\0' 2>/dev/null
find . -type f -size -` + fmt.Sprint(maxContent+1) + `c -readable -exec sh -c 'for f; do printf "C\0%s\0" "${f#./}"; base64 -w0 <"$f"; printf "\0"; done' sh {} + 2>/dev/null
exit 0
`
}

// parseObserved reads observeScript's records.
func parseObserved(out string) (map[string]fileInfo, error) {
	f := strings.Split(out, "\x00")
	seen := map[string]fileInfo{}
	name := func(p string) string { return cmp.Or(p, ".") }
	for i := 0; i < len(f); {
		var n int
		switch f[i] {
		case "F":
			n = 9
		case "U":
			n = 1
		case "C":
			n = 2
		case "":
			if i == len(f)-1 {
				return seen, nil
			}
			fallthrough
		default:
			return nil, fmt.Errorf("looking at the test directory on the engine's host: unexpected answer at %q", f[i])
		}
		if i+n >= len(f) {
			return nil, fmt.Errorf("looking at the test directory on the engine's host: answer cut short")
		}
		r := f[i+1 : i+1+n]
		switch f[i] {
		case "F":
			seen[name(r[0])] = statRecord(r[1:])
		case "U":
			fi := seen[name(r[0])]
			fi.Err = "permission denied"
			seen[name(r[0])] = fi
		case "C":
			fi := seen[name(r[0])]
			b, err := base64.StdEncoding.DecodeString(r[1])
			if err != nil {
				return nil, fmt.Errorf("looking at the test directory on the engine's host: content of %s: %w", r[0], err)
			}
			fi.Content = string(b)
			seen[name(r[0])] = fi
		}
		i += 1 + n
	}
	return seen, nil
}

// statRecord reads one path's fields of an "F" record: uid, gid, octal
// mode, type, inode, links, mtime, symlink target.
func statRecord(r []string) fileInfo {
	num := func(s string, base int) uint64 {
		v, _ := strconv.ParseUint(s, base, 64)
		return v
	}
	fi := fileInfo{UID: int(num(r[0], 10)), GID: int(num(r[1], 10)), Ino: num(r[4], 10), Nlink: num(r[5], 10)}
	mode := num(r[2], 8)
	fi.Mode = fs.FileMode(mode & 0o777)
	if mode&0o1000 != 0 {
		fi.Mode |= fs.ModeSticky
	}
	switch r[3] {
	case "d":
		fi.Mode |= fs.ModeDir
	case "l":
		fi.Mode |= fs.ModeSymlink
		fi.Link = r[7]
	case "f":
	default:
		fi.Mode |= fs.ModeIrregular
	}
	sec, frac, _ := strings.Cut(r[6], ".")
	frac = (frac + "000000000")[:9]
	fi.ModTime = time.Unix(int64(num(sec, 10)), int64(num(frac, 10)))
	return fi
}
