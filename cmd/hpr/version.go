package main

import (
	"fmt"
	goruntime "runtime"

	"github.com/spf13/cobra"
)

func newVersionCmd(s *streams) *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print hpr's version",
		Args:    cobra.NoArgs,
		Example: "  hpr version",
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(s.out, "hpr %s %s/%s %s\n", version, goruntime.GOOS, goruntime.GOARCH, goruntime.Version())
			return err
		},
	}
}
