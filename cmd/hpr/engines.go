package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"text/tabwriter"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/runtime"
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
	SourceFile    string      `json:"source_file,omitempty"`
	Kind          idmap.Kind  `json:"kind"`
	Mode          idmap.Mode  `json:"mode"`
	Version       string      `json:"version"`
	APIVersion    string      `json:"api_version"`
	OS            string      `json:"os"`
	Arch          string      `json:"arch"`
	StorageDriver string      `json:"storage_driver"`
	Local         bool        `json:"local"`
	SELinux       bool        `json:"selinux"`
	Plan          *idmap.Plan `json:"plan,omitempty"`
	Explanation   string      `json:"explanation,omitempty"`
	SELinuxNote   string      `json:"selinux_explanation"`
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
		Long: `List every container engine that answers for you, and where hpr found it
(SOURCE): the engine the environment names (CONTAINER_CONNECTION or
CONTAINER_HOST, DOCKER_HOST or DOCKER_CONTEXT: "environment", or the context
or connection named), the Docker CLI's current context ("context NAME
(current)"), Podman's default connection ("connection NAME (default)"), and
the standard sockets ($XDG_RUNTIME_DIR/podman/podman.sock,
$XDG_RUNTIME_DIR/docker.sock, /var/run/docker.sock, /run/podman/podman.sock:
"probe"). For each: its mode (docker-rootful, docker-userns-remap,
docker-rootless, podman-rootless, podman-rootful), its version, the plan hpr
makes for it — which container user lands files in the project as you —
and, where the engine enforces SELinux, how hpr meets it.

--engine (repeatable) lists only the engines given: an endpoint URI
(unix://, tcp://, ssh://), a kind (docker, podman), a Docker context or a
Podman connection.`,
		Example: `  hpr engines
  hpr engines --json
  hpr engines --engine unix:///run/hpr-docker-remap/docker.sock
  hpr engines --engine podman
  hpr engines --engine desktop-linux          # a Docker context
  hpr engines --engine ssh://me@build-box     # Docker there, over ssh
  hpr engines --engine ssh://me@build-box/run/user/1000/podman/podman.sock`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runEngines(cmd, s, o)
		},
	}
	cmd.Flags().StringArrayVar(&o.engines, "engine", nil, "an endpoint URI, a kind (docker, podman), a Docker context or a Podman connection to list; repeatable")
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
	var reports []engineReport
	for _, e := range found {
		reports = append(reports, reportEngine(e))
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
			if r.SELinux {
				fmt.Fprintf(s.out, "  %s\n", r.SELinuxNote)
			}
			if r.SourceFile != "" {
				fmt.Fprintf(s.out, "  (%s, from %s)\n", r.Source, r.SourceFile)
			}
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

// reportEngine is what `hpr engines` says about one engine: what it is,
// where it came from, and the plan hpr makes for it.
func reportEngine(e *detect.Engine) engineReport {
	r := engineReport{
		Endpoint: e.About.Endpoint, Source: e.Source, SourceFile: e.File, Kind: e.About.Facts.Kind, Mode: e.About.Mode,
		Version: e.About.Facts.Version, APIVersion: e.About.Facts.APIVersion,
		OS: e.About.OS, Arch: e.About.Arch, StorageDriver: e.About.StorageDriver, Local: e.About.Local,
		SELinux: e.About.SELinux, SELinuxNote: runtime.ExplainSELinux(e.About),
	}
	if !e.About.Local {
		// A plan for the user here would be a guess: files land as the
		// owner of the project's directory on the engine's host.
		r.Explanation = "a remote engine: bind mounts name paths on its host, so hpr run mounts the project's copy there (--remote-root or [engine] remote_root; hpr copies no files), and files land as that directory's owner there"
		if _, ok := engineHost(e); !ok {
			r.Explanation = "a remote engine reached without ssh: hpr cannot learn who owns a directory on its host, so hpr run does not use it (reach it with ssh://)"
		}
		return r
	}
	host, err := idmap.CurrentHost()
	if err != nil {
		r.PlanError = err.Error()
	} else if p, err := idmap.NewPlan(host, e.About.Facts, idmap.Image{}, idmap.OverrideAuto); err != nil {
		r.PlanError = err.Error()
	} else {
		r.Plan, r.Explanation = &p, p.Explain()
	}
	return r
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
