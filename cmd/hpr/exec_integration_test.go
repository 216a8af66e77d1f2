//go:build integration

package main_test

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hostpersist/hpr/internal/testenv"
)

// TestExecAndTwoRuns: hpr exec enters the project's running container as the
// mapped user, in the directory matching the host's; a second hpr run of the
// same project at the same time works too (distinct container names).
func TestExecAndTwoRuns(t *testing.T) {
	testenv.NonRoot(t)
	testenv.Each(t, func(t *testing.T, te testenv.Engine) {
		dir := t.TempDir()
		write(t, filepath.Join(dir, "hpr.toml"), "[image]\nref = \"debian:bookworm-slim\"\n")
		sub := filepath.Join(dir, "sub")
		os.MkdirAll(sub, 0o755)
		p := startUntil(t, dir, "run", "--engine", te.Endpoint, "--", "sh", "-c", "touch started; sleep 300")

		code, stdout, errOut := hpr(t, sub, nil, "exec", "--engine", te.Endpoint, "--", "sh", "-c", "pwd; whoami; touch from-exec")
		if code != 0 {
			t.Fatalf("hpr exec: exit %d, %q", code, errOut)
		}
		lines := strings.Split(strings.TrimSpace(stdout), "\n")
		if len(lines) != 2 || lines[0] != "/app/sub" || lines[1] == "" {
			t.Errorf("exec pwd/whoami = %q, want /app/sub and a name", lines)
		}
		wantMine(t, filepath.Join(sub, "from-exec"))
		if code, _, _ := hpr(t, dir, nil, "exec", "--engine", te.Endpoint, "--", "sh", "-c", "exit 4"); code != 4 {
			t.Errorf("hpr exec -- exit 4: exit %d", code)
		}

		// Two more runs of the same project at once, while the first runs.
		bin := testenv.Bin(t)
		var wg sync.WaitGroup
		runs := make([]testenv.Ran, 2)
		errs := make([]error, 2)
		for i := range runs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				runs[i], errs[i] = testenv.RunHpr(bin, dir, nil, nil, "run", "--engine", te.Endpoint, "--", "true")
			}()
		}
		wg.Wait()
		for i, r := range runs {
			if errs[i] != nil || r.Code != 0 {
				t.Errorf("concurrent run %d of one project: exit %d, %v, stderr %q; want 0", i, r.Code, errs[i], r.Stderr)
			}
		}

		p.signal(t, os.Interrupt)
		p.end(t, 20*time.Second, "SIGINT")
		noneLeft(t, te.Endpoint, dir)
		if code, _, errOut := hpr(t, dir, nil, "exec", "--engine", te.Endpoint, "--", "true"); code != 125 || !strings.Contains(errOut, "hpr run") {
			t.Errorf("exec with nothing running: exit %d, %q; want 125 pointing to hpr run", code, errOut)
		}
	})
}
