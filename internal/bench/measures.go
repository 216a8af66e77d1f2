package main

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/runtime"
)

// ---- 1. hpr run vs the engine's CLI vs the raw API sequence

type m1Row struct {
	Mode, Endpoint, CLI string
	Err                 string
	HPR, CLIStat, Raw   stat
	Ratio               float64 // hpr/cli, pairwise median
	RatioN              int
	Overhead            time.Duration // hpr - raw, pairwise median
	OverheadN           int
	OverLo, OverHi      time.Duration // 95 % interval of Overhead
	// Own is the median of hpr's own work per run (ownWork); CallExcess is
	// what hpr's short engine calls of the run sequence took beyond the raw
	// sequence's (medians; see shortCalls). Own + CallExcess is the overhead
	// the budget is judged on.
	Own, CallExcess time.Duration
	RawSteps        map[string]time.Duration
	Trace           map[string]time.Duration // hpr's own HPR_TRACE steps, medians
	TraceOrder      []string
	Outside         time.Duration // hpr run: wall - last trace line (exec, runtime init, exit)
	Info            stat          // an uncached Info call
	RSSMed, RSSMax  int64         // hpr run, KiB
	CLIRSSMed       int64
	// NextHPR and NextCLI time a run started the moment the one before it
	// returned (no settle in between): on Podman hpr's next run waits inside
	// the engine for the cleanup of the last one, which hpr did not wait for.
	NextHPR, NextCLI stat
	NextRatio        float64
}

func (b *bench) measureRun(ctx context.Context) {
	var arms []arm
	type idx struct{ hpr, cli, raw, info, nextHPR, nextCLI int }
	where := map[string]idx{}
	for _, e := range b.cfg.engines {
		row := m1Row{Mode: e.Mode, Endpoint: e.Endpoint, CLI: b.cliLine(e)}
		raw, err := b.rawArm(ctx, e.Mode, b.adhoc, b.cfg.image)
		if err != nil {
			row.Err = "raw sequence: " + err.Error()
			b.rep.m1 = append(b.rep.m1, row)
			continue
		}
		b.rep.m1 = append(b.rep.m1, row)
		n := len(arms)
		where[e.Mode] = idx{n, n + 1, n + 2, n + 3, n + 4, n + 5}
		hprArgs := []string{"run", "--engine", e.Endpoint, "--image", b.cfg.image, "--", "true"}
		arms = append(arms,
			arm{e.Mode + "/hpr", b.tracedHPR(b.adhoc, hprArgs...).run},
			arm{e.Mode + "/cli", b.cliRun(e, b.adhoc).run},
			arm{e.Mode + "/raw", raw},
			arm{e.Mode + "/info", b.infoArm(ctx, e.Mode)},
			arm{e.Mode + "/hpr-next", backToBack(b.hprCmd(b.adhoc, hprArgs...))},
			arm{e.Mode + "/cli-next", backToBack(b.cliRun(e, b.adhoc))},
		)
	}
	if len(arms) == 0 {
		return
	}
	res := interleave("measure 1", 1, 2*b.cfg.runs, arms, b.settle)
	for i := range b.rep.m1 {
		row := &b.rep.m1[i]
		w, ok := where[row.Mode]
		if !ok {
			continue
		}
		h, c, r, in := res[w.hpr], res[w.cli], res[w.raw], res[w.info]
		nh, nc := res[w.nextHPR], res[w.nextCLI]
		row.NextHPR, row.NextCLI = stats(nh), stats(nc)
		row.NextRatio, _ = pairRatio(nh, nc)
		for k, v := range map[string][]result{"hpr": h, "cli": c, "raw": r, "info": in, "hpr-next": nh, "cli-next": nc} {
			b.rep.raw["1/"+row.Mode+"/"+k] = v
		}
		row.HPR, row.CLIStat, row.Raw, row.Info = stats(h), stats(c), stats(r), stats(in)
		row.Ratio, row.RatioN = pairRatio(h, c)
		row.Overhead, row.OverheadN = pairDiff(h, r)
		row.OverLo, row.OverHi = medianCI(pairDiffs(h, r))
		row.RawSteps = stepMedians(r)
		row.Trace = stepMedians(h)
		row.Own = medianDur(ownWorks(h))
		for _, st := range shortCalls(row.RawSteps) {
			row.CallExcess += row.Trace[st] - row.RawSteps[st]
		}
		var outside []time.Duration
		for _, x := range h {
			if x.ok() && x.Traced > 0 {
				outside = append(outside, x.D-x.Traced)
				if len(x.Order) > len(row.TraceOrder) {
					row.TraceOrder = x.Order
				}
			}
		}
		row.Outside = medianDur(outside)
		row.RSSMed, row.RSSMax = rssStat(h)
		row.CLIRSSMed, _ = rssStat(c)
	}
}

