package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/sys/user"
	"github.com/spf13/cobra"

	"github.com/hostpersist/hpr/conformance"
	"github.com/hostpersist/hpr/doctor"
	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/project"
	"github.com/hostpersist/hpr/runtime/detect"
)

// exitNotYours is doctor's exit status when files are not the user's, like a
// linter's.
const exitNotYours = 1

type doctorOptions struct {
	fix     bool
	engines []string
	compose composeFlags
	// The fixing container's side (hidden).
	inside string
	list   string
	owner  string
}

func newDoctorCmd(s *streams) *cobra.Command {
	var o doctorOptions
	cmd := &cobra.Command{
		Use:   "doctor [--fix] [--engine E]...",
		Short: "List project files not owned by you; --fix hands them back without sudo",
		Long: `List the files under the project (hpr.toml's directory, or the current
directory when there is none) that are not owned by you, grouped by owner,
with what left each owner: for every engine that answers, which container
uid lands on the host as that owner — root from an earlier rootful
'docker run', a subordinate id from rootless Docker run with --user, a
remapped id from a userns-remap daemon.

--fix hands them back to you through a short-lived container running as
root on an engine whose user namespace maps the owner: a rootful engine can
fix anything, a rootless one the ids of your own subuid range. It changes
only the paths listed (symlinks themselves, never what they point to), keeps
their modes, and touches nothing you own already. The container runs this
hpr binary, mounted read-only, in a tiny imported image (` + doctor.FixerImage + `), so
no registry is needed. What no engine you can use can fix is listed with the
sudo command that would.

--engine (repeatable) limits the engines used to explain and to fix.

Exit status: 0 when every file is yours (after --fix: when all are now);
1 when some are not; 125 when hpr or an engine failed.`,
		Example: `  hpr doctor                      # what is not yours, and why
  hpr doctor --fix                # hand it back through a container
  hpr doctor --fix --engine unix:///var/run/docker.sock
  hpr doctor || echo "some files are not yours"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.inside != "" {
				return runFixInside(s, o)
			}
			return runDoctor(cmd.Context(), s, o)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.fix, "fix", false, "hand the files back to you through a container (no sudo)")
	f.StringArrayVar(&o.engines, "engine", nil, "an endpoint URI or a kind (docker, podman) to use; repeatable (default: every engine that answers)")
	f.StringVar(&o.inside, "fix-inside", "", "in the fixing container: the project mount")
	f.StringVar(&o.list, "list", "", "in the fixing container: the list of paths")
	f.StringVar(&o.owner, "owner", "", "in the fixing container: the UID:GID to give")
	o.compose.add(f)
	for _, n := range []string{"fix-inside", "list", "owner"} {
		_ = f.MarkHidden(n)
	}
	return cmd
}

// runFixInside is the fixing container's side of --fix: it prints what it
// did as JSON.
func runFixInside(s *streams, o doctorOptions) error {
	u, g, ok := strings.Cut(o.owner, ":")
	uid, uerr := strconv.Atoi(u)
	gid, gerr := strconv.Atoi(g)
	if !ok || uerr != nil || gerr != nil || uid < 0 || gid < 0 {
		return fmt.Errorf("--owner %q: want UID:GID", o.owner)
	}
	list, err := os.ReadFile(o.list)
	if err != nil {
		return fmt.Errorf("reading the list: %w", err)
	}
	r, err := doctor.Inside(o.inside, list, uid, gid)
	if err != nil {
		return err
	}
	return json.NewEncoder(s.out).Encode(r)
}

// doctorProject is the project to scan: hpr.toml's (or the compose
// file's) directory, or the working directory.
func doctorProject(c composeFlags) (*project.Project, error) {
	cwd, err := os.Getwd()
	if err != nil {
		return nil, fmt.Errorf("finding the working directory: %w", err)
	}
	return c.open(cwd, project.OpenOptions{Require: project.RequireDirectory})
}

// doctorEngine is an engine that answered, with the namespaces its
// containers may have run in.
type doctorEngine struct {
	*detect.Engine
	namespaces []idmap.Namespace
}

func (e doctorEngine) name() string { return fmt.Sprintf("%s (%s)", e.About.Mode, e.About.Endpoint) }

// doctorEngines opens every engine that answers (or the --engine ones, plus
// hpr.toml's endpoint) and works out its namespaces.
func doctorEngines(ctx context.Context, s *streams, o doctorOptions, endpoint string) ([]doctorEngine, []detect.Failure, error) {
	found, fails, err := detect.All(ctx, detect.Options{}, o.engines)
	if err != nil {
		return nil, nil, err
	}
	if endpoint != "" && len(o.engines) == 0 {
		have := false
		for _, e := range found {
			have = have || e.About.Endpoint == endpoint
		}
		if !have {
			more, mfails, err := detect.All(ctx, detect.Options{}, []string{endpoint})
			if err == nil {
				found, fails = append(found, more...), append(fails, mfails...)
			}
		}
	}
	var out []doctorEngine
	for _, e := range found {
		if !e.About.Local {
			// Its containers cannot have written files on this machine.
			e.Close()
			continue
		}
		var remapUIDs, remapGIDs []idmap.IDRange
		if e.About.Mode == idmap.DockerUsernsRemap {
			var rerr error
			remapUIDs, remapGIDs, rerr = conformance.RemapRanges("/etc/subuid", "/etc/subgid", "dockremap")
			if rerr != nil {
				fmt.Fprintf(s.err, "hpr: warning: %s: ids its remapped containers write are not explained: %v\n", e.About.Endpoint, rerr)
			}
		}
		nss, err := doctor.Namespaces(e.About.Mode, remapUIDs, remapGIDs)
		if err != nil {
			fmt.Fprintf(s.err, "hpr: warning: %s: %v\n", e.About.Endpoint, err)
			e.Close()
			continue
		}
		out = append(out, doctorEngine{Engine: e, namespaces: nss})
	}
	// Explanations follow the order hpr reports modes in.
	sort.SliceStable(out, func(i, j int) bool { return modeOrder(out[i].About.Mode) < modeOrder(out[j].About.Mode) })
	return out, fails, nil
}

// doctorReport explains what scan found that is not the user's.
func doctorReport(shown string, scan *doctor.Scan, host idmap.Host, engines []doctorEngine, unexplained string) (doctor.Report, error) {
	r := doctor.Report{Root: shown, Host: host, Scan: scan, Groups: doctor.Groups(scan.Files), Unexplained: unexplained, Names: map[int]string{}}
	var nss []idmap.Namespace
	for _, e := range engines {
		nss = append(nss, e.namespaces...)
	}
	for _, g := range r.Groups {
		origins, err := doctor.Origins(g.Owner, nss, host)
		if err != nil {
			return doctor.Report{}, err
		}
		r.Origins = append(r.Origins, origins)
		if u, err := user.LookupUid(g.UID); err == nil {
			r.Names[g.UID] = u.Name
		}
	}
	return r, nil
}

func runDoctor(ctx context.Context, s *streams, o doctorOptions) error {
	p, err := doctorProject(o.compose)
	if err != nil {
		return err
	}
	shown, root, endpoint := p.Root, p.RealRoot, p.Engine.Endpoint
	host, err := idmap.CurrentHost()
	if err != nil {
		return fmt.Errorf("reading who you are: %w", err)
	}
	scan, err := doctor.ScanDir(root, host.UID)
	if err != nil {
		return err
	}
	if len(scan.Files) == 0 {
		// Nothing to explain: no engine needed.
		r := doctor.Report{Root: shown, Host: host, Scan: scan}
		return r.WriteText(s.out)
	}

	engines, fails, err := doctorEngines(ctx, s, o, endpoint)
	if err != nil {
		return err
	}
	defer func() {
		for _, e := range engines {
			e.Close()
		}
	}()
	unexplained := ""
	if len(engines) == 0 {
		unexplained = "not explained: " + detect.NothingAnswered(fails).Error()
	}
	r, err := doctorReport(shown, scan, host, engines, unexplained)
	if err != nil {
		return err
	}
	if err := r.WriteText(s.out); err != nil {
		return err
	}
	if len(r.Scan.Files) == 0 {
		return nil
	}
	if !o.fix {
		fmt.Fprintf(s.out, "\nRun `hpr doctor --fix` to hand them back to you through a container (no sudo).\n")
		return withCode(exitNotYours, nil)
	}

	fmt.Fprintln(s.out)
	fixErr := doctorFix(ctx, s, r, root, host, engines)
	rescan, err := doctor.ScanDir(root, host.UID)
	if err != nil {
		return errors.Join(fixErr, err)
	}
	after, err := doctorReport(shown, rescan, host, engines, unexplained)
	if err != nil {
		return errors.Join(fixErr, err)
	}
	fmt.Fprintln(s.out)
	if len(after.Scan.Files) == 0 {
		fmt.Fprintf(s.out, "All %d paths under %s are owned by you now.\n", after.Scan.Seen, shown)
	} else if err := after.WriteText(s.out); err != nil {
		return err
	}
	switch {
	case fixErr != nil:
		return fixErr
	case len(after.Scan.Files) > 0:
		return withCode(exitNotYours, nil)
	}
	return nil
}

// doctorFix hands r's files back through the engines that can, and says what
// it did and what none could fix.
func doctorFix(ctx context.Context, s *streams, r doctor.Report, root string, host idmap.Host, engines []doctorEngine) error {
	var (
		fixers []doctor.Fixer
		usable []doctorEngine
	)
	for _, e := range engines {
		ns, err := doctor.RootNamespace(host, e.About.Facts)
		if err != nil {
			continue // e.g. a rootless engine when you are root
		}
		fixers = append(fixers, doctor.Fixer{Name: e.name(), NS: ns})
		usable = append(usable, e)
	}
	plan, unfixable, err := doctor.Assign(r.Groups, fixers, host)
	if err != nil {
		return err
	}
	var errs []error
	if len(plan) > 0 {
		bin, err := os.Executable()
		if err == nil {
			err = conformance.CheckStatic(bin)
		}
		if err != nil {
			return fmt.Errorf("the fixing container runs this hpr binary: %w", err)
		}
		for _, a := range plan {
			e := usable[a.Fixer]
			var (
				files  []doctor.File
				owners []string
			)
			for _, gi := range a.Groups {
				files = append(files, r.Groups[gi].Fixable()...)
				owners = append(owners, r.Groups[gi].Owner.String())
			}
			rep, err := doctor.Fix(ctx, doctor.FixOptions{
				Resolver: newResolver(e.Engine, host), Root: root, Files: files, Binary: bin,
				Labels: processLabels(),
			})
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", e.name(), err))
				fmt.Fprintf(s.out, "%s: could not fix the files owned by %s: %v\n", e.name(), strings.Join(owners, ", "), err)
				continue
			}
			fmt.Fprintf(s.out, "%s: handed back %s owned by %s", e.name(), doctorCount(rep.Fixed), strings.Join(owners, ", "))
			if rep.Kept+rep.Gone > 0 {
				fmt.Fprintf(s.out, " (%d yours already, %d gone since the scan)", rep.Kept, rep.Gone)
			}
			fmt.Fprintln(s.out)
			for _, f := range rep.Failed {
				fmt.Fprintf(s.out, "  %s: %s\n", f.Path, f.Error)
			}
		}
	}
	for _, gi := range unfixable {
		fmt.Fprintf(s.out, "%s: %s\n", r.Groups[gi].Owner, doctor.Unfixable(r.Groups[gi], root, host))
	}
	return errors.Join(errs...)
}

func doctorCount(n int) string {
	if n == 1 {
		return "1 path"
	}
	return strconv.Itoa(n) + " paths"
}
