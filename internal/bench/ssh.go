package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/hostpersist/hpr/internal/rundir"
	"github.com/hostpersist/hpr/runtime/sshconn"
)

// ---- 7. hpr run on an ssh:// engine vs the engines' CLIs over ssh

// sshTarget is the harness's sshd, from its env file's variables: ssh
// reaches the test user's own engines there.
type sshTarget struct {
	host, port, user, key string
}

func (s sshTarget) uri(path string) string {
	return fmt.Sprintf("ssh://%s@%s:%s%s", s.user, s.host, s.port, path)
}

type m7Row struct {
	Mode, URI, CLI string
	Err            string
	// HPR is a run with hpr's ssh connection open (it stays open for
	// sshconn.ControlPersist after a run); Cold one with it closed first.
	HPR, Cold, CLIStat stat
	Ratio, ColdRatio   float64
	RatioN             int
	Trace              map[string]time.Duration
	TraceOrder         []string
}

// sshModes are the harness's engines measured over ssh: the two the
// issue names, reached as a user reaches them (the URI that `docker
// context create` and `podman system connection add` record).
var sshModes = []string{"docker-rootful", "podman-rootless"}

func (b *bench) measureSSH(ctx context.Context) {
	t := sshTarget{os.Getenv("HPR_SSH_HOST"), os.Getenv("HPR_SSH_PORT"), os.Getenv("HPR_TEST_USER"), filepath.Join(os.Getenv("HOME"), ".ssh", "id_ed25519")}
	if t.host == "" || t.port == "" || t.user == "" {
		b.rep.m7 = []m7Row{{Mode: "ssh", Err: "no harness sshd (HPR_SSH_* unset): sudo scripts/engines.sh up"}}
		return
	}
	var arms []arm
	for _, mode := range sshModes {
		row := m7Row{Mode: mode, URI: t.uri("")}
		if mode == "podman-rootless" {
			row.URI = t.uri(strings.TrimPrefix(b.endpoint(mode), "unix://"))
		}
		cli := b.sshCLI(mode, row.URI, t.key)
		row.CLI = strings.ReplaceAll(strings.Join(cli.argv, " "), b.adhoc, "DIR")
		row.CLI = strings.ReplaceAll(row.CLI, b.cfg.docker, "docker")
		row.CLI = strings.ReplaceAll(row.CLI, b.cfg.podman, "podman")
		b.rep.m7 = append(b.rep.m7, row)
		args := []string{"run", "--engine", row.URI, "--remote-root", b.adhoc, "--image", b.cfg.image, "--", "true"}
		warm := b.tracedHPR(b.adhoc, args...)
		arms = append(arms,
			arm{mode + "/hpr", warm.run},
			arm{mode + "/hpr-cold", func() result { t.closeMaster(); return b.hprCmd(b.adhoc, args...).run() }},
			arm{mode + "/cli", cli.run},
		)
	}
	res := interleave("measure 7", 1, b.cfg.runs, arms, b.settle)
	for i := range b.rep.m7 {
		row := &b.rep.m7[i]
		h, cold, c := res[3*i], res[3*i+1], res[3*i+2]
		for k, v := range map[string][]result{"hpr": h, "hpr-cold": cold, "cli": c} {
			b.rep.raw["7/"+row.Mode+"/"+k] = v
		}
		row.HPR, row.Cold, row.CLIStat = stats(h), stats(cold), stats(c)
		row.Ratio, row.RatioN = pairRatio(h, c)
		row.ColdRatio, _ = pairRatio(cold, c)
		row.Trace = stepMedians(h)
		for _, x := range h {
			if len(x.Order) > len(row.TraceOrder) {
				row.TraceOrder = x.Order
			}
		}
	}
}

// sshCLI is the engine's own CLI over ssh doing what `hpr run
// --remote-root DIR --image IMG -- true` does there. Podman's remote
// client takes the key explicitly: its ssh client offers no default key.
func (b *bench) sshCLI(mode, uri, key string) command {
	ug := fmt.Sprintf("%d:%d", b.uid, b.gid)
	mount := []string{"-v", b.adhoc + ":/app", "-w", "/app", b.cfg.image, "true"}
	if mode == "podman-rootless" {
		return command{dir: b.adhoc, env: b.env(), argv: cat([]string{b.cfg.podman, "--url", uri, "--identity", key, "run", "--rm", "--userns=keep-id"}, mount)}
	}
	return command{dir: b.adhoc, env: b.env(), argv: cat([]string{b.cfg.docker, "-H", uri, "run", "--rm", "--user", ug}, mount)}
}