// shortCalls are the run sequence's engine calls that do not hold the
// container's own life (its start, run and exit: Docker's start and wait,
// Podman's attach, which initialises the container): those whose raw
// median is under 20 ms. hpr making one of them slower than the raw
// sequence does (a cold connection, a bigger request) is hpr's overhead; the
// long ones differ by the engine's run-to-run spread.
func shortCalls(raw map[string]time.Duration) []string {
	var out []string
	for _, st := range rawStepOrder {
		if v, ok := raw[st]; ok && v < 20*time.Millisecond {
			out = append(out, st)
		}
	}
	return out
}

// overheadJudged is hpr's overhead above the raw sequence as the budget is
// judged: its own work plus any excess of its short engine calls.
func (row m1Row) overheadJudged() time.Duration { return row.Own + max(row.CallExcess, 0) }

// backToBack runs c twice, the second time the moment the first returned,
// and reports the second.
func backToBack(c command) func() result {
	return func() result {
		if r := c.run(); !r.ok() {
			return r
		}
		return c.run()
	}
}

// ---- 2. 100k-file project vs 1-file project

type m2Row struct {
	Mode             string
	Err              string
	One, Many        stat
	Ratio            float64
	RatioLo, RatioHi float64 // 95 % interval of Ratio
	Diff             time.Duration
	RatioN           int
	// OwnDiff is the median over rounds of hpr's own work (ownWork) in the
	// 100k project minus in the 1-file one; HprPart is 1 + OwnDiff over the
	// 1-file run's median: the ratio hpr's own work makes.
	OwnDiff time.Duration
	HprPart float64
}

func (b *bench) measureProjectSize(ctx context.Context) {
	var arms []arm
	where := map[string]int{}
	for _, e := range b.cfg.engines {
		if b.opened[e.Mode] == nil {
			b.rep.m2 = append(b.rep.m2, m2Row{Mode: e.Mode, Err: "engine did not open: " + b.openErr[e.Mode]})
			continue
		}
		b.rep.m2 = append(b.rep.m2, m2Row{Mode: e.Mode})
		where[e.Mode] = len(arms)
		arms = append(arms,
			arm{e.Mode + "/1", b.tracedHPR(b.p1, "run", "--engine", e.Endpoint, "--", "true").run},
			arm{e.Mode + "/100k", b.tracedHPR(b.p100k, "run", "--engine", e.Endpoint, "--", "true").run},
		)
	}
	if len(arms) == 0 {
		return
	}
	// A ratio that must stay within 3 % of 1 on runs that spread ±15 %:
	// twice the rounds, as in measure 1.
	res := interleave("measure 2", 1, 2*b.cfg.runs, arms, b.settle)
	for i := range b.rep.m2 {
		row := &b.rep.m2[i]
		w, ok := where[row.Mode]
		if !ok {
			continue
		}
		one, many := res[w], res[w+1]
		b.rep.raw["2/"+row.Mode+"/1"] = one
		b.rep.raw["2/"+row.Mode+"/100k"] = many
		row.One, row.Many = stats(one), stats(many)
		row.Ratio, row.RatioN = pairRatio(many, one)
		row.RatioLo, row.RatioHi = medianCI(pairRatios(many, one))
		row.Diff, _ = pairDiff(many, one)
		row.OwnDiff = medianDur(pairOwnDiffs(many, one))
		if row.One.Med > 0 {
			row.HprPart = 1 + float64(row.OwnDiff)/float64(row.One.Med)
		}
	}
}

// ---- 3. second run of an unchanged build vs a plain run; compose anchor

type m3Row struct {
	Mode, Tag   string
	Err         string
	Build       time.Duration // hpr build in setup (first build or cache hit)
	Blog, Plain stat
	Ratio       float64
	RatioN      int
	Diff        time.Duration
	Check       stat
	CheckSteps  map[string]time.Duration
}

