package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/hostpersist/hpr/project"
	"github.com/hostpersist/hpr/runtime"
	"github.com/spf13/cobra"
)

func newExecCmd(s *streams) *cobra.Command {
	var (
		engine  string
		compose composeFlags
	)
	cmd := &cobra.Command{
		Use:   "exec [--engine E] [--] CMD...",
		Short: "Run a command in the project's running container, as the mapped user",
		Long: `Run a command in the container 'hpr run' started for this project, as the
same user, in the directory matching where you are below the project root.`,
		Example: `  hpr exec -- ls -l _site
  hpr exec bundle exec jekyll doctor`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runExec(cmd.Context(), s, sessionOptions{engine: engine, compose: compose}, args)
		},
	}
	cmd.Flags().SetInterspersed(false)
	cmd.Flags().StringVar(&engine, "engine", "", engineHelp)
	compose.add(cmd.Flags())
	return cmd
}

func newShellCmd(s *streams) *cobra.Command {
	var (
		engine  string
		compose composeFlags
	)
	cmd := &cobra.Command{
		Use:     "shell [--engine E]",
		Short:   "Open a shell in the project's running container, as the mapped user",
		Example: `  hpr shell`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runExec(cmd.Context(), s, sessionOptions{engine: engine, compose: compose}, []string{"sh", "-c", `exec "${SHELL:-$(command -v bash || echo sh)}" -l`})
		},
	}
	cmd.Flags().StringVar(&engine, "engine", "", engineHelp)
	compose.add(cmd.Flags())
	return cmd
}

func runExec(ctx context.Context, s *streams, o sessionOptions, args []string) error {
	o.require = project.RequireFile
	sess, err := openSession(ctx, o)
	if err != nil {
		return err
	}
	defer sess.Close()
	c, err := sess.running(ctx)
	if err != nil {
		return err
	}
	workdir, err := sess.proj.WorkDir(sess.cwd)
	if err != nil {
		return err
	}
	stdin, tty := terminal(s)
	streams := runtime.Streams{Stdout: s.out, Stderr: s.err, TTY: tty}
	if tty || stdinHasData(s.in) {
		streams.Stdin = s.in
	}
	var sizes <-chan runtime.TermSize
	if tty {
		restore, resize, err := rawTerminal(stdin)
		if err != nil {
			return err
		}
		defer restore()
		sizes = resize
	}
	// Pass signals on to the command instead of leaving it running when hpr
	// ends; runtime.Exec escalates to SIGKILL as hpr run does.
	sigs, stop, early := passedOn(ctx)
	defer stop()
	if early != 0 {
		return withCode(128+int(early), nil)
	}
	// The exec ends when its command does: the signals, not the command's
	// context, stop it.
	code, err := runtime.Exec(context.WithoutCancel(ctx), sess.engine, c.ID, runtime.ExecOptions{
		Spec: runtime.ExecSpec{
			Cmd: args, WorkingDir: workdir, User: c.Labels[runtime.LabelUser], Streams: streams,
		},
		Signals: sigs,
		Resize:  sizes,
	})
	if err != nil {
		return fmt.Errorf("exec in %s: %w", c.Name, err)
	}
	return withCode(code, nil)
}

// running returns the project's running container on the session's engine.
// A container a live hpr run is starting (created: the command may already
// run before the engine says so) is waited for, up to startWait.
func (sess *session) running(ctx context.Context) (runtime.Container, error) {
	host, _ := os.Hostname()
	deadline := time.Now().Add(startWait)
	for {
		cs, err := sess.engine.List(ctx, map[string]string{runtime.LabelProject: sess.proj.RealRoot})
		if err != nil {
			return runtime.Container{}, fmt.Errorf("listing containers: %w", err)
		}
		starting := false
		for _, c := range cs {
			if c.Labels[runtime.LabelCompanion] != "" {
				continue // a service the project's container depends on
			}
			if c.State == "running" {
				return c, nil
			}
			starting = starting || c.State == "created" && !stale(c, host)
		}
		if !starting || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return runtime.Container{}, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return runtime.Container{}, fmt.Errorf("no running container for %s on %s: start one with `hpr run`", sess.proj.Root, sess.engine.About.Endpoint)
}

// startWait bounds how long hpr exec waits for a container being started.
const startWait = 5 * time.Second
