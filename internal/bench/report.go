package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// Budgets from issue 7.
const (
	budgetDockerRatio = 1.00
	budgetPodmanRatio = 0.80
	budgetOverhead    = 20 * time.Millisecond
	budgetSizeRatio   = 1.03
	budgetBuildRatio  = 1.05
	budgetConformance = 10 * time.Second
	budgetVersion     = 15 * time.Millisecond
	budgetBinary      = 25 << 20
)

type machine struct {
	date, kernel, osName, cpu, hprVersion string
	cpus                                  int
	memMiB                                int64
	loadStart, loadEnd                    string
	docker, podman, compose               string
	engines                               []engineInfo
}

type engineInfo struct {
	Mode, Endpoint, Version, Storage, Err string
}

type report struct {
	cfg       *config
	machine   machine
	elapsed   time.Duration
	raw       map[string][]result
	blogBuild map[string]time.Duration

	m1      []m1Row
	m2      []m2Row
	m3      []m3Row
	compose composeRes
	m4      m4Res
	m5      m5Res
	m6      m6Res
	m7      []m7Row
	m8      m8Res
}

func machineInfo(ctx context.Context, c *config) machine {
	m := machine{date: time.Now().UTC().Format("2006-01-02 15:04 UTC"), cpus: runtime.NumCPU(), loadStart: loadAvg()}
	m.kernel = strings.TrimSpace(readFile("/proc/sys/kernel/osrelease"))
	for l := range strings.Lines(readFile("/etc/os-release")) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "PRETTY_NAME="); ok {
			m.osName = strings.Trim(v, `"`)
		}
	}
	for l := range strings.Lines(readFile("/proc/cpuinfo")) {
		if v, ok := strings.CutPrefix(l, "model name"); ok {
			m.cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
			break
		}
	}
	for l := range strings.Lines(readFile("/proc/meminfo")) {
		var kb int64
		if _, err := fmt.Sscanf(l, "MemTotal: %d kB", &kb); err == nil {
			m.memMiB = kb / 1024
		}
	}
	m.hprVersion = output(c.hpr, "version")
	m.docker = output(c.docker, "--version")
	m.podman = output(c.podman, "--version")
	m.compose = output(c.compose, "version", "--short")
	return m
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

func loadAvg() string {
	f := strings.Fields(readFile("/proc/loadavg"))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func output(name string, args ...string) string {
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		return "unavailable (" + err.Error() + ")"
	}
	return strings.TrimSpace(string(out))
}

// ---- formatting helpers

func fmtStat(s stat) string {
	if s.N == 0 {
		return "—"
	}
	return fmt.Sprintf("%s (%s–%s)", ms(s.Med), ms(s.Min), ms(s.Max))
}

func fmtStatS(s stat) string {
	if s.N == 0 {
		return "—"
	}
	return fmt.Sprintf("%s (%s–%s)", secs(s.Med), secs(s.Min), secs(s.Max))
}

func fmtRatio(f float64) string {
	if math.IsNaN(f) || f == 0 {
		return "—"
	}
	return fmt.Sprintf("%.3f×", f)
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

func failNote(s stat) string {
	if s.Failed == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d failed: %s)", s.Failed, oneLine(s.FirstErr, 160))
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	s = strings.ReplaceAll(s, "|", "\\|")
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}

// runBudget is the budget of `hpr run` / the engine's CLI on mode's
// engine, and how the report writes it.
func runBudget(mode string) (float64, string) {
	if strings.HasPrefix(mode, "podman") {
		return budgetPodmanRatio, "≤ 0.80×"
	}
	return budgetDockerRatio, "≤ 1.00×"
}

type budgetLine struct {
	what, budget, figure, status string
}

// ---- the report

func (r *report) markdown() string {
	var head, body strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&head, format, args...) }
	// The budget summary comes first but is filled as the sections are
	// written: they go to a second builder.
	q := func(format string, args ...any) { fmt.Fprintf(&body, format, args...) }
	var budgets []budgetLine
	r.preamble(p)
	sections := []struct {
		key, title string
		write      func(q func(string, ...any), budgets *[]budgetLine)
	}{
		{"1", "`hpr run --image debian:bookworm-slim -- true` vs the engine's CLI and the raw API sequence", r.runSection},
		{"2", "`hpr run -- true`: 100 000-file project vs 1-file project", r.sizeSection},
		{"3", "Second `hpr run` of an unchanged build vs a plain run, and the seed's compose flow", r.buildSection},
		{"4", "`hpr conformance` over all engines, warm", r.conformanceSection},
		{"5", "Start-up, memory, size", r.startupSection},
		{"6", "First run of the blog image under rootless Podman keep-id", r.keepIDSection},
	}
	for _, s := range sections {
		q("## %s. %s\n\n", s.key, s.title)
		if !r.cfg.measures[s.key] {
			q("Not run in this invocation (`HPR_BENCH_MEASURES`).\n\n")
			continue
		}
		s.write(q, &budgets)
	}
	r.sshSection(q, &budgets)
	r.composeSection(q, &budgets)
	budgetSummary(p, budgets)
	head.WriteString(body.String())
	return head.String()
}