type composeRes struct {
	Err                               string
	RoundsA, RoundsB                  int
	HprS1, HprS100k, RunS1, RunS100k  stat
	UpS1, HprS100kB, UpS100k          stat
	RatioRun1, RatioRun100k, RatioUp1 float64
	RatioUp100k                       float64
	ComposeVersion                    string
}

func (b *bench) measureBlogAndCompose(ctx context.Context) {
	logf("measure 3: building examples/blog on every engine at once (a first build is ~1 min)")
	b.buildBlog()
	var arms []arm
	where := map[string]int{}
	for _, e := range b.cfg.engines {
		row := m3Row{Mode: e.Mode, Tag: b.blogTag[e.Mode], Err: b.blogErr[e.Mode], Build: b.rep.blogBuild[e.Mode]}
		b.rep.m3 = append(b.rep.m3, row)
		if row.Err != "" || row.Tag == "" {
			continue
		}
		where[e.Mode] = len(arms)
		arms = append(arms,
			arm{e.Mode + "/blog", b.hprCmd(b.blog, "run", "--engine", e.Endpoint, "--", "true").run},
			arm{e.Mode + "/plain", b.hprCmd(b.blog, "run", "--engine", e.Endpoint, "--image", row.Tag, "--", "true").run},
			arm{e.Mode + "/check", b.buildCheckArm(ctx, e.Mode, b.blog)},
		)
	}
	if len(arms) > 0 {
		res := interleave("measure 3 (blog)", 1, b.cfg.runs, arms, b.settle)
		for i := range b.rep.m3 {
			row := &b.rep.m3[i]
			w, ok := where[row.Mode]
			if !ok {
				continue
			}
			blog, plain, check := res[w], res[w+1], res[w+2]
			b.rep.raw["3/"+row.Mode+"/blog"] = blog
			b.rep.raw["3/"+row.Mode+"/plain"] = plain
			b.rep.raw["3/"+row.Mode+"/check"] = check
			row.Blog, row.Plain, row.Check = stats(blog), stats(plain), stats(check)
			row.Ratio, row.RatioN = pairRatio(blog, plain)
			row.Diff, _ = pairDiff(blog, plain)
			row.CheckSteps = stepMedians(check)
		}
	}
	b.measureCompose(ctx)
}

func (b *bench) measureCompose(ctx context.Context) {
	cr := &b.rep.compose
	ep := b.endpoint("docker-rootful")
	if ep == "" || b.opened["docker-rootful"] == nil {
		cr.Err = "rootful Docker is not among the engines"
		return
	}
	v := command{env: b.env(), argv: []string{b.cfg.compose, "version", "--short"}, keepStdout: true}.run()
	if !v.ok() {
		cr.Err = "docker-compose does not run: " + v.Err
		return
	}
	cr.ComposeVersion = strings.TrimSpace(v.Out)
	hpr := func(dir string) func() result {
		return b.hprCmd(dir, "run", "--engine", ep, "--", "true").run
	}
	// Group A: everything that is quick enough for every round.
	arms := []arm{
		{"hpr s1", hpr(b.s1)},
		{"hpr s100k", hpr(b.s100k)},
		{"compose run s1", b.composeCmd(b.s1, "run", "--rm", "app", "true").run},
		{"compose run s100k", b.composeCmd(b.s100k, "run", "--rm", "app", "true").run},
		{"compose up s1", b.composeCmd(b.s1, "up", "--build").run},
	}
	cr.RoundsA = b.cfg.runs
	res := interleave("measure 3 (compose)", 1, cr.RoundsA, arms, b.settle)
	for i, a := range arms {
		b.rep.raw["3c/"+a.name] = res[i]
	}
	cr.HprS1, cr.HprS100k, cr.RunS1, cr.RunS100k, cr.UpS1 = stats(res[0]), stats(res[1]), stats(res[2]), stats(res[3]), stats(res[4])
	cr.RatioRun1, _ = pairRatio(res[0], res[2])
	cr.RatioRun100k, _ = pairRatio(res[1], res[3])
	cr.RatioUp1, _ = pairRatio(res[0], res[4])

	// Group B: `up --build` of 100k files uploads the whole context every
	// time (over a minute here); a few rounds, no warm-up (the image was
	// built by `run` in group A's warm-up, so every run is alike).
	up := b.composeCmd(b.s100k, "up", "--build")
	rounds := b.cfg.anchorRuns
	cr.RoundsB = rounds
	armsB := []arm{{"hpr s100k", hpr(b.s100k)}, {"compose up s100k", up.run}}
	resB := interleave("measure 3 (compose up, 100k)", 0, rounds, armsB, b.settle)
	if st := stats(resB[1]); st.N == 0 {
		cr.Err = "docker-compose up --build (100k files): " + st.FirstErr
	}
	b.rep.raw["3c/B/hpr s100k"] = resB[0]
	b.rep.raw["3c/B/compose up s100k"] = resB[1]
	cr.HprS100kB, cr.UpS100k = stats(resB[0]), stats(resB[1])
	cr.RatioUp100k, _ = pairRatio(resB[0], resB[1])
}

