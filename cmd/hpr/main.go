package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/hostpersist/hpr/runtime"
	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Exit codes, following docker run.
const (
	exitOK          = 0
	exitFailure     = 125 // hpr or the engine failed
	exitCannotRun   = 126
	exitNotFound    = 127
	exitInterrupted = 130
	exitTerminated  = 143
)

// exitError carries an exit code to main. A nil err with a code means the
// code speaks for itself (a container's own exit code).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// withCode wraps err so main exits with code.
func withCode(code int, err error) error {
	if err == nil && code == 0 {
		return nil
	}
	return &exitError{code: code, err: err}
}

func main() {
	start := time.Now()
	// The Podman bindings log through logrus (e.g. "Failed to close STDIN"
	// warnings); hpr reports what matters as errors of its own.
	logrus.SetOutput(io.Discard)
	ctx, stop := notifyContext(context.Background())
	defer stop()
	if os.Getenv("HPR_TRACE") == "1" {
		// How long each step took, for the benchmark (BENCHMARKS.md).
		ctx = runtime.WithTracer(ctx, runtime.NewTracer(os.Stderr, start))
	}
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes the CLI and returns the process exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCmd(&streams{in: stdin, out: stdout, err: stderr})
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ee *exitError
	hasCode := errors.As(err, &ee) && ee.code != exitFailure
	if sig := signalOf(ctx); sig != 0 && !hasCode {
		// What failed failed because the user stopped hpr (e.g. Ctrl-C while
		// it found the engine or built the image): that is the end to
		// report, as a shell does, not the call it cut short.
		return 128 + int(sig)
	}
	if ee != nil {
		if ee.err != nil {
			fmt.Fprintf(stderr, "hpr: %v\n", ee.err)
		}
		return ee.code
	}
	fmt.Fprintf(stderr, "hpr: %v\n", err)
	return exitFailure
}

// streams are the process's standard streams, injected for tests.
type streams struct {
	in  io.Reader
	out io.Writer
	err io.Writer
}

func newRootCmd(s *streams) *cobra.Command {
	root := &cobra.Command{
		Use:   "hpr",
		Short: "Run a project's dev container on any engine, with files owned by you",
		Long: `hpr runs a project's development container on whatever engine the machine
has — Docker or Podman, rootful or rootless — with the project directory
mounted at /app, and maps users so that every file the container writes
there is owned by you: never root, never a subuid.

A project is described by an hpr.toml (see 'hpr init'); 'hpr run' is the
daily command; 'hpr conformance' proves, engine by engine, that the mapping
holds on this machine.`,
		Example: `  hpr init                      # write a commented hpr.toml
  hpr run                       # build if needed, run the project's command
  hpr run --image debian:bookworm-slim -- ls -l
  hpr engines                   # which engines answer, and how each maps you
  hpr conformance               # prove the mapping on every engine`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(s.in)
	root.SetOut(s.out)
	root.SetErr(s.err)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%v (see '%s --help')", err, c.CommandPath())
	})
	root.AddCommand(newVersionCmd(s), newEnginesCmd(s), newRunCmd(s), newBuildCmd(s), newExecCmd(s), newShellCmd(s), newInitCmd(s), newGCCmd(s), newDoctorCmd(s), newConformanceCmd(s), newProbeCmd(s))
	return root
}
