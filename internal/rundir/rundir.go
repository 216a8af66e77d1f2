package rundir

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// Path is hpr's directory for this user's sockets and locks:
// $XDG_RUNTIME_DIR/hpr, else hpr-UID in the temporary directory. It may not
// exist yet; Make makes it.
func Path() string {
	if base := os.Getenv("XDG_RUNTIME_DIR"); base != "" {
		return filepath.Join(base, "hpr")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("hpr-%d", os.Getuid()))
}

// Make makes directory sub of Path ("" for Path itself), mode 0700 where
// missing, and returns it when both it and Path are private: directories,
// not symlinks, of this user's, that no one else may write to. In a shared
// temporary directory another user could have made hpr-UID first.
func Make(sub string) (string, error) {
	dir := filepath.Join(Path(), sub)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	for _, d := range []string{Path(), dir} {
		if err := private(d); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// private says why d is not a directory of this user's that no one else may
// write to; nil when it is.
func private(d string) error {
	var st syscall.Stat_t
	if err := syscall.Lstat(d, &st); err != nil {
		return &os.PathError{Op: "lstat", Path: d, Err: err}
	}
	switch {
	case st.Mode&syscall.S_IFMT != syscall.S_IFDIR:
		return fmt.Errorf("%s is not a directory", d)
	case int(st.Uid) != os.Getuid():
		return fmt.Errorf("%s belongs to uid %d, not to you (uid %d)", d, st.Uid, os.Getuid())
	case st.Mode&0o022 != 0:
		return fmt.Errorf("%s may be written by others (mode %#o): chmod go-w it", d, st.Mode&0o777)
	}
	return nil
}
