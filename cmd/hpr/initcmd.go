package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

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
			content, err := initTemplate(cwd, service)
			if err != nil {
				return err
			}
			if err := writeNew(path, content, force); err != nil {
				return err
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

// writeNew writes content to path, which must not exist (with force: which
// may be a regular file). It never follows a symbolic link: a cloned
// project's hpr.toml may be one that points out of it (to ~/.bash_profile),
// dangling so that a stat says it is absent.
func writeNew(path, content string, force bool) error {
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL | syscall.O_NOFOLLOW
	if force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC | syscall.O_NOFOLLOW
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		if fi, lerr := os.Lstat(path); lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
			to, _ := os.Readlink(path)
			return fmt.Errorf("%s is a symbolic link to %s: hpr init does not write through it; remove it, then run hpr init", path, strconv.Quote(to))
		}
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s already exists: edit it, or pass --force to overwrite it", path)
		}
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if fi, err := f.Stat(); err == nil && !fi.Mode().IsRegular() {
		f.Close()
		return fmt.Errorf("%s is not a regular file: remove it, then run hpr init", path)
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
