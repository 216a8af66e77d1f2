package podman

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	buildahDefine "github.com/containers/buildah/define"
	"github.com/containers/podman/v5/pkg/bindings/images"
	"github.com/containers/podman/v5/pkg/domain/entities/types"

	"github.com/hostpersist/hpr/runtime"
	"github.com/hostpersist/hpr/runtime/dockerfile"
)

// Build builds an image with Buildah inside the service. It never pulls:
// every base image must exist first, or Build fails with an error wrapping
// runtime.ErrNotFound that names it. The bindings read .dockerignore (or
// .containerignore, or <Dockerfile>.dockerignore) from the context and leave
// excluded files out of the upload.
func (e *Engine) Build(ctx context.Context, opts runtime.BuildOptions) error {
	file := opts.Dockerfile
	if file == "" {
		file = "Dockerfile"
	}
	if !filepath.IsAbs(file) {
		file = filepath.Join(opts.ContextDir, file)
	}
	content, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("building %s: %w", opts.Tag, err)
	}
	bases, err := dockerfile.BaseImages(content, opts.Args)
	if err != nil {
		return fmt.Errorf("building %s: parsing %s: %w", opts.Tag, file, err)
	}
	if err := e.checkBases(ctx, bases); err != nil {
		return fmt.Errorf("building %s: %w", opts.Tag, err)
	}

	out := opts.Output
	if out == nil {
		out = io.Discard // the bindings write to os.Stdout otherwise
	}
	var labels []string
	for k, v := range opts.Labels {
		labels = append(labels, k+"="+v)
	}
	slices.Sort(labels)
	bo := types.BuildOptions{BuildOptions: buildahDefine.BuildOptions{
		ContextDirectory:       opts.ContextDir,
		Output:                 opts.Tag,
		Args:                   opts.Args,
		Labels:                 labels,
		Target:                 opts.Target,
		PullPolicy:             buildahDefine.PullNever,
		Layers:                 true,
		RemoveIntermediateCtrs: true,
		// Buildah keeps a failed stage's working container (and its
		// mounted overlay) unless told to remove it whatever happens; a
		// build hpr stops (Ctrl-C) fails in the service once its client
		// has gone, so without this every interrupted build leaves one.
		ForceRmIntermediateCtrs: true,
		Out:                     out,
		Err:                     out,
		ReportWriter:            out,
	}}
	c, cancel := e.call(ctx)
	defer cancel()
	err = untilDone(ctx, func() error {
		_, err := images.Build(c, []string{file}, bo)
		return err
	})
	if err != nil {
		return fmt.Errorf("building %s: %w", opts.Tag, e.translate(ctx, err))
	}
	return nil
}

// checkBases fails, wrapping runtime.ErrNotFound, on the first base image
// the engine does not have.
func (e *Engine) checkBases(ctx context.Context, bases []string) error {
	c, cancel := e.call(ctx)
	defer cancel()
	for _, b := range bases {
		ok, err := images.Exists(c, b, nil)
		if err != nil {
			return fmt.Errorf("checking base image %s: %w", b, e.translate(ctx, err))
		}
		if !ok {
			return &apiError{kind: runtime.ErrNotFound, msg: fmt.Sprintf("base image %s not found on %s; import or build it first — hpr never pulls", b, e.endpoint)}
		}
	}
	return nil
}
