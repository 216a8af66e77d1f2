package main

import (
	"strings"

	"github.com/hostpersist/hpr/conformance"
	"github.com/spf13/cobra"
)

type probeOptions struct {
	probe conformance.ProbeOptions
	steps string
	child string
	clean string
}

// newProbeCmd is the in-container side of `hpr conformance`: hidden, run by
// hpr inside the probe container, never by hand.
func newProbeCmd(s *streams) *cobra.Command {
	var o probeOptions
	cmd := &cobra.Command{
		Use:    "probe [--app DIR] [--extra DIR] [--volume DIR] [--steps ID,...]",
		Short:  "The in-container side of hpr conformance (run by hpr inside a container)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			switch {
			case o.child != "":
				err = conformance.ProbeChild(o.child)
			case o.clean != "":
				err = conformance.Clean(o.clean)
			default:
				if o.steps != "" {
					o.probe.Steps = strings.Split(o.steps, ",")
				}
				err = conformance.Probe(s.out, o.probe)
			}
			if err != nil {
				return err
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.probe.App, "app", "/app", "the project mount")
	f.StringVar(&o.probe.Extra, "extra", "", "a second mount, whose host path has spaces and non-ASCII characters")
	f.StringVar(&o.probe.Volume, "volume", "", "where a named volume is mounted")
	f.StringVar(&o.steps, "steps", "", "comma-separated steps to run (default all)")
	f.StringVar(&o.child, "child", "", "write this file and exit (the probe's child process)")
	f.StringVar(&o.clean, "clean", "", "remove everything inside this directory")
	return cmd
}
