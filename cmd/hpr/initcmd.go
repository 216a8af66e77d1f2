package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/hostpersist/hpr/project"
	"github.com/spf13/cobra"
)

func newInitCmd(s *streams) *cobra.Command {
	var (
		force   bool
		service string
	)
	cmd := &cobra.Command{
		Use:   "init [--force] [--service NAME]",
		Short: "Write a commented hpr.toml in the current directory",
		Long: `Write a commented hpr.toml in the current directory. When a compose file is
there (compose.yaml, docker-compose.yml, ...), the hpr.toml points at it and
at its dev service (the one that bind-mounts the project, or --service),
with what hpr takes from it shown as comments. Otherwise, when a Dockerfile
is there, the project builds it; else edit [image] ref.`,
		Example: `  hpr init && hpr run`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cwd, err := os.Getwd()
			if err != nil {
				return err
			}
			path := filepath.Join(cwd, project.FileName)
			if _, err := os.Stat(path); err == nil && !force {
				return fmt.Errorf("%s already exists: edit it, or pass --force to overwrite it", path)
			}
			content, err := initTemplate(cwd, service)
			if err != nil {
				return err
			}
			if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
				return fmt.Errorf("writing %s: %w", path, err)
			}
			fmt.Fprintf(s.out, "wrote %s\n", path)
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "overwrite an existing hpr.toml")
	cmd.Flags().StringVar(&service, "service", "", "the compose service to run (default: the one that bind-mounts the project directory)")
	return cmd
}

// initTemplate is the hpr.toml for directory dir: one pointing at the
// compose file there, or the commented template.
func initTemplate(dir, service string) (string, error) {
	for _, n := range project.ComposeNames {
		f := filepath.Join(dir, n)
		if _, err := os.Stat(f); err != nil {
			continue
		}
		p, err := project.LoadCompose([]string{f}, project.ComposeOptions{Service: service, Overrides: true})
		if err != nil {
			return "", err
		}
		return project.ComposeTemplate(p, dir), nil
	}
	_, err := os.Stat(filepath.Join(dir, "Dockerfile"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	return project.Template(err == nil, filepath.Base(dir)), nil
}
