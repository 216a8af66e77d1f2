package main

import (
	"fmt"
	"slices"

	"github.com/hostpersist/hpr/project"
	"github.com/spf13/cobra"
)

func newBuildCmd(s *streams) *cobra.Command {
	var (
		engine, remoteRoot string
		force              bool
		compose            composeFlags
	)
	cmd := &cobra.Command{
		Use:   "build [--engine E] [--force]",
		Short: "Build the project's image (only when its build inputs changed)",
		Long: `Build the image of a project whose hpr.toml has [image] build, with UID and
GID build args set to the container-side ids that land on the host as you on
the chosen engine (on a remote engine: as the owner of --remote-root or
[engine] remote_root there). Nothing is built when the build inputs (Dockerfile, args,
.dockerignore, the files COPY and ADD use) are unchanged, unless --force.
The image is tagged hpr-<name>:<hash of the inputs>; its tag is printed. In
a compose project the services the dev service depends on that build are
built too.`,
		Example: `  hpr build
  hpr build --force --engine podman`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			sess, err := openSession(cmd.Context(), sessionOptions{engine: engine, require: project.RequireFile, remoteRoot: remoteRoot, onHost: true, compose: compose})
			if err != nil {
				return err
			}
			defer sess.Close()
			// A compose project's companions that build are built too.
			builds := []*project.Project{sess.proj}
			for _, c := range sess.proj.Companions {
				builds = append(builds, c.Project)
			}
			builds = slices.DeleteFunc(builds, func(p *project.Project) bool { return !p.Image.Building() })
			if len(builds) == 0 {
				return fmt.Errorf("%s has no [image] build: nothing to build (it runs %s)", sess.proj.Path, sess.proj.Image.Ref)
			}
			policy := project.BuildIfChanged
			if force {
				policy = project.BuildAlways
			}
			sess.resolver.BuildOutput = s.err
			for _, p := range builds {
				img, err := sess.resolver.Image(cmd.Context(), p, policy)
				if err != nil {
					return err
				}
				fmt.Fprintln(s.out, img.Ref)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&engine, "engine", "", engineHelp)
	cmd.Flags().StringVar(&remoteRoot, "remote-root", "", remoteRootHelp)
	cmd.Flags().BoolVar(&force, "force", false, "build even if the inputs are unchanged")
	compose.add(cmd.Flags())
	return cmd
}
