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
// may be a regular file). It never writes through a link: a cloned
// project's hpr.toml may be a symbolic link out of it (to ~/.bash_profile),
// dangling so that a stat says it is absent, or a hard link a tarball made.
func writeNew(path, content string, force bool) error {
	fi, err := os.Lstat(path)
	switch {
	case err == nil && fi.Mode()&fs.ModeSymlink != 0:
		to, _ := os.Readlink(path)
		return fmt.Errorf("%s is a symbolic link to %s: hpr init does not write through it; remove it, then run hpr init", path, strconv.Quote(to))
	case err == nil && !force:
		return fmt.Errorf("%s already exists: edit it, or pass --force to overwrite it", path)
	case err == nil && !fi.Mode().IsRegular():
		return fmt.Errorf("%s is not a regular file: remove it, then run hpr init", path)
	case err == nil:
		return replaceFile(path, content)
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("writing %s: %w", path, err)
	}
	// O_EXCL fails on any link, dangling or not, that appeared since.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o644)
	if err != nil {
		return fmt.Errorf("writing %s: %w (remove it, then run hpr init)", path, err)
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

// replaceFile puts a new file with content at path by renaming one over it:
// the old name goes, and whatever else it was linked to stays as it was.
func replaceFile(path, content string) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".hpr.toml-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(f.Name())
	_, err = f.WriteString(content)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
