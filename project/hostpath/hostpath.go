package hostpath

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Verdict is what Resolve found a path to be.
type Verdict int

// Verdicts.
const (
	// Inside: the path exists and resolves below the root; Path is its
	// real, symlink-free path.
	Inside Verdict = iota
	// Missing: a component below the root does not exist; what exists
	// resolves inside, and Path is the real path it would have.
	Missing
	// Outside: the path, as written or through a symlink, leaves the root;
	// Path is where it points (as far as hpr can tell).
	Outside
	// Unresolvable: a component could not be resolved (permission denied,
	// a symlink loop, not a directory); Path is the path as far as it was
	// resolved, Err why.
	Unresolvable
)

// String names v for messages and tests.
func (v Verdict) String() string {
	switch v {
	case Inside:
		return "inside"
	case Missing:
		return "missing"
	case Outside:
		return "outside"
	case Unresolvable:
		return "unresolvable"
	}
	return "verdict(" + strconv.Itoa(int(v)) + ")"
}

// Result is Resolve's answer.
type Result struct {
	Verdict Verdict
	// Path is the real path (Inside, Missing) or where the path points
	// (Outside, Unresolvable): always absolute and clean.
	Path string
	// Err is the resolution's failure for Unresolvable; nil otherwise.
	Err error
}

// Root is a project directory to resolve paths beneath.
type Root struct {
	// Real is the root's own real path: symlinks the user's path to the
	// project went through are the user's and resolved here once.
	Real string
	// Given is the root as the user reached it; paths written below it
	// resolve as if written below Real.
	Given string
}

// NewRoot returns the root of dir, with its own symlinks resolved.
func NewRoot(dir string) (Root, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Root{}, err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return Root{}, fmt.Errorf("resolving the project directory %s: %w", abs, err)
	}
	return Root{Real: real, Given: abs}, nil
}

// Resolve resolves absolute path p. A path written below the root (as
// given or as real) is resolved beneath it; any other is Outside, pointing
// where the host resolves it.
func (r Root) Resolve(p string) Result {
	p = filepath.Clean(p)
	rel, ok := r.rel(p)
	if !ok {
		return Result{Verdict: Outside, Path: PointsTo(p)}
	}
	if rel == "." {
		return Result{Verdict: Inside, Path: r.Real}
	}
	fd, err := r.open()
	if err != nil {
		return Result{Verdict: Unresolvable, Path: r.Real, Err: err}
	}
	defer unix.Close(fd)
	return resolveBeneath(fd, r.Real, rel)
}

// rel is p relative to the root, as given or real.
func (r Root) rel(p string) (string, bool) {
	for _, base := range []string{r.Given, r.Real} {
		if base == "" {
			continue
		}
		if rel, err := filepath.Rel(base, p); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			return rel, true
		}
	}
	return "", false
}

// open opens the real root O_PATH, refusing a root that became a symlink.
func (r Root) open() (int, error) {
	fd, err := unix.Open(r.Real, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("opening the project directory %s: %w", r.Real, err)
	}
	return fd, nil
}

// how is the resolution every lookup below the root uses.
var how = unix.OpenHow{
	Flags:   unix.O_PATH | unix.O_CLOEXEC,
	Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS,
}

// resolveBeneath resolves rel beneath the root open at fd.
func resolveBeneath(fd int, real, rel string) Result {
	var err error
	for range 8 { // a rename elsewhere makes the kernel ask for a retry
		var f int
		if f, err = unix.Openat2(fd, rel, &how); err == nil {
			defer unix.Close(f)
			got, rerr := os.Readlink("/proc/self/fd/" + strconv.Itoa(f))
			if rerr != nil {
				return Result{Verdict: Unresolvable, Path: filepath.Join(real, rel), Err: rerr}
			}
			return Result{Verdict: Inside, Path: got}
		}
		if !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EINTR) {
			break
		}
	}
	written := filepath.Join(real, rel)
	switch {
	case errors.Is(err, unix.EXDEV):
		return Result{Verdict: Outside, Path: PointsTo(written)}
	case errors.Is(err, unix.ENOENT):
		return missing(fd, real, rel)
	}
	return Result{Verdict: Unresolvable, Path: PointsTo(written), Err: err}
}

