package doctor

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"unicode"
)

// File is one path under a scanned root that is not owned by the host user.
type File struct {
	// Path is relative to the root, slash separated; "." is the root itself.
	Path string
	UID  int
	GID  int
	Dir  bool
	// Unreadable is a directory the host user cannot list: what is inside
	// is unknown, and Fix hands it back with everything in it.
	Unreadable bool
	// SharedLinks is a non-directory with hard links outside the root.
	// Changing its owner would change theirs too, so Fix leaves it alone.
	SharedLinks bool
}

// Display is f's path as hpr prints it: directories end in "/", and a path
// with characters that do not print (a newline) is quoted.
func (f File) Display() string {
	p := f.Path
	if f.Dir && p != "." {
		p += "/"
	}
	if strings.ContainsFunc(p, func(r rune) bool { return !unicode.IsPrint(r) }) {
		return strconv.Quote(p)
	}
	return p
}

// Scan is what a walk of a project found.
type Scan struct {
	// Root is the directory walked.
	Root string
	// UID is the host user the files were compared with.
	UID int
	// Seen is how many paths were inspected.
	Seen int
	// Files are the paths not owned by UID, in walk order.
	Files []File
	// Problems are paths of the user's own that could not be inspected (a
	// directory of yours you cannot read), one line each.
	Problems []string
}

// ScanDir walks root without following symlinks and returns every path
// whose owner is not uid. A directory that cannot be read is reported: as a
// File marked Unreadable when it is not uid's, as a Problem when it is.
func ScanDir(root string, uid int) (*Scan, error) {
	s := &Scan{Root: root, UID: uid}
	type inode struct{ dev, ino uint64 }
	type linked struct {
		idx   int
		nlink uint64
	}
	links := map[inode]*linked{}
	seen := map[inode]int{}
	index := map[string]int{} // Path → index in s.Files
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		rel, rerr := filepath.Rel(root, p)
		if rerr != nil {
			return rerr
		}
		rel = filepath.ToSlash(rel)
		if err != nil {
			if d == nil || !d.IsDir() {
				if p == root {
					return err
				}
				if errors.Is(err, fs.ErrNotExist) {
					return nil // removed while walking
				}
				s.Problems = append(s.Problems, fmt.Sprintf("%s: %v", rel, err))
				return nil
			}
			// The second call for a directory: listing it failed.
			if i, ok := index[rel]; ok {
				s.Files[i].Unreadable = true
			} else {
				s.Problems = append(s.Problems, fmt.Sprintf("%s/: cannot list it: %v", rel, unwrapPath(err)))
			}
			return nil
		}
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			if p == root {
				return err
			}
			s.Problems = append(s.Problems, fmt.Sprintf("%s: %v", rel, unwrapPath(err)))
			return nil
		}
		s.Seen++
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return fmt.Errorf("%s: no owner information on this platform", p)
		}
		if !fi.IsDir() && st.Nlink > 1 {
			seen[inode{st.Dev, st.Ino}]++
		}
		if int(st.Uid) == uid {
			return nil
		}
		f := File{Path: rel, UID: int(st.Uid), GID: int(st.Gid), Dir: fi.IsDir()}
		index[rel] = len(s.Files)
		if !fi.IsDir() && st.Nlink > 1 {
			links[inode{st.Dev, st.Ino}] = &linked{len(s.Files), uint64(st.Nlink)}
		}
		s.Files = append(s.Files, f)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scanning %s: %w", root, err)
	}
	for k, l := range links {
		if uint64(seen[k]) < l.nlink {
			s.Files[l.idx].SharedLinks = true
		}
	}
	return s, nil
}

// unwrapPath drops the operation and path a *fs.PathError repeats.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Owner is a host uid:gid pair seen on files.
type Owner struct {
	UID int
	GID int
}

func (o Owner) String() string { return fmt.Sprintf("%d:%d", o.UID, o.GID) }

// Group is the files of one owner.
type Group struct {
	Owner
	// Files are sorted shallow first, then by path, so that the examples
	// name the top of what a container left (a directory before its
	// contents).
	Files []File
}

// Groups returns the files grouped by owner, ordered by uid then gid.
func Groups(files []File) []Group {
	by := map[Owner][]File{}
	for _, f := range files {
		o := Owner{f.UID, f.GID}
		by[o] = append(by[o], f)
	}
	out := make([]Group, 0, len(by))
	for o, fs := range by {
		slices.SortFunc(fs, func(a, b File) int {
			return cmp.Or(cmp.Compare(depth(a.Path), depth(b.Path)), strings.Compare(a.Path, b.Path))
		})
		out = append(out, Group{Owner: o, Files: fs})
	}
	slices.SortFunc(out, func(a, b Group) int {
		return cmp.Or(cmp.Compare(a.UID, b.UID), cmp.Compare(a.GID, b.GID))
	})
	return out
}

func depth(p string) int {
	if p == "." {
		return 0
	}
	return strings.Count(p, "/") + 1
}

// Examples returns up to n of g's paths for display.
func (g Group) Examples(n int) []string {
	var out []string
	for _, f := range g.Files[:min(n, len(g.Files))] {
		s := f.Display()
		switch {
		case f.Unreadable:
			s += " (unreadable: contents unknown)"
		case f.SharedLinks:
			s += " (hard-linked outside the project)"
		}
		out = append(out, s)
	}
	return out
}

// Fixable returns the files of g a container may hand back: all but those
// with hard links outside the project.
func (g Group) Fixable() []File {
	var out []File
	for _, f := range g.Files {
		if !f.SharedLinks {
			out = append(out, f)
		}
	}
	return out
}