// ---- 4. conformance over all engines, warm

type m4Engine struct {
	Endpoint, Mode string
	Pass           bool
	Checks, Passed int
	Alone          stat
}

type m4Res struct {
	Err     string
	Args    []string
	Rounds  int
	Warmup  time.Duration
	Total   stat
	Pass    bool
	Engines []m4Engine
	Failed  string // first failing check, if any
}

type conformanceJSON struct {
	Pass    bool `json:"pass"`
	Engines []struct {
		Endpoint string `json:"endpoint"`
		Mode     string `json:"mode"`
		Pass     bool   `json:"pass"`
		Checks   []struct {
			ID     string `json:"id"`
			Pass   bool   `json:"pass"`
			Detail string `json:"detail"`
		} `json:"checks"`
	} `json:"engines"`
}

func (b *bench) measureConformance(ctx context.Context) {
	m := &b.rep.m4
	args := []string{"conformance", "--engine", "docker", "--engine", "podman"}
	if ep := b.endpoint("docker-userns-remap"); ep != "" {
		args = append(args, "--engine", ep)
	}
	args = append(args, "--json")
	m.Args = args
	help := b.hprCmd(b.adhoc, "conformance", "--help")
	help.keepStdout = true
	if r := help.run(); !r.ok() {
		m.Err = "`hpr conformance` is not available in this build (" + lastLines(r.Err, 1) + ")"
		return
	}
	c := b.hprCmd(b.adhoc, args...)
	c.keepStdout = true
	warm := c.run() // imports the probe image where it is missing
	m.Warmup = warm.D
	var parsed conformanceJSON
	if err := json.Unmarshal([]byte(warm.Out), &parsed); err != nil {
		m.Err = fmt.Sprintf("`hpr %s` did not print a JSON report (%v): %s", strings.Join(args, " "), err, lastLines(warm.Err, 2))
		return
	}
	rounds := b.cfg.runs
	if per := warm.D; time.Duration(rounds)*per > 2*time.Minute {
		rounds = max(3, min(b.cfg.runs, int(2*time.Minute/max(per, time.Millisecond))))
	}
	m.Rounds = rounds
	var last result
	res := interleave("measure 4", 0, rounds, []arm{{"conformance", func() result {
		r := c.run()
		// Exit 1 is a failed check, not a failed measurement.
		if !r.ok() && json.Valid([]byte(r.Out)) {
			r.Err = ""
		}
		last = r
		return r
	}}}, b.settle)
	b.rep.raw["4/conformance"] = res[0]
	m.Total = stats(res[0])
	if err := json.Unmarshal([]byte(last.Out), &parsed); err == nil {
		m.Pass = parsed.Pass
		for _, e := range parsed.Engines {
			me := m4Engine{Endpoint: e.Endpoint, Mode: e.Mode, Pass: e.Pass, Checks: len(e.Checks)}
			for _, ch := range e.Checks {
				if ch.Pass {
					me.Passed++
				} else if m.Failed == "" {
					m.Failed = fmt.Sprintf("%s: %s: %s", e.Mode, ch.ID, ch.Detail)
				}
			}
			m.Engines = append(m.Engines, me)
		}
	}
	// Where the time goes, when the budget is missed: each engine alone.
	if m.Total.N > 0 && m.Total.Med <= budgetConformance {
		return
	}
	aloneRounds := 2
	for i := range m.Engines {
		e := &m.Engines[i]
		ca := b.hprCmd(b.adhoc, "conformance", "--engine", e.Endpoint, "--json")
		ca.keepStdout = true
		rs := interleave("measure 4 ("+e.Mode+" alone)", 0, aloneRounds, []arm{{e.Mode, func() result {
			r := ca.run()
			if !r.ok() && json.Valid([]byte(r.Out)) {
				r.Err = ""
			}
			return r
		}}}, b.settle)
		b.rep.raw["4/alone/"+e.Mode] = rs[0]
		e.Alone = stats(rs[0])
	}
}

