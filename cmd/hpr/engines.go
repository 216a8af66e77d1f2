package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"text/tabwriter"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/runtime/detect"
	"github.com/spf13/cobra"
)

type enginesOptions struct {
	engines []string
	json    bool
}

// engineReport is one engine as `hpr engines --json` prints it.
type engineReport struct {
	Endpoint      string      `json:"endpoint"`
	Source        string      `json:"source"`
	Kind          idmap.Kind  `json:"kind"`
	Mode          idmap.Mode  `json:"mode"`
	Version       string      `json:"version"`
	APIVersion    string      `json:"api_version"`
	OS            string      `json:"os"`
	Arch          string      `json:"arch"`
	StorageDriver string      `json:"storage_driver"`
	Local         bool        `json:"local"`
	Plan          *idmap.Plan `json:"plan,omitempty"`
	Explanation   string      `json:"explanation,omitempty"`
	PlanError     string      `json:"plan_error,omitempty"`
}

type unreachableReport struct {
	Endpoint string `json:"endpoint"`
	Source   string `json:"source"`
	Error    string `json:"error"`
}

func newEnginesCmd(s *streams) *cobra.Command {
	var o enginesOptions
	cmd := &cobra.Command{
		Use:   "engines [--engine E]... [--json]",
		Short: "List the engines that answer, their mode, and how each maps you",
		Long: `List every container engine that answers for you — the standard sockets
($XDG_RUNTIME_DIR/podman/podman.sock, $XDG_RUNTIME_DIR/docker.sock,
/var/run/docker.sock, /run/podman/podman.sock), CONTAINER_HOST and
DOCKER_HOST — with its mode (docker-rootful, docker-userns-remap,
docker-rootless, podman-rootless, podman-rootful), its version, and the plan
hpr makes for it: which container user lands files in the project as you.

--engine (repeatable) lists only the endpoints or kinds given.`,
		Example: `  hpr engines
  hpr engines --json
  hpr engines --engine unix:///run/hpr-docker-remap/docker.sock
  hpr engines --engine podman`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runEngines(cmd, s, o)
		},
	}
	cmd.Flags().StringArrayVar(&o.engines, "engine", nil, "an endpoint URI or a kind (docker, podman) to list; repeatable")
	cmd.Flags().BoolVar(&o.json, "json", false, "print JSON")
	return cmd
}

func runEngines(cmd *cobra.Command, s *streams, o enginesOptions) error {
	ctx := cmd.Context()
	found, fails, err := detect.All(ctx, detect.Options{}, o.engines)
	if err != nil {
		return err
	}
	defer func() {
		for _, e := range found {
			e.Close()
		}
	}()
	host, herr := idmap.CurrentHost()
	var reports []engineReport
	for _, e := range found {
		r := engineReport{
			Endpoint: e.About.Endpoint, Source: e.Source, Kind: e.About.Facts.Kind, Mode: e.About.Mode,
			Version: e.About.Facts.Version, APIVersion: e.About.Facts.APIVersion,
			OS: e.About.OS, Arch: e.About.Arch, StorageDriver: e.About.StorageDriver, Local: e.About.Local,
		}
		if herr != nil {
			r.PlanError = herr.Error()
		} else if p, err := idmap.NewPlan(host, e.About.Facts, idmap.Image{}, idmap.OverrideAuto); err != nil {
			r.PlanError = err.Error()
		} else {
			r.Plan, r.Explanation = &p, p.Explain()
		}
		reports = append(reports, r)
	}
	sort.SliceStable(reports, func(i, j int) bool { return modeOrder(reports[i].Mode) < modeOrder(reports[j].Mode) })
	var unreachable []unreachableReport
	for _, f := range fails {
		unreachable = append(unreachable, unreachableReport{Endpoint: f.URI, Source: f.Source, Error: f.Err.Error()})
	}

	if o.json {
		enc := json.NewEncoder(s.out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			Engines     []engineReport      `json:"engines"`
			Unreachable []unreachableReport `json:"unreachable"`
		}{nonNil(reports), nonNil(unreachable)}); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "MODE\tVERSION\tENDPOINT\tSOURCE")
		for _, r := range reports {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Mode, r.Version, r.Endpoint, r.Source)
		}
		tw.Flush()
		for _, r := range reports {
			if r.PlanError != "" {
				fmt.Fprintf(s.out, "\n%s: cannot plan: %s\n", r.Mode, r.PlanError)
				continue
			}
			fmt.Fprintf(s.out, "\n%s: %s\n", r.Mode, r.Explanation)
		}
		if len(unreachable) > 0 {
			fmt.Fprintln(s.out, "\nnot answering:")
			for _, u := range unreachable {
				fmt.Fprintf(s.out, "  %s\n", u.Error)
			}
		}
	}
	if len(reports) == 0 {
		return detect.NothingAnswered(fails)
	}
	return nil
}

func modeOrder(m idmap.Mode) int {
	for i, x := range idmap.Modes {
		if x == m {
			return i
		}
	}
	return len(idmap.Modes)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
