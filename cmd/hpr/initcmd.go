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
	var force bool
	cmd := &cobra.Command{
		Use:   "init [--force]",
		Short: "Write a commented hpr.toml in the current directory",
		Long: `Write a commented hpr.toml in the current directory. When a Dockerfile is
there, the project builds it; otherwise edit [image] ref.`,
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
			_, err = os.Stat(filepath.Join(cwd, "Dockerfile"))
			hasDockerfile := err == nil
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			if err := os.WriteFile(path, []byte(project.Template(hasDockerfile, filepath.Base(cwd))), 0o644); err != nil {
				return fmt.Errorf("writing %s: %w", path, err)
			}
			fmt.Fprintf(s.out, "wrote %s\n", path)
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "overwrite an existing hpr.toml")
	return cmd
}