// ---- 5. cold start, peak RSS, binary size

type m5Res struct {
	Version, True stat
	VersionDiff   time.Duration
	InitTop       []initEntry
	InitTotal     time.Duration
	Size          int64
	Stripped      bool
	StripErr      string
	Packages      []pkgSize
}

type initEntry struct {
	Pkg   string
	Clock time.Duration
	Alloc string
}

type pkgSize struct {
	Pkg  string
	Size int64
}

func (b *bench) measureStartup(ctx context.Context) {
	m := &b.rep.m5
	v := b.hprCmd(b.adhoc, "version")
	tr := command{dir: b.adhoc, env: b.env(), argv: []string{"/bin/true"}}
	res := interleave("measure 5", 3, b.cfg.versionRuns, []arm{{"version", v.run}, {"/bin/true", tr.run}}, nil)
	b.rep.raw["5/version"] = res[0]
	b.rep.raw["5/true"] = res[1]
	m.Version, m.True = stats(res[0]), stats(res[1])
	m.VersionDiff, _ = pairDiff(res[0], res[1])

	// Where start-up goes: the runtime's own package init trace.
	it := command{dir: b.adhoc, env: b.env("GODEBUG=inittrace=1"), argv: []string{b.cfg.hpr, "version"}}
	var best []initEntry
	var bestTotal time.Duration
	for range 5 {
		entries, total := parseInitTrace(it)
		if best == nil || total < bestTotal {
			best, bestTotal = entries, total
		}
	}
	sort.Slice(best, func(i, j int) bool { return best[i].Clock > best[j].Clock })
	m.InitTop = best[:min(10, len(best))]
	m.InitTotal = bestTotal

	if fi, err := os.Stat(b.cfg.hpr); err == nil {
		m.Size = fi.Size()
	}
	if f, err := elf.Open(b.cfg.hpr); err != nil {
		m.StripErr = err.Error()
	} else {
		m.Stripped = f.Section(".symtab") == nil
		f.Close()
	}
	if b.cfg.nmFile != "" {
		m.Packages = packageSizes(b.cfg.nmFile)
	}
}

var initRe = regexp.MustCompile(`^init (\S+) @[0-9.]+ ms, ([0-9.]+) ms clock, (\d+) bytes`)

// parseInitTrace runs c with GODEBUG=inittrace=1 and sums the package
// initialisers' clock time.
func parseInitTrace(c command) ([]initEntry, time.Duration) {
	cmd := exec.Command(c.argv[0], c.argv[1:]...)
	cmd.Dir, cmd.Env = c.dir, c.env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, 0
	}
	var out []initEntry
	var total time.Duration
	sc := bufio.NewScanner(&stderr)
	for sc.Scan() {
		m := initRe.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		msF, _ := strconv.ParseFloat(m[2], 64)
		d := time.Duration(msF * float64(time.Millisecond))
		total += d
		out = append(out, initEntry{Pkg: m[1], Clock: d, Alloc: m[3]})
	}
	return out, total
}

// packageSizes sums `go tool nm -size` symbol sizes by module-ish prefix.
func packageSizes(path string) []pkgSize {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	by := map[string]int64{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 4 || (fs[2] != "T" && fs[2] != "t") {
			continue // code only: data symbols include BSS, which takes no file space
		}
		size, err := strconv.ParseInt(fs[1], 10, 64)
		if err != nil {
			continue
		}
		by[groupOf(strings.Join(fs[3:], " "))] += size
	}
	var out []pkgSize
	for k, v := range by {
		out = append(out, pkgSize{k, v})
	}
	slices.SortFunc(out, func(a, b pkgSize) int { return int(b.Size - a.Size) })
	return out[:min(12, len(out))]
}