// preamble writes how the report was made, the machine and how to
// reproduce it.
func (r *report) preamble(p func(string, ...any)) {
	c := r.cfg
	p("# hpr benchmarks\n\n")
	p("Generated by `make bench` (`scripts/bench.sh` → `internal/bench`) on %s in %s. ", r.machine.date, r.elapsed.Round(time.Second))
	p("Every figure is wall time from exec to exit of the command (or, for the raw sequence, of the in-process calls), in milliseconds unless marked: median (min–max). ")
	p("Arms run interleaved: each round runs every arm of a measure once, in a new random order each round (seeded: a fixed or rotated order would put each arm after the same predecessor every round, and whatever that one leaves an engine doing would land on it each time), after one untimed warm-up round. ")
	p("A ratio A/B is computed pair by pair (A and B of the same round), and its median is shown. ")
	p("%d rounds per measure unless a section says otherwise (measures 1 and 2: %d, for budgets on differences of a few milliseconds between runs that spread by ±50). ", c.runs, 2*c.runs)
	p("Everything runs as the harness's non-root test user with `env -i HOME=… XDG_RUNTIME_DIR=… PATH=/usr/bin:/bin`, from directories it owns.\n\n")
	p("This is a report: nothing here is asserted by a test. The machine is shared; other work running at the same time shows up as spread (load average below).\n\n")

	p("## Machine\n\n")
	mm := r.machine
	p("| | |\n|---|---|\n")
	p("| CPUs (nproc) | %d (%s) |\n", mm.cpus, mm.cpu)
	p("| memory | %d MiB |\n", mm.memMiB)
	p("| kernel | %s |\n", mm.kernel)
	p("| OS | %s |\n", mm.osName)
	p("| load average (start → end) | %s → %s |\n", mm.loadStart, mm.loadEnd)
	p("| hpr | `%s` (%s) |\n", mm.hprVersion, c.repoVersion)
	p("| docker CLI | %s |\n", mm.docker)
	p("| podman CLI | %s |\n", mm.podman)
	p("| docker-compose | %s |\n\n", mm.compose)
	p("| engine | endpoint | version | storage |\n|---|---|---|---|\n")
	for _, e := range mm.engines {
		if e.Err != "" {
			p("| %s | `%s` | not reachable: %s | |\n", e.Mode, e.Endpoint, oneLine(e.Err, 120))
			continue
		}
		p("| %s | `%s` | %s | %s |\n", e.Mode, e.Endpoint, e.Version, e.Storage)
	}
	p("\n## How to reproduce\n\n")
	p("```sh\nsudo scripts/engines.sh up   # the five engines, each with a local debian:bookworm-slim\nsudo make bench              # builds bin/hpr, runs every measure as the test user, writes BENCHMARKS.md\n```\n\n")
	p("`make bench` takes about %d minutes here (the first run also builds `examples/blog` on every engine, ~1.5 min). ", int(math.Ceil(r.elapsed.Minutes())))
	p("`HPR_BENCH_RUNS`, `HPR_BENCH_MEASURES` (e.g. `1,5`) and `HPR_BENCH_KEEP=1` (keep the workspace and raw samples) adjust it.\n\n")
}

// budgetSummary writes the table of budgets and how many were missed.
func budgetSummary(p func(string, ...any), budgets []budgetLine) {
	p("## Budgets\n\n")
	p("| budget | limit | figure | status |\n|---|---|---|---|\n")
	for _, b := range budgets {
		p("| %s | %s | %s | %s |\n", b.what, b.budget, b.figure, b.status)
	}
	var missed []string
	for _, b := range budgets {
		if strings.Contains(b.status, "missed") {
			missed = append(missed, b.what)
		}
	}
	if len(missed) == 0 {
		p("\nEvery measured budget is met.\n\n")
	} else {
		p("\n%d of %d budgets missed; each section below says where the time goes.\n\n", len(missed), len(budgets))
	}
}

// stepHeader writes the header of a table with an engine column, a column
// per step, then the tail columns.
func stepHeader(q func(string, ...any), steps []string, tail ...string) {
	cols := append(append([]string{"engine"}, steps...), tail...)
	q("| %s |\n|%s\n", strings.Join(cols, " | "), strings.Repeat("---|", len(cols)))
}

// stepCells opens a row with the engine and a cell per step ("—" for a step
// the row lacks); the caller writes the tail cells.
func stepCells(q func(string, ...any), mode string, steps []string, vals map[string]time.Duration) {
	q("| %s |", mode)
	for _, st := range steps {
		if v, ok := vals[st]; ok {
			q(" %s |", ms(v))
		} else {
			q(" — |")
		}
	}
}

// rawStepOrder are the engine calls of the run sequence, in order.
var rawStepOrder = []string{"create", "attach", "start", "exited", "wait", "remove"}

