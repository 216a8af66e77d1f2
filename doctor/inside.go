package doctor

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"syscall"
)

// The list the fixing container reads: NUL-terminated entries (paths may
// hold any other byte, newlines included), each a flag byte and a path
// relative to the mount. 'f' changes the path itself; 'r' also everything
// below it (a directory the host user could not list).
const (
	entryOne  = 'f'
	entryTree = 'r'
)

// EncodeList is the list of files for the fixing container.
func EncodeList(files []File) []byte {
	var b bytes.Buffer
	for _, f := range files {
		flag := byte(entryOne)
		if f.Dir && f.Unreadable {
			flag = entryTree
		}
		b.WriteByte(flag)
		b.WriteString(f.Path)
		b.WriteByte(0)
	}
	return b.Bytes()
}

type entry struct {
	path string
	tree bool
}

// decodeList parses EncodeList's output.
func decodeList(data []byte) ([]entry, error) {
	var out []entry
	for len(data) > 0 {
		i := bytes.IndexByte(data, 0)
		if i < 0 {
			return nil, errors.New("reading the list: the last entry is not NUL-terminated")
		}
		e := data[:i]
		data = data[i+1:]
		if len(e) < 2 || (e[0] != entryOne && e[0] != entryTree) {
			return nil, fmt.Errorf("reading the list: malformed entry %q", e)
		}
		p := string(e[1:])
		if p != "." && !fs.ValidPath(p) {
			return nil, fmt.Errorf("reading the list: %q is not a path relative to the project", p)
		}
		out = append(out, entry{path: p, tree: e[0] == entryTree})
	}
	return out, nil
}

// InsideReport is what the fixing container did, printed as JSON.
type InsideReport struct {
	// Fixed is how many paths it handed back.
	Fixed int `json:"fixed"`
	// Kept is how many were the user's already and were left untouched.
	Kept int `json:"kept"`
	// Gone is how many listed paths no longer exist.
	Gone   int       `json:"gone"`
	Failed []Failure `json:"failed"`
}

// Failure is a path the fixing container could not hand back.
type Failure struct {
	Path  string `json:"path"`
	Error string `json:"error"`
}

// Inside is the fixing container's side: it gives every listed path under
// dir that uid does not own already the owner uid:gid, without following
// symlinks (os.Root keeps every step inside dir) and keeping the mode
// (chown clears setuid and setgid bits; they are put back). Below an 'r'
// entry it does the same for everything, except files with several hard
// links, whose other links the host never saw. Paths owned by uid are not
// touched at all.
func Inside(dir string, list []byte, uid, gid int) (InsideReport, error) {
	entries, err := decodeList(list)
	if err != nil {
		return InsideReport{}, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return InsideReport{}, fmt.Errorf("opening %s: %w", dir, err)
	}
	defer root.Close()
	r := InsideReport{Failed: []Failure{}}
	for _, e := range entries {
		r.fix(root, e.path, uid, gid, false)
		if !e.tree {
			continue
		}
		err := fs.WalkDir(root.FS(), e.path, func(p string, d fs.DirEntry, err error) error {
			if p == e.path {
				return err
			}
			if err != nil {
				r.Failed = append(r.Failed, Failure{p, unwrapPath(err).Error()})
				return nil
			}
			r.fix(root, p, uid, gid, true)
			return nil
		})
		if err != nil {
			r.Failed = append(r.Failed, Failure{e.path, "listing it: " + unwrapPath(err).Error()})
		}
	}
	return r, nil
}

// fix hands one path back unless uid owns it already. unlisted is a path the
// host did not see (below an unreadable directory): one with hard links is
// left alone.
func (r *InsideReport) fix(root *os.Root, p string, uid, gid int, unlisted bool) {
	fi, err := root.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		r.Gone++
		return
	}
	if err != nil {
		r.Failed = append(r.Failed, Failure{p, unwrapPath(err).Error()})
		return
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		r.Failed = append(r.Failed, Failure{p, "no owner information"})
		return
	}
	if int(st.Uid) == uid {
		r.Kept++
		return
	}
	if unlisted && !fi.IsDir() && st.Nlink > 1 {
		r.Failed = append(r.Failed, Failure{p, fmt.Sprintf("has %d hard links; left alone until hpr doctor can see where they are (run it again)", st.Nlink)})
		return
	}
	if err := root.Lchown(p, uid, gid); err != nil {
		r.Failed = append(r.Failed, Failure{p, explainChown(unwrapPath(err))})
		return
	}
	mode := fi.Mode()
	if mode&fs.ModeSymlink == 0 && mode&(fs.ModeSetuid|fs.ModeSetgid) != 0 {
		if err := root.Chmod(p, mode&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
			r.Failed = append(r.Failed, Failure{p, "restoring its mode after the owner change: " + unwrapPath(err).Error()})
			return
		}
	}
	r.Fixed++
}

func explainChown(err error) string {
	s := "changing the owner: " + err.Error()
	if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EINVAL) {
		s += " (this engine's user namespace does not map the file's owner)"
	}
	if errors.Is(err, syscall.EROFS) {
		s += " (read-only file system)"
	}
	return strings.TrimSpace(s)
}