// missing is the answer for a path of which a component does not exist:
// the longest prefix that does is resolved (it may itself leave the root
// through a symlink to a missing target: Outside).
func missing(fd int, real, rel string) Result {
	parts := strings.Split(rel, "/")
	for n := len(parts) - 1; n >= 0; n-- {
		prefix := strings.Join(parts[:n], "/")
		var res Result
		if prefix == "" {
			res = Result{Verdict: Inside, Path: real}
		} else {
			res = resolveBeneath(fd, real, prefix)
		}
		switch res.Verdict {
		case Inside:
			// A dangling symlink in the project whose target is missing
			// is resolved by the kernel as missing: say where it points.
			next := filepath.Join(res.Path, parts[n])
			if target, err := os.Readlink(next); err == nil {
				if t := resolveLink(next, target); !within(real, t) {
					return Result{Verdict: Outside, Path: PointsTo(filepath.Join(append([]string{t}, parts[n+1:]...)...))}
				}
			}
			return Result{Verdict: Missing, Path: filepath.Join(append([]string{res.Path}, parts[n:]...)...)}
		case Missing:
			continue
		}
		return res
	}
	return Result{Verdict: Missing, Path: filepath.Join(real, rel)}
}

func resolveLink(link, target string) string {
	if filepath.IsAbs(target) {
		return filepath.Clean(target)
	}
	return filepath.Join(filepath.Dir(link), target)
}

func within(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// PointsTo is where the host resolves p, for a message: its real path, or
// that of its longest prefix the caller may resolve with the rest joined
// (a link to /root points to /root/secret even where /root cannot be
// searched).
func PointsTo(p string) string {
	p = filepath.Clean(p)
	if real, err := filepath.EvalSymlinks(p); err == nil {
		return real
	}
	for dir, rest := filepath.Dir(p), filepath.Base(p); ; dir, rest = filepath.Dir(dir), filepath.Join(filepath.Base(dir), rest) {
		if real, err := filepath.EvalSymlinks(dir); err == nil {
			// dir resolves; its next component may still be a link hpr
			// can read but not follow (a link to a missing path).
			first, after, _ := strings.Cut(rest, "/")
			next := filepath.Join(real, first)
			if target, err := os.Readlink(next); err == nil {
				return filepath.Join(resolveLink(next, target), after)
			}
			return filepath.Join(real, rest)
		}
		if dir == "/" || dir == "." {
			return p
		}
	}
}

// MkdirAll creates the directory p (Missing below the root) and its
// missing parents as the calling user, each beneath the root, and returns
// Resolve's answer for p afterwards: a parent swapped for a symlink out
// meanwhile is refused by the kernel, not followed.
func (r Root) MkdirAll(p string, perm os.FileMode) Result {
	rel, ok := r.rel(filepath.Clean(p))
	if !ok {
		return Result{Verdict: Outside, Path: PointsTo(p)}
	}
	fd, err := r.open()
	if err != nil {
		return Result{Verdict: Unresolvable, Path: r.Real, Err: err}
	}
	defer unix.Close(fd)
	parts := strings.Split(rel, "/")
	for n := 1; n <= len(parts); n++ {
		parent := strings.Join(parts[:n-1], "/")
		dfd := fd
		if parent != "" {
			if dfd, err = unix.Openat2(fd, parent, &unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: how.Resolve}); err != nil {
				return resolveBeneath(fd, r.Real, rel)
			}
		}
		err = unix.Mkdirat(dfd, parts[n-1], uint32(perm.Perm()))
		if dfd != fd {
			unix.Close(dfd)
		}
		if err != nil && !errors.Is(err, unix.EEXIST) {
			res := resolveBeneath(fd, r.Real, rel)
			if res.Verdict == Missing {
				res = Result{Verdict: Unresolvable, Path: res.Path, Err: err}
			}
			return res
		}
	}
	return resolveBeneath(fd, r.Real, rel)
}