// runSteps are the trace steps of the run sequence itself.
var runSteps = map[string]bool{"create": true, "attach": true, "start": true, "exited": true, "wait": true, "remove": true, "removal left to the engine": true}

// traceColumns is the union of the trace steps, in the order hpr printed
// them.
func traceColumns(rows []m1Row) []string {
	var orders [][]string
	for _, row := range rows {
		orders = append(orders, row.TraceOrder)
	}
	return unionOrder(orders)
}

// unionOrder is the union of steps in the orders given, each first where
// it first appears.
func unionOrder(orders [][]string) []string {
	var out []string
	seen := map[string]bool{}
	for _, order := range orders {
		for _, st := range order {
			if !seen[st] {
				seen[st] = true
				out = append(out, st)
			}
		}
	}
	return out
}

// preRun is the sum of hpr's trace steps before the run sequence.
func preRun(row m1Row) time.Duration {
	var d time.Duration
	for st, v := range row.Trace {
		if !runSteps[st] {
			d += v
		}
	}
	return d
}

// explainRun writes, for each engine whose run budget was missed, what the
// figures above say about why.
func (r *report) explainRun(q func(string, ...any)) {
	var lines, notes []string
	for _, row := range r.m1 {
		if row.Err != "" || row.HPR.N == 0 {
			continue
		}
		lim := budgetDockerRatio
		if strings.HasPrefix(row.Mode, "podman") {
			lim = budgetPodmanRatio
		}
		if row.RatioN > 0 && row.Ratio > lim {
			rawRatio, _ := pairRatio(r.raw["1/"+row.Mode+"/raw"], r.raw["1/"+row.Mode+"/cli"])
			floor := ""
			switch {
			case math.IsNaN(rawRatio):
				floor = " The raw sequence did not run (see its failures above), so the floor is unknown."
			case rawRatio > lim:
				floor = fmt.Sprintf(" The raw API sequence alone is %s of the CLI, above the %.2f× budget: the engine's own create/attach/start/wait/remove is the floor (wait %s ms, attach %s ms here), and no client-side work can bring hpr under it while it makes the same calls.",
					fmtRatio(rawRatio), lim, ms(row.RawSteps["wait"]), ms(row.RawSteps["attach"]))
			case row.overheadJudged() > budgetOverhead:
				floor = fmt.Sprintf(" The raw API sequence is %s of the CLI, so the budget is reachable: hpr's overhead (%s ms, below) is what exceeds it.", fmtRatio(rawRatio), ms(row.overheadJudged()))
			default:
				floor = fmt.Sprintf(" The raw API sequence is %s of the CLI and hpr's own overhead is %s ms (within its budget): the miss is run-to-run spread between the arms (CLI alone: %s–%s ms).", fmtRatio(rawRatio), ms(row.overheadJudged()), ms(row.CLIStat.Min), ms(row.CLIStat.Max))
			}
			lines = append(lines, fmt.Sprintf("- **%s**: hpr/CLI %s > %.2f×.%s", row.Mode, fmtRatio(row.Ratio), lim, floor))
		}
		if row.OverheadN > 0 && (row.overheadJudged() > budgetOverhead || row.OverLo > budgetOverhead) {
			var big []string
			for _, st := range row.TraceOrder {
				if !runSteps[st] && row.Trace[st] >= 2*time.Millisecond {
					big = append(big, fmt.Sprintf("%s %s", st, ms(row.Trace[st])))
				}
			}
			var hprRun, rawRun time.Duration
			for st := range runSteps {
				hprRun += row.Trace[st]
				rawRun += row.RawSteps[st]
			}
			detail := ""
			if len(big) > 0 {
				detail = " (" + strings.Join(big, ", ") + ")"
			}
			rest := row.Overhead - preRun(row) - row.Outside - (hprRun - rawRun)
			lines = append(lines, fmt.Sprintf("- **%s**: hpr's overhead %s ms (pairwise hpr − raw %s ms, 95 %% %s – %s) against 20 ms. From hpr's trace: %s ms before the run sequence%s and %s ms outside the trace (exec, runtime init, exit) — hpr's own work; its create…remove took %s ms against the raw sequence's %s ms (the engine's calls, %+.1f ms); %s ms is left as run-to-run spread (raw alone: %s–%s ms).",
				row.Mode, ms(row.overheadJudged()), ms(row.Overhead), ms(row.OverLo), ms(row.OverHi), ms(preRun(row)), detail, ms(row.Outside), ms(hprRun), ms(rawRun), float64(hprRun-rawRun)/float64(time.Millisecond), ms(rest), ms(row.Raw.Min), ms(row.Raw.Max)))
		}
	}
	for _, row := range r.m1 {
		if !strings.HasPrefix(row.Mode, "podman") || row.Info.N == 0 || row.Info.Med < 100*time.Millisecond {
			continue
		}
		var detect time.Duration
		for st, v := range row.Trace {
			if strings.Contains(st, "detect") {
				detect += v
			}
		}
		notes = append(notes, fmt.Sprintf("- Podman's libpod Info costs %s ms uncached (it gathers host and store facts on every call; `/_ping` answers in under a millisecond). hpr's detection step took %s ms in the trace on %s: it reuses Info while the same process listens on the socket.",
			ms(row.Info.Med), ms(detect), row.Mode))
		break
	}
	if len(lines) > 0 {
		q("Misses in this section:\n\n%s\n\n", strings.Join(lines, "\n"))
	}
	if len(notes) > 0 {
		q("Note:\n\n%s\n\n", strings.Join(notes, "\n"))
	}
}

