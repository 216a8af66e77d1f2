package conformance

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// The test directory's layout. The host makes the fixture's files before the
// probe runs; the probe acts on them and makes its own; the host judges both.
// Paths are relative to the directory mounted at the project mount point
// (appDir) unless they say otherwise.
const (
	appDir       = "app"
	extraDir     = "mount with spaces ünïcødé 日本" // host path of the second mount
	imageUserDir = "image-user"                   // the mount of the USER-image run

	fCreated      = "created.txt"
	fNested       = "a/b/c/file.txt"
	fAppend       = "host-append.txt"
	fPrivate      = "host-private.txt"
	fDelete       = "host-delete.txt"
	dDelete       = "host-delete-dir"
	fRenameHost   = "host-rename.txt"
	fRenamedHost  = "host-renamed.txt"
	fRenameProbe  = "probe-rename.txt"
	fRenamedProbe = "probe-renamed.txt"
	fSymlink      = "symlink"
	fLinkTarget   = "host-link-target.txt"
	fHardlink     = "hardlink"
	fChmod        = "host-script.sh"
	fTimes        = "host-times.txt"
	fChild        = "child.txt"
	dWorld        = "world-writable"
	fWorld        = "world-writable/file.txt"

	// In the second mount and in the volume.
	fExtra       = "fïlé ü.txt"
	fExtraNested = "dïr ü/nested file.txt"
	fVolume      = "file.txt"
	fVolumeDir   = "dir/file.txt"

	appendHost   = "written by the host\n"
	appendProbe  = "appended by the probe\n"
	privateText  = "private to the host user\n"
	createdText  = "created by the probe\n"
	symlinkValue = fCreated
)

// fixedTime is what the probe sets host-times.txt's mtime to.
var fixedTime = time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)

// fixtureFile is one file or directory the host makes before the probe runs.
type fixtureFile struct {
	path    string
	dir     bool
	mode    fs.FileMode
	content string
}

// fixture is what the host makes in the app directory.
var fixture = []fixtureFile{
	{path: fAppend, mode: 0o644, content: appendHost},
	{path: fPrivate, mode: 0o600, content: privateText},
	{path: fDelete, mode: 0o644, content: "delete me\n"},
	{path: dDelete, dir: true, mode: 0o755},
	{path: dDelete + "/inner", dir: true, mode: 0o755},
	{path: dDelete + "/inner/file.txt", mode: 0o644, content: "delete me too\n"},
	{path: fRenameHost, mode: 0o644, content: "rename me\n"},
	{path: fLinkTarget, mode: 0o644, content: "link to me\n"},
	{path: fChmod, mode: 0o644, content: "#!/bin/sh\necho hi\n"},
	{path: fTimes, mode: 0o644, content: "touch me\n"},
	// The classic workaround for "Permission denied" in the project is
	// chmod 777; a wrong mapping then shows as a foreign owner, not an
	// error.
	{path: dWorld, dir: true, mode: 0o777},
}

// makeFixture creates root with the app, second-mount and USER-image
// directories, and the fixture in the app directory. Modes are set
// explicitly: the host's umask must not decide them.
func makeFixture(root string) error {
	for _, d := range []string{root, filepath.Join(root, appDir), filepath.Join(root, extraDir), filepath.Join(root, imageUserDir)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("making the test directory: %w", err)
		}
		if err := os.Chmod(d, 0o755); err != nil {
			return fmt.Errorf("making the test directory: %w", err)
		}
	}
	app := filepath.Join(root, appDir)
	for _, f := range fixture {
		p := filepath.Join(app, filepath.FromSlash(f.path))
		var err error
		if f.dir {
			err = os.Mkdir(p, f.mode)
		} else {
			err = os.WriteFile(p, []byte(f.content), f.mode)
		}
		if err == nil {
			err = os.Chmod(p, f.mode)
		}
		if err != nil {
			return fmt.Errorf("making the test directory: %w", err)
		}
	}
	return nil
}

// fileInfo is what the host sees of one path.
type fileInfo struct {
	UID, GID int
	Mode     fs.FileMode
	Ino      uint64
	Nlink    uint64
	ModTime  time.Time
	// Link is a symlink's target.
	Link string
	// Content is a small regular file's content.
	Content string
	// Err is why the path could not be seen (a directory that cannot be
	// read, say).
	Err string
}

// maxContent bounds the content observe keeps; the probe's files are tiny.
const maxContent = 4096

// observe walks root and returns what the host sees of every path below it,
// by slash-separated path relative to root ("." is root itself).
func observe(root string) map[string]fileInfo {
	seen := map[string]fileInfo{}
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		rel, rerr := filepath.Rel(root, p)
		if rerr != nil {
			return nil
		}
		rel = filepath.ToSlash(rel)
		if err != nil {
			fi := seen[rel]
			fi.Err = err.Error()
			seen[rel] = fi
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		seen[rel] = statPath(p)
		return nil
	})
	return seen
}

// statPath returns what the host sees of one path, without following a
// symlink.
func statPath(p string) fileInfo {
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		return fileInfo{Err: err.Error()}
	}
	fi := fileInfo{
		UID: int(st.Uid), GID: int(st.Gid), Ino: st.Ino, Nlink: uint64(st.Nlink),
		ModTime: time.Unix(st.Mtim.Sec, st.Mtim.Nsec),
	}
	fi.Mode = fs.FileMode(st.Mode & 0o777)
	if st.Mode&syscall.S_ISVTX != 0 {
		fi.Mode |= fs.ModeSticky
	}
	switch st.Mode & syscall.S_IFMT {
	case syscall.S_IFDIR:
		fi.Mode |= fs.ModeDir
	case syscall.S_IFLNK:
		fi.Mode |= fs.ModeSymlink
		fi.Link, _ = os.Readlink(p)
	case syscall.S_IFREG:
		if st.Size <= maxContent {
			if f, err := os.Open(p); err == nil {
				b, _ := io.ReadAll(io.LimitReader(f, maxContent))
				f.Close()
				fi.Content = string(b)
			}
		}
	default:
		fi.Mode |= fs.ModeIrregular
	}
	return fi
}

// removeAll removes root; it reports whether anything is left.
func removeAll(root string) error {
	err := os.RemoveAll(root)
	if err == nil {
		return nil
	}
	if _, serr := os.Lstat(root); errors.Is(serr, fs.ErrNotExist) {
		return nil
	}
	return err
}
