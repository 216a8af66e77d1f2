package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hostpersist/hpr/project"
)

// ---- 8. a project described by docker-compose.yml vs the same by hpr.toml

// budgetComposeRatio bounds hpr run of a compose project against the same
// project described by hpr.toml.
const budgetComposeRatio = 1.05

type m8Row struct {
	Mode           string
	Compose, Toml  stat
	Ratio          float64
	RatioN         int
	Trace          map[string]time.Duration // the compose run's HPR_TRACE steps, medians
	TomlTrace      map[string]time.Duration
	DockerCompose  stat    // docker-compose run --rm, rootful Docker only
	RatioDC        float64 // hpr (compose) / docker-compose run --rm
	ComposeVersion string
}

type m8Res struct {
	Err          string
	Rows         []m8Row
	Load, LoadTo stat // project.Open of each, in-process
}

// measureComposeProject times `hpr run -- true` in a seed-style project
// that has only a docker-compose.yml against the same project described by
// an hpr.toml (same Dockerfile, same command), on every engine, and against
// `docker-compose run --rm` of the same service on rootful Docker.
func (b *bench) measureComposeProject(ctx context.Context) {
	m := &b.rep.m8
	cdir, tdir := filepath.Join(b.cfg.work, "c1"), filepath.Join(b.cfg.work, "t1")
	dockerfile := "FROM " + b.cfg.image + "\nARG UID=1000\nARG GID=1000\nWORKDIR /app\nUSER ${UID}:${GID}\n"
	files := map[string]string{
		filepath.Join(cdir, "Dockerfile"):         dockerfile,
		filepath.Join(cdir, "docker-compose.yml"): "services:\n  app:\n    build:\n      context: .\n      args:\n        - UID=${UID}\n        - GID=${GID}\n    command: [\"true\"]\n    volumes:\n      - .:/app\n",
		filepath.Join(tdir, "Dockerfile"):         dockerfile,
		filepath.Join(tdir, "hpr.toml"):           "[image]\nbuild = \".\"\n\n[run]\ncommand = [\"true\"]\n",
	}
	for p, content := range files {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			m.Err = err.Error()
			return
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			m.Err = err.Error()
			return
		}
	}
	var arms []arm
	for _, e := range b.cfg.engines {
		if b.opened[e.Mode] == nil {
			continue
		}
		m.Rows = append(m.Rows, m8Row{Mode: e.Mode})
		args := []string{"run", "--engine", e.Endpoint, "--", "true"}
		arms = append(arms, arm{e.Mode + "/compose", b.tracedHPR(cdir, args...).run}, arm{e.Mode + "/toml", b.tracedHPR(tdir, args...).run})
	}
	dc := -1
	if v := (command{env: b.env(), argv: []string{b.cfg.compose, "version", "--short"}, keepStdout: true}).run(); v.ok() && b.opened["docker-rootful"] != nil {
		dc = len(arms)
		arms = append(arms, arm{"docker-compose run", b.composeCmd(cdir, "run", "--rm", "app", "true").run})
		for i := range m.Rows {
			if m.Rows[i].Mode == "docker-rootful" {
				m.Rows[i].ComposeVersion = strings.TrimSpace(v.Out)
			}
		}
	}
	load := func(dir string) func() result {
		return func() result {
			t := time.Now()
			_, err := project.Open(dir, project.OpenOptions{Require: project.RequireImage})
			r := result{D: time.Since(t)}
			if err != nil {
				r.Err = err.Error()
			}
			return r
		}
	}
	loads := len(arms)
	arms = append(arms, arm{"load compose", load(cdir)}, arm{"load toml", load(tdir)})
	// The warm-up round builds both images.
	res := interleave("measure 8 (compose project)", 1, 2*b.cfg.runs, arms, b.settle)
	for i := range m.Rows {
		row := &m.Rows[i]
		c, t := res[2*i], res[2*i+1]
		b.rep.raw["7/"+row.Mode+"/compose"], b.rep.raw["7/"+row.Mode+"/toml"] = c, t
		row.Compose, row.Toml = stats(c), stats(t)
		row.Ratio, row.RatioN = pairRatio(c, t)
		row.Trace, row.TomlTrace = stepMedians(c), stepMedians(t)
		if dc >= 0 && row.Mode == "docker-rootful" {
			b.rep.raw["7/docker-compose"] = res[dc]
			row.DockerCompose = stats(res[dc])
			row.RatioDC, _ = pairRatio(c, res[dc])
		}
	}
	m.Load, m.LoadTo = stats(res[loads]), stats(res[loads+1])
}

// composeSection writes measure 8 and adds its budgets.
func (r *report) composeSection(q func(string, ...any), budgets *[]budgetLine) {
	title := "## 8. `hpr run -- true`: a project described by docker-compose.yml vs by hpr.toml\n\n"
	if !r.cfg.measures["8"] {
		q(title + "Not run in this invocation (`HPR_BENCH_MEASURES`).\n\n")
		return
	}
	q(title)
	m := r.m8
	if m.Err != "" {
		q("**Not measured:** %s\n\n", m.Err)
		return
	}
	q("Two seed-style projects with the same Dockerfile (`FROM %s`, `ARG UID`, `ARG GID`, `USER ${UID}:${GID}`): *compose* has only a docker-compose.yml (`build.args: [UID=${UID}, GID=${GID}]`, `.:/app`, `command: [\"true\"]`), *toml* only an hpr.toml (`[image] build = \".\"`, `command = [\"true\"]`). ", r.cfg.image)
	q("Both run `hpr run --engine EP -- true`, traced; their images were built in the warm-up round. *load* is `project.Open` alone, in-process: compose %s%s ms, hpr.toml %s%s ms. ", fmtStat(m.Load), failNote(m.Load), fmtStat(m.LoadTo), failNote(m.LoadTo))
	q("*docker-compose run* is `docker-compose run --rm app true` in the compose project on rootful Docker, with `UID`/`GID` exported as the seed's `docker_env` did. %d rounds.\n\n", 2*r.cfg.runs)
	q("| engine | compose | hpr.toml | compose/toml | budget | | project step (compose / toml) | docker-compose run --rm | hpr/docker-compose |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, row := range m.Rows {
		ok := row.RatioN > 0 && row.Ratio <= budgetComposeRatio
		st := verdict(ok)
		if row.RatioN == 0 {
			st = "not measured"
		}
		dc, dcr := "", ""
		if row.DockerCompose.N > 0 || row.DockerCompose.Failed > 0 {
			dc = fmtStat(row.DockerCompose) + failNote(row.DockerCompose) + " (" + row.ComposeVersion + ")"
			dcr = fmtRatio(row.RatioDC)
		}
		q("| %s | %s%s | %s%s | %s | ≤ 1.05× | %s | %s / %s ms | %s | %s |\n", row.Mode, fmtStat(row.Compose), failNote(row.Compose), fmtStat(row.Toml), failNote(row.Toml),
			fmtRatio(row.Ratio), st, ms(row.Trace["project"]), ms(row.TomlTrace["project"]), dc, dcr)
		*budgets = append(*budgets, budgetLine{"compose project / hpr.toml project, " + row.Mode, "≤ 1.05×", fmtRatio(row.Ratio), st})
	}
	q("\n*project step* is the `project` line of HPR_TRACE (finding and loading the project file). No budget against docker-compose: it is the anchor.\n\n")
}