func parseSizes(s string) map[string]int64 {
	out := map[string]int64{}
	for _, f := range strings.Fields(s) {
		k, v, ok := strings.Cut(f, "=")
		var n int64
		if _, err := fmt.Sscan(v, &n); ok && err == nil && n > 0 {
			out[k] = n
		}
	}
	return out
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// runSection writes measure 1.
func (r *report) runSection(q func(string, ...any), budgets *[]budgetLine) {
	c := r.cfg
	q("%d rounds. ", 2*c.runs)
	q("*hpr*: `hpr run --engine EP --image debian:bookworm-slim -- true` in a directory without hpr.toml. ")
	q("*CLI*: the engine's own CLI doing the same mapping (commands below). ")
	q("*raw*: `runtime.Run` in-process on an engine opened once, with the plan and spec hpr makes (create, attach, start, exit status, remove), each call timed. ")
	q("Every arm starts on an engine at rest: before each, untimed, the bench waits until no engine is still removing an exited hpr container (Podman removes them itself after hpr has returned; see *back to back* below for a run that does not wait). ")
	q("*hpr − raw* (pairwise median, with its 95 %% bootstrap interval) is hpr's overhead measured the direct way: two whole runs subtracted, so it carries both runs' spread (Docker runs here spread by ±30 ms each, which puts ±10 ms on a median of 30 differences). ")
	q("*own work* is the same overhead measured inside each hpr run: every *hpr* run is traced (`HPR_TRACE=1`: a clock read and a short stderr write per step), and its own work is its wall time minus the engine calls of its run sequence (create, attach, start, exit status, remove) — process start, project and host lookup, detection, image inspect, plan, exit. ")
	q("*calls +* is what hpr's short calls of the sequence (those under 20 ms in the raw sequence: not the container's start and run) took beyond the raw sequence's, per-call medians; a cold connection in a new process shows there. ")
	q("The budget is judged on *own work + calls +* (the engine's spread cancels within a run), and is met only if the pairwise interval does not lie wholly above 20 ms either. ")
	q("Podman's CLI runs in remote mode (`--url`), so it is itself a client of the same REST API as hpr; *raw/CLI* is the floor any client doing the same calls sits on.\n\n")
	q("| engine | hpr | CLI | hpr/CLI | budget | | raw | raw/CLI | hpr − raw (95 %% interval) | own work | calls + | overhead | budget | |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, row := range r.m1 {
		if row.Err != "" {
			q("| %s | not measured: %s | | | | | | | | | | | | |\n", row.Mode, oneLine(row.Err, 200))
			*budgets = append(*budgets, budgetLine{"hpr run / CLI, " + row.Mode, "", "not measured", "not measured: " + oneLine(row.Err, 80)})
			continue
		}
		lim, limS := runBudget(row.Mode)
		rawRatio, _ := pairRatio(r.raw["1/"+row.Mode+"/raw"], r.raw["1/"+row.Mode+"/cli"])
		okR := row.RatioN > 0 && row.Ratio <= lim
		judged := row.overheadJudged()
		traced := row.Own > 0
		okO := row.OverheadN > 0 && traced && judged <= budgetOverhead && row.OverLo <= budgetOverhead
		stR, stO := verdict(okR), verdict(okO)
		over := ms(judged)
		if row.RatioN == 0 {
			stR = "not measured"
		}
		if row.OverheadN == 0 || !traced {
			stO, over = "not measured", "—"
		}
		q("| %s | %s%s | %s%s | %s | %s | %s | %s%s | %s | %s (%s – %s) | %s | %+.1f | %s | ≤ 20 ms | %s |\n", row.Mode,
			fmtStat(row.HPR), failNote(row.HPR), fmtStat(row.CLIStat), failNote(row.CLIStat), fmtRatio(row.Ratio), limS, stR,
			fmtStat(row.Raw), failNote(row.Raw), fmtRatio(rawRatio), ms(row.Overhead), ms(row.OverLo), ms(row.OverHi),
			ms(row.Own), float64(row.CallExcess)/float64(time.Millisecond), over, stO)
		if over != "—" {
			over += " ms"
		}
		*budgets = append(*budgets,
			budgetLine{"`hpr run -- true` / CLI, " + row.Mode, limS, fmtRatio(row.Ratio), stR},
			budgetLine{"hpr's overhead above the raw API sequence, " + row.Mode, "≤ 20 ms", fmt.Sprintf("%s (pairwise %s, 95 %% %s – %s)", over, ms(row.Overhead), ms(row.OverLo), ms(row.OverHi)), stO})
	}
	q("\nCLI commands (DIR is the same directory hpr mounts, EP the endpoint):\n\n")
	for _, row := range r.m1 {
		q("- %s: `%s`\n", row.Mode, row.CLI)
	}
	r.runSteps(q)
	r.explainRun(q)
}

// sizeSection writes measure 2.
func (r *report) sizeSection(q func(string, ...any), budgets *[]budgetLine) {
	c := r.cfg
	q("Both projects are an hpr.toml with `[image] ref = \"%s\"`; the large one also holds %d small files in 100 directories. `hpr run --engine EP -- true` in each, %d rounds.\n\n", c.image, manyFiles, 2*c.runs)
	q("*100k/1* is the pairwise median of the wall times, with its 95 %% bootstrap interval: it carries both runs' spread. Both runs are traced (as in measure 1), so *hpr's part* is measured inside each run: 1 + (hpr's own work in the 100k project − in the 1-file one, pairwise median) / the 1-file run's median — what hpr itself adds as the project grows; the engine's calls are the same bind mount in both. ")
	q("The budget is judged on *hpr's part*, and is met only if the wall-time interval does not lie wholly above 1.03× either.\n\n")
	q("| engine | 1 file | 100 000 files | 100k/1 (95 %% interval) | 100k − 1 | own work 100k − 1 | hpr's part | budget | |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, row := range r.m2 {
		if row.Err != "" {
			q("| %s | not measured: %s | | | | | | | |\n", row.Mode, oneLine(row.Err, 200))
			*budgets = append(*budgets, budgetLine{"100k/1 files, " + row.Mode, "≤ 1.03×", "—", "not measured"})
			continue
		}
		ok := row.RatioN > 0 && row.HprPart > 0 && row.HprPart <= budgetSizeRatio && row.RatioLo <= budgetSizeRatio
		st := verdict(ok)
		if row.RatioN == 0 || row.HprPart == 0 {
			st = "not measured"
		}
		q("| %s | %s%s | %s%s | %s (%s – %s) | %s ms | %+.2f ms | %s | ≤ 1.03× | %s |\n", row.Mode, fmtStat(row.One), failNote(row.One), fmtStat(row.Many), failNote(row.Many),
			fmtRatio(row.Ratio), fmtRatio(row.RatioLo), fmtRatio(row.RatioHi), ms(row.Diff), float64(row.OwnDiff)/float64(time.Millisecond), fmtRatio(row.HprPart), st)
		*budgets = append(*budgets, budgetLine{"100k/1 files, " + row.Mode, "≤ 1.03×", fmt.Sprintf("%s (wall %s, 95 %% %s – %s)", fmtRatio(row.HprPart), fmtRatio(row.Ratio), fmtRatio(row.RatioLo), fmtRatio(row.RatioHi)), st})
	}
	q("\n")
	var miss []string
	for _, row := range r.m2 {
		switch {
		case row.RatioN == 0 || row.HprPart == 0:
		case row.HprPart > budgetSizeRatio:
			miss = append(miss, fmt.Sprintf("- **%s**: hpr's own work grows by %.2f ms with the project (%s).", row.Mode, float64(row.OwnDiff)/float64(time.Millisecond), fmtRatio(row.HprPart)))
		case row.RatioLo > budgetSizeRatio:
			miss = append(miss, fmt.Sprintf("- **%s**: hpr's own work does not grow (%+.2f ms), but the whole run does: 100k/1 = %s, interval %s – %s, wholly above 1.03×.", row.Mode, float64(row.OwnDiff)/float64(time.Millisecond), fmtRatio(row.Ratio), fmtRatio(row.RatioLo), fmtRatio(row.RatioHi)))
		}
	}
	if len(miss) > 0 {
		q("Misses in this section:\n\n%s\n\n", strings.Join(miss, "\n"))
	}
}

// buildSection writes measure 3.
func (r *report) buildSection(q func(string, ...any), budgets *[]budgetLine) {
	c := r.cfg
	q("A copy of `examples/blog` (Jekyll, `[image] build`). Setup ran `hpr build --engine EP` on every engine at once (time below: a first build, or a cache hit on a later `make bench`). ")
	q("*second run*: `hpr run --engine EP -- true` (hashes the build inputs, plans from the image built for them last time, and checks — base image inspected, that image looked up — while the engine prepares the container). *plain*: `hpr run --engine EP --image <tag> -- true` in the same directory (same [run]: port 5000, env, mount; no build check). ")
	q("*check*: the unchanged-build check alone, in-process (load hpr.toml, hash inputs, inspect the base image ‖ look up the remembered image ID).\n\n")
	q("| engine | tag | setup build (s) | second run | plain | second/plain | second − plain | budget | | check (in-process) |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, row := range r.m3 {
		if row.Err != "" || row.Tag == "" {
			q("| %s | not measured: %s | | | | | | | | |\n", row.Mode, oneLine(row.Err, 200))
			*budgets = append(*budgets, budgetLine{"unchanged build second run / plain, " + row.Mode, "≤ 1.05×", "—", "not measured: " + oneLine(row.Err, 80)})
			continue
		}
		ok := row.RatioN > 0 && row.Ratio <= budgetBuildRatio
		st := verdict(ok)
		if row.RatioN == 0 {
			st = "not measured"
		}
		q("| %s | `%s` | %s | %s%s | %s%s | %s | %s ms | ≤ 1.05× | %s | %s (load %s, hash + base inspect ‖ lookup %s) |\n", row.Mode, row.Tag, secs(row.Build),
			fmtStat(row.Blog), failNote(row.Blog), fmtStat(row.Plain), failNote(row.Plain), fmtRatio(row.Ratio), ms(row.Diff), st,
			fmtStat(row.Check), ms(row.CheckSteps["load"]), ms(row.CheckSteps["ensure"]))
		*budgets = append(*budgets, budgetLine{"unchanged build second run / plain, " + row.Mode, "≤ 1.05×", fmtRatio(row.Ratio), st})
	}
	var miss []string
	for _, row := range r.m3 {
		if row.RatioN > 0 && row.Ratio > budgetBuildRatio {
			miss = append(miss, fmt.Sprintf("- **%s**: second/plain = %s (%s ms): the unchanged-build check itself costs %s ms in-process (hpr.toml %s, inputs hash + base inspect ‖ image lookup %s), %.1f%% of a plain run; the rest is run-to-run spread (plain alone: %s–%s ms).",
				row.Mode, fmtRatio(row.Ratio), ms(row.Diff), ms(row.Check.Med), ms(row.CheckSteps["load"]), ms(row.CheckSteps["ensure"]),
				100*float64(row.Check.Med)/float64(max(row.Plain.Med, 1)), ms(row.Plain.Min), ms(row.Plain.Max)))
		}
	}
	if len(miss) > 0 {
		q("\nMisses in this section:\n\n%s\n", strings.Join(miss, "\n"))
	}
	q("\n### The seed's flow as the anchor (rootful Docker)\n\n")
	cr := r.compose
	if cr.Err != "" && cr.RoundsA == 0 {
		q("Not measured: %s\n\n", oneLine(cr.Err, 300))
	} else {
		q("Two seed-style projects: a Dockerfile `FROM %s`, `ARG UID`, `ARG GID`, `USER ${UID}:${GID}`; a docker-compose.yml building it with `args: {UID: \"${UID}\", GID: \"${GID}\"}` and mounting `.:/app`; an hpr.toml `[image] build = \".\"`; plus one file, or 100 000 more. ", c.image)
		q("docker-compose %s is Debian's (Python, classic builder: `up --build` sends the whole context every time). ", orDash(cr.ComposeVersion))
		q("Images were built in the warm-up round; every timed run has unchanged inputs.\n\n")
		q("| command | 1 file | 100 000 files | rounds |\n|---|---|---|---|\n")
		q("| `hpr run -- true` | %s%s | %s%s | %d |\n", fmtStat(cr.HprS1), failNote(cr.HprS1), fmtStat(cr.HprS100k), failNote(cr.HprS100k), cr.RoundsA)
		q("| `docker-compose run --rm app true` | %s%s | %s%s | %d |\n", fmtStat(cr.RunS1), failNote(cr.RunS1), fmtStat(cr.RunS100k), failNote(cr.RunS100k), cr.RoundsA)
		q("| `docker-compose up --build` | %s%s | %s%s | %d / %d |\n", fmtStat(cr.UpS1), failNote(cr.UpS1), fmtStat(cr.UpS100k), failNote(cr.UpS100k), cr.RoundsA, cr.RoundsB)
		q("| `hpr run -- true` (paired with the 100k `up --build` rounds) | | %s | %d |\n\n", fmtStat(cr.HprS100kB), cr.RoundsB)
		q("hpr / compose, pairwise: vs `run --rm` %s (1 file), %s (100k); vs `up --build` %s (1 file), %s (100k). ",
			fmtRatio(cr.RatioRun1), fmtRatio(cr.RatioRun100k), fmtRatio(cr.RatioUp1), fmtRatio(cr.RatioUp100k))
		q("`up --build` of the 100k project ran %d rounds only, without a warm-up round: it uploads the whole 100k-file context every time (the image itself was built in the warm-up of the rows above). ", cr.RoundsB)
		if cr.Err != "" {
			q("Note: %s", oneLine(cr.Err, 300))
		}
		q("No budget: this is the anchor.\n\n")
	}
}

// conformanceSection writes measure 4.
func (r *report) conformanceSection(q func(string, ...any), budgets *[]budgetLine) {
	c := r.cfg
	m4 := r.m4
	if m4.Err != "" {
		q("**Not measured:** %s\n\n", m4.Err)
		*budgets = append(*budgets, budgetLine{"`hpr conformance` over five engines, warm", "≤ 10 s", "—", "not measured: " + oneLine(m4.Err, 120)})
	} else {
		ok := m4.Total.N > 0 && m4.Total.Med <= budgetConformance
		q("`hpr %s`, after one warm-up run (%s s) that imports the probe image where missing; %d rounds", strings.Join(m4.Args, " "), secs(m4.Warmup), m4.Rounds)
		if m4.Rounds < c.runs {
			q(" (fewer than %d: each run takes seconds; the rounds are capped at about two minutes)", c.runs)
		}
		q(".\n\n")
		q("| | wall time (s) | budget | |\n|---|---|---|---|\n")
		q("| all engines | %s%s | ≤ 10 s | %s |\n\n", fmtStatS(m4.Total), failNote(m4.Total), verdict(ok))
		q("Result of the last run: pass = %v.", m4.Pass)
		if m4.Failed != "" {
			q(" First failing check: %s.", oneLine(m4.Failed, 200))
		}
		if len(m4.Engines) > 0 && m4.Engines[0].Alone.N > 0 {
			q("\n\nEach engine alone (`hpr conformance --engine EP --json`, 2 runs) — where the time goes:\n\n")
		} else {
			q("\n\nEngines in the report:\n\n")
		}
		q("| engine | endpoint | checks passed | alone (s) |\n|---|---|---|---|\n")
		for _, e := range m4.Engines {
			if e.Alone.N > 0 {
				q("| %s | `%s` | %d/%d | %s |\n", e.Mode, e.Endpoint, e.Passed, e.Checks, fmtStatS(e.Alone))
			} else {
				q("| %s | `%s` | %d/%d | not timed alone (budget met) |\n", e.Mode, e.Endpoint, e.Passed, e.Checks)
			}
		}
		q("\n")
		*budgets = append(*budgets, budgetLine{"`hpr conformance` over five engines, warm", "≤ 10 s", secs(m4.Total.Med) + " s", verdict(ok)})
	}
}

// startupSection writes measure 5.
func (r *report) startupSection(q func(string, ...any), budgets *[]budgetLine) {
	c := r.cfg
	m5 := r.m5
	if m5.Version.N > 0 {
		ok := m5.Version.Med <= budgetVersion
		q("`hpr version`, exec→exit, %d runs interleaved with `/bin/true` (page cache warm: caches cannot be dropped as the test user, so \"cold\" means a new process each time).\n\n", c.versionRuns)
		q("| | ms | budget | |\n|---|---|---|---|\n")
		q("| `hpr version` | %s%s | ≤ 15 ms | %s |\n", fmtStat(m5.Version), failNote(m5.Version), verdict(ok))
		q("| `/bin/true` (exec floor) | %s | | |\n", fmtStat(m5.True))
		q("| difference (pairwise median) | %s | | |\n\n", ms(m5.VersionDiff))
		*budgets = append(*budgets, budgetLine{"`hpr version` cold start", "≤ 15 ms", ms(m5.Version.Med) + " ms", verdict(ok)})
		if len(m5.InitTop) > 0 {
			q("Package initialisers (`GODEBUG=inittrace=1 hpr version`, best of 5): %s ms in all; the largest:\n\n", ms(m5.InitTotal))
			q("| package | init clock (ms) | allocated (bytes) |\n|---|---|---|\n")
			for _, e := range m5.InitTop {
				q("| %s | %s | %s |\n", e.Pkg, ms(e.Clock), e.Alloc)
			}
			q("\n")
		}
	}
	if m5.Size > 0 {
		ok := m5.Size <= budgetBinary
		strip := "stripped (no .symtab)"
		if !m5.Stripped {
			strip = "**not stripped**"
		}
		q("Binary: `bin/hpr` (`-trimpath -ldflags \"-s -w\"`, static) is %d bytes = %.2f MiB, %s; budget ≤ 25 MiB: %s.\n\n", m5.Size, float64(m5.Size)/(1<<20), strip, verdict(ok))
		if bs := parseSizes(c.backendSize); len(bs) > 0 {
			q("A stripped program that links only one backend (`internal/bench/backendsize`): runtime/podman %.2f MiB, runtime/docker %.2f MiB. ", float64(bs["podman"])/(1<<20), float64(bs["docker"])/(1<<20))
			q("The Podman bindings bring containers/storage, containers/image and, through its image-encryption support (ocicrypt's key provider), gRPC and protobuf; that is where the size comes from.\n\n")
		}
		*budgets = append(*budgets, budgetLine{"stripped binary", "≤ 25 MiB", fmt.Sprintf("%.2f MiB", float64(m5.Size)/(1<<20)), verdict(ok)})
		if len(m5.Packages) > 0 {
			q("Where the code comes from (sizes of the code symbols of an unstripped build, `go tool nm -size`, by module; data and the runtime tables come on top):\n\n")
			q("| module | MiB |\n|---|---|\n")
			for _, p := range m5.Packages {
				q("| %s | %.2f |\n", p.Pkg, float64(p.Size)/(1<<20))
			}
			q("\n")
		}
	}
	q("Peak RSS of `hpr run`: see measure 1 (no budget).\n\n")
}

// keepIDSection writes measure 6.
func (r *report) keepIDSection(q func(string, ...any), budgets *[]budgetLine) {
	m6 := r.m6
	if m6.Err != "" {
		q("**Not measured:** %s\n\n", m6.Err)
	} else {
		q("Podman keeps the id-mapped copy of an image's layers that `--userns=keep-id` needs per image ID. Each round commits a new image from `%s` (a stopped container, `podman commit`: a new ID over the same layers, so no mapped copy yet), ", m6.Base)
		q("warms hpr's identity cache for it in-process (hpr reads the image's /etc/passwd once per image ID through a container in the default mapping — %s ms, not part of the first run below), ", ms(m6.Identity.Med))
		q("then times the first `hpr run --engine EP --image <new> -- true` and three later ones. %d rounds (slow: each first run copies the image).\n\n", m6.Rounds)
		q("| run | ms |\n|---|---|\n")
		q("| first run (keep-id mapped copy) | %s%s |\n", fmtStat(m6.First), failNote(m6.First))
		q("| later runs | %s%s |\n", fmtStat(m6.Later), failNote(m6.Later))
		q("| first/later (pairwise median) | %s |\n", fmtRatio(m6.Ratio))
		q("| first − later (one-time cost) | %s |\n\n", ms(m6.First.Med-m6.Later.Med))
		q("The one-time cost is Podman's (the rootless overlay driver copies and chowns the image into the keep-id mapping on the first container of a new image ID); `podman run --userns=keep-id` pays it too. It recurs after every rebuild that changes the image ID. No budget.\n\n")
	}
}

// runSteps writes where measure 1's time goes: hpr's traced steps, the raw
// sequence's calls, back-to-back runs and peak RSS.
func (r *report) runSteps(q func(string, ...any)) {
	q("\n### Where the time goes (medians, ms)\n\n")
	q("hpr's own per-step timings, from the `HPR_TRACE=1` lines of the *hpr* runs above. ")
	q("Each step is the time since the previous trace line; *outside* is the run's wall time minus its last trace line's offset from the runtime's start: exec, Go runtime and package init, exit. ")
	q("*wait* (Docker) or *exited* (Podman) holds the container's own run time.\n\n")
	order := traceColumns(r.m1)
	stepHeader(q, order, "outside", "hpr run")
	for _, row := range r.m1 {
		if row.Err != "" || row.HPR.N == 0 {
			continue
		}
		stepCells(q, row.Mode, order, row.Trace)
		q(" %s | %s |\n", ms(row.Outside), ms(row.HPR.Med))
	}
	q("\nThe raw sequence's calls (in-process, engine opened once) and, for reference, one uncached Info call (what detection costs when it has to ask the engine):\n\n")
	q("*exited* is the inspect (or inspects: up to four, 35 ms apart) that reads the exit status once the output has ended; where it answers, the run does not wait for *wait*, and on Podman, which removes the exited container itself, not for *remove* either (— in the table). ")
	q("*hpr before the run sequence* and *outside* are the medians of the trace steps above; *own work* is the median of each run's own work (the two need not add up exactly).\n\n")
	stepHeader(q, rawStepOrder, "raw total", "hpr before the run sequence", "outside", "own work", "hpr − raw", "uncached Info")
	for _, row := range r.m1 {
		if row.Err != "" || row.Raw.N == 0 {
			continue
		}
		stepCells(q, row.Mode, rawStepOrder, row.RawSteps)
		q(" %s | %s | %s | %s | %s | %s |\n", ms(row.Raw.Med), ms(preRun(row)), ms(row.Outside), ms(row.Own), ms(row.Overhead), fmtStat(row.Info))
	}
	q("\nBack to back: the same commands, each started the moment the same command before it returned (no pause for the engine between them; every other arm starts on an engine at rest). hpr returns once the exit status is read and leaves an exited container's removal to Podman, which does it after hpr has returned (0.2–0.3 s of cleanup on rootful Podman: netavark deleting the container's firewall rules); a run started within that time waits for it inside the engine. The CLI waits for the removal before it returns. No budget: this shows where the deferred cost goes.\n\n")
	q("| engine | hpr, next run | CLI, next run | hpr/CLI |\n|---|---|---|---|\n")
	for _, row := range r.m1 {
		if row.Err != "" || row.NextHPR.N == 0 {
			continue
		}
		q("| %s | %s%s | %s%s | %s |\n", row.Mode, fmtStat(row.NextHPR), failNote(row.NextHPR), fmtStat(row.NextCLI), failNote(row.NextCLI), fmtRatio(row.NextRatio))
	}
	q("\nPeak RSS (`wait4` maxrss) of `hpr run`, median / max over the runs above, and of the engine's CLI for comparison:\n\n")
	q("| engine | hpr run | CLI |\n|---|---|---|\n")
	for _, row := range r.m1 {
		if row.RSSMed == 0 {
			continue
		}
		q("| %s | %.1f / %.1f MiB | %.1f MiB |\n", row.Mode, float64(row.RSSMed)/1024, float64(row.RSSMax)/1024, float64(row.CLIRSSMed)/1024)
	}
	q("\n")
}
