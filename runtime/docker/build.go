package docker

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/pkg/jsonmessage"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"

	"github.com/hostpersist/hpr/runtime"
	"github.com/hostpersist/hpr/runtime/dockerfile"
)

// Build builds an image with the daemon's classic builder. Docker's build API
// has no never-pull switch, so every base image is checked first: a missing
// one is an ErrNotFound naming it.
func (e *Engine) Build(ctx context.Context, opts runtime.BuildOptions) error {
	dfPath := opts.Dockerfile
	if dfPath == "" {
		dfPath = "Dockerfile"
	}
	dfPath = filepath.ToSlash(filepath.Clean(dfPath))
	if !filepath.IsLocal(dfPath) {
		return fmt.Errorf("building %s: Dockerfile %s is outside the context %s", opts.Tag, opts.Dockerfile, opts.ContextDir)
	}
	src, err := os.ReadFile(filepath.Join(opts.ContextDir, dfPath))
	if err != nil {
		return fmt.Errorf("building %s: %w", opts.Tag, err)
	}
	bases, err := dockerfile.BaseImages(src, opts.Args)
	if err != nil {
		return fmt.Errorf("building %s: parsing %s: %w", opts.Tag, dfPath, err)
	}
	for _, ref := range bases {
		if _, err := e.c.ImageInspect(ctx, ref); err != nil {
			if err := e.translate(err); errors.Is(err, runtime.ErrNotFound) {
				return fmt.Errorf("building %s: %w: base image %s not found on %s; import or build it first — hpr never pulls", opts.Tag, runtime.ErrNotFound, ref, e.endpoint)
			}
			return fmt.Errorf("building %s: inspecting base image %s: %w", opts.Tag, ref, e.translate(err))
		}
	}

	pr, pw := io.Pipe()
	defer pr.Close()
	// The client reports a failed read of the request body as its own
	// failure, an EACCES translate would take for the socket's: a context
	// hpr cannot read is said as such.
	ctxErr := make(chan error, 1)
	go func() {
		err := writeContext(pw, opts.ContextDir, dfPath)
		ctxErr <- err
		pw.CloseWithError(err)
	}()

	args := make(map[string]*string, len(opts.Args))
	for k, v := range opts.Args {
		args[k] = &v
	}
	var tags []string
	if opts.Tag != "" {
		tags = []string{opts.Tag}
	}
	resp, err := e.c.ImageBuild(ctx, pr, build.ImageBuildOptions{
		Tags:        tags,
		Dockerfile:  dfPath,
		BuildArgs:   args,
		Labels:      opts.Labels,
		Target:      opts.Target,
		Remove:      true,
		ForceRemove: true, // no intermediate containers left behind, not even after a failure
		PullParent:  false,
		Version:     build.BuilderV1,
	})
	if err != nil {
		select {
		case cerr := <-ctxErr:
			if errors.Is(cerr, fs.ErrPermission) {
				return fmt.Errorf("building %s: %w (make it readable, or leave it out with .dockerignore)", opts.Tag, cerr)
			}
			if cerr != nil {
				return fmt.Errorf("building %s: %w", opts.Tag, cerr)
			}
		default:
		}
		return fmt.Errorf("building %s: %w", opts.Tag, e.translate(err))
	}
	defer resp.Body.Close()
	out := opts.Output
	if out == nil {
		out = io.Discard
	}
	if err := jsonmessage.DisplayJSONMessagesStream(resp.Body, out, 0, false, nil); err != nil {
		return fmt.Errorf("building %s: %w", opts.Tag, e.translate(err))
	}
	return nil
}

// writeContext writes the build context in dir as a tar stream, leaving out
// what .dockerignore excludes — but never the Dockerfile or .dockerignore,
// which the daemon needs. Files are owned by root in the stream, as with
// docker build.
func writeContext(w io.Writer, dir, dockerfile string) error {
	var patterns []string
	if f, err := os.Open(filepath.Join(dir, ".dockerignore")); err == nil {
		patterns, err = ignorefile.ReadAll(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("reading .dockerignore: %w", err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("reading .dockerignore: %w", err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return fmt.Errorf("reading .dockerignore: %w", err)
	}
	// needed reports the files that must be sent, and the directories
	// holding them.
	needed := func(rel string) bool {
		return rel == dockerfile || rel == ".dockerignore" || strings.HasPrefix(dockerfile, rel+"/")
	}

	tw := tar.NewWriter(w)
	parents := map[string]patternmatcher.MatchInfo{}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		excluded, info, err := pm.MatchesUsingParentResults(rel, parents[path.Dir(rel)])
		if err != nil {
			return fmt.Errorf("matching %s against .dockerignore: %w", rel, err)
		}
		if d.IsDir() {
			parents[rel] = info
		}
		if excluded && !needed(rel) {
			if d.IsDir() && !pm.Exclusions() {
				return filepath.SkipDir
			}
			return nil // a later !pattern may still take something below it
		}
		return addFile(tw, p, rel, d)
	})
	if err != nil {
		return fmt.Errorf("reading build context %s: %w", dir, err)
	}
	return tw.Close()
}

// addFile writes one directory, regular file or symlink to tw; other kinds
// of files are left out.
func addFile(tw *tar.Writer, p, rel string, d fs.DirEntry) error {
	fi, err := d.Info()
	if err != nil {
		return err
	}
	var link string
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		if link, err = os.Readlink(p); err != nil {
			return err
		}
	case fi.IsDir(), fi.Mode().IsRegular():
	default:
		return nil
	}
	hdr, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return err
	}
	hdr.Name = rel
	if fi.IsDir() {
		hdr.Name += "/"
	}
	hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
	hdr.ModTime = hdr.ModTime.Truncate(time.Second)
	hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return nil
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.CopyN(tw, f, hdr.Size); err != nil {
		return fmt.Errorf("%s changed while being read: %w", rel, err)
	}
	return nil
}