func groupOf(sym string) string {
	if strings.HasPrefix(sym, "go:") || strings.HasPrefix(sym, "type:") || strings.HasPrefix(sym, "runtime.") {
		if i := strings.IndexAny(sym, ".:"); i > 0 {
			return "(" + sym[:i] + ")"
		}
	}
	slash := strings.LastIndex(sym, "/")
	pkg := sym
	if i := strings.Index(sym[slash+1:], "."); i >= 0 {
		pkg = sym[:slash+1+i]
	}
	parts := strings.Split(pkg, "/")
	if !strings.Contains(parts[0], ".") {
		return "std"
	}
	n := 3
	switch parts[0] {
	case "github.com", "golang.org", "go.podman.io", "google.golang.org", "k8s.io":
		n = 3
	}
	if parts[0] == "go.podman.io" || parts[0] == "google.golang.org" || parts[0] == "k8s.io" {
		n = 2
	}
	if len(parts) > n {
		parts = parts[:n]
	}
	return strings.ReplaceAll(strings.Join(parts, "/"), "%2e", ".")
}

// ---- 6. first keep-id run of a new image on rootless Podman

type m6Res struct {
	Err              string
	Rounds           int
	Base             string
	Commit, Identity stat
	First, Later     stat
	Ratio            float64
}

func (b *bench) measureKeepID(ctx context.Context) {
	m := &b.rep.m6
	const mode = "podman-rootless"
	ep := b.endpoint(mode)
	e := b.opened[mode]
	switch {
	case ep == "" || e == nil:
		m.Err = "rootless Podman is not among the engines that opened"
		return
	case b.blogTag[mode] == "":
		if b.blogTag == nil {
			b.buildBlog()
		}
		if b.blogTag[mode] == "" {
			m.Err = "the blog image was not built on rootless Podman: " + b.blogErr[mode]
			return
		}
	}
	m.Base = b.blogTag[mode]
	podman := func(args ...string) command {
		return command{dir: b.adhoc, env: b.env(), argv: append([]string{b.cfg.podman, "--url", ep}, args...), keepStdout: true}
	}
	rounds := b.cfg.slowRuns
	m.Rounds = rounds
	var commits, idents, firsts, laters []result
	hprRun := func(tag string) result {
		b.settle()
		return b.hprCmd(b.adhoc, "run", "--engine", ep, "--image", tag, "--", "true").run()
	}
	for i := range rounds {
		tag := fmt.Sprintf("localhost/hpr-bench-keepid:%d-%d", os.Getpid(), i)
		// A new image ID over the blog image's layers: podman keeps the
		// keep-id copy per image, so this one has none yet.
		cr := podman("create", m.Base, "true").run()
		if !cr.ok() {
			m.Err = "podman create: " + cr.Err
			return
		}
		cid := strings.TrimSpace(cr.Out)
		cm := podman("commit", "-q", cid, tag).run()
		_ = podman("rm", "-f", cid).run()
		commits = append(commits, cm)
		if !cm.ok() {
			m.Err = "podman commit: " + cm.Err
			return
		}
		// hpr reads the new image's /etc/passwd once (a container in the
		// default mapping: no keep-id copy); do it before timing the run.
		s := time.Now()
		_, err := runtime.PlanFor(ctx, e, e.About, b.host, tag, idmap.OverrideAuto)
		id := result{D: time.Since(s)}
		if err != nil {
			id.Err = err.Error()
		}
		idents = append(idents, id)
		firsts = append(firsts, hprRun(tag))
		laters = append(laters, hprRun(tag))
		for range 2 {
			r := hprRun(tag)
			b.rep.raw["6/later-extra"] = append(b.rep.raw["6/later-extra"], r)
		}
		b.settle() // the image is in use until Podman has removed the last run's container
		if r := podman("rmi", tag).run(); !r.ok() {
			logf("measure 6: %s", r.Err)
		}
		logf("measure 6: round %d/%d: first %s, later %s", i+1, rounds, firsts[i].D.Round(time.Millisecond), laters[i].D.Round(time.Millisecond))
	}
	b.rep.raw["6/commit"] = commits
	b.rep.raw["6/identity"] = idents
	b.rep.raw["6/first"] = firsts
	b.rep.raw["6/later"] = laters
	m.Commit, m.Identity, m.First = stats(commits), stats(idents), stats(firsts)
	m.Later = stats(append(slices.Clone(laters), b.rep.raw["6/later-extra"]...))
	m.Ratio, _ = pairRatio(firsts, laters)
}