// closeMaster ends hpr's ssh master connection to the target, untimed, so
// that the next hpr logs in anew.
func (t sshTarget) closeMaster() {
	dir := filepath.Join(rundir.Path(), "ssh")
	_ = exec.Command("ssh", "-o", "ControlPath="+dir+"/%C", "-p", t.port, "-l", t.user, "-O", "exit", "--", t.host).Run()
}

// sshSection writes measure 7 and adds its budgets.
func (r *report) sshSection(q func(string, ...any), budgets *[]budgetLine) {
	q("## 7. `hpr run -- true` on an ssh:// engine vs `docker -H ssh://…` and `podman --url ssh://…`\n\n")
	if !r.cfg.measures["7"] {
		q("Not run in this invocation (`HPR_BENCH_MEASURES`).\n\n")
		return
	}
	q("%d rounds. The harness's sshd on 127.0.0.1 reaches the test user's own engines, as a remote host would (the key exchange and login are real; the network is loopback). ", r.cfg.runs)
	q("*hpr*: `hpr run --engine URI --remote-root DIR --image debian:bookworm-slim -- true` (traced), with hpr's ssh master connection open: hpr keeps one per user, host and port for %d s after its last use (OpenSSH ControlMaster/ControlPersist, in `$XDG_RUNTIME_DIR/hpr/ssh`), so a run within that time logs in no more. ", int(sshconn.ControlPersist/time.Second))
	q("*hpr, cold*: the same, with that connection closed first (untimed): what the first run pays. ")
	q("*CLI*: the engine's CLI over ssh doing the same (commands below); both log in anew as they do by default (docker's connection helper runs one ssh per connection; podman's own ssh client one per command). ")
	q("The budget is judged on the *hpr* figure.\n\n")
	q("| engine | hpr | hpr, cold | CLI | hpr/CLI | budget | | cold/CLI |\n|---|---|---|---|---|---|---|---|\n")
	for _, row := range r.m7 {
		if row.Err != "" {
			q("| %s | not measured: %s | | | | | | |\n", row.Mode, oneLine(row.Err, 200))
			*budgets = append(*budgets, budgetLine{"`hpr run -- true` over ssh / CLI, " + row.Mode, "", "not measured", "not measured: " + oneLine(row.Err, 80)})
			continue
		}
		lim, limS := runBudget(row.Mode)
		st := verdict(row.RatioN > 0 && row.Ratio <= lim)
		if row.RatioN == 0 {
			st = "not measured"
		}
		q("| %s | %s%s | %s%s | %s%s | %s | %s | %s | %s |\n", row.Mode, fmtStat(row.HPR), failNote(row.HPR), fmtStat(row.Cold), failNote(row.Cold),
			fmtStat(row.CLIStat), failNote(row.CLIStat), fmtRatio(row.Ratio), limS, st, fmtRatio(row.ColdRatio))
		*budgets = append(*budgets, budgetLine{"`hpr run -- true` over ssh / CLI, " + row.Mode, limS, fmtRatio(row.Ratio), st})
	}
	q("\nCLI commands (DIR is the directory hpr mounts, here on the same machine as the engine):\n\n")
	for _, row := range r.m7 {
		if row.Err == "" {
			q("- %s: `%s`\n", row.Mode, row.CLI)
		}
	}
	q("\nhpr's steps over ssh (medians of the *hpr* runs, ms; *remote root's owner* is the `stat` of DIR over the same connection, and *create* includes publishing the identity files there):\n\n")
	var orders [][]string
	for _, row := range r.m7 {
		orders = append(orders, row.TraceOrder)
	}
	order := unionOrder(orders)
	stepHeader(q, order, "hpr run")
	for _, row := range r.m7 {
		if row.Err == "" && row.HPR.N > 0 {
			stepCells(q, row.Mode, order, row.Trace)
			q(" %s |\n", ms(row.HPR.Med))
		}
	}
	q("\n")
}
