package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// event is one test2json event (go doc cmd/test2json).
type event struct {
	Time        time.Time
	Action      string
	Package     string
	Test        string
	Elapsed     float64
	Output      string
	ImportPath  string // build-output, build-fail
	FailedBuild string
}

// result is what became of one test or subtest.
type result struct {
	Package string
	Test    string
	Action  string // pass, fail, skip; "" while it has not ended
	// Elapsed is from its start to its end, parallel subtests included
	// (test2json's own figure leaves them out).
	Elapsed float64
	started time.Time
	// Output is what the test printed, framing lines (=== RUN, --- PASS …)
	// left out.
	Output []string
}

// Name is the package (relative to the module) and the test.
func (r *result) Name() string { return shortPackage(r.Package) + " " + r.Test }

// Reason is a skipped test's own words: its output, one line.
func (r *result) Reason() string {
	var parts []string
	for _, l := range r.Output {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	if len(parts) == 0 {
		return "(no reason given)"
	}
	return strings.Join(parts, " ")
}

// pkgResult is one package's end and the output that belongs to no test
// (a build failure, a panic outside a test, a timeout's stack dump).
type pkgResult struct {
	Action  string
	Elapsed float64
	Output  []string
}

// tally collects events into results, in the order tests started.
type tally struct {
	tests    map[string]*result // by package + "\x00" + test
	order    []*result
	packages map[string]*pkgResult
	pkgOrder []string
}

func newTally() *tally {
	return &tally{tests: map[string]*result{}, packages: map[string]*pkgResult{}}
}

// add records one event and returns the test or package result it ended, if
// it ended one.
func (t *tally) add(e event) (ended *result, pkgEnded string) {
	if e.Action == "build-output" || e.Action == "build-fail" {
		p := t.pkg(e.ImportPath)
		p.Output = append(p.Output, strings.TrimRight(e.Output, "\n"))
		return nil, ""
	}
	if e.Test == "" {
		p := t.pkg(e.Package)
		switch e.Action {
		case "output":
			p.Output = append(p.Output, strings.TrimRight(e.Output, "\n"))
		case "pass", "fail", "skip":
			p.Action, p.Elapsed = e.Action, e.Elapsed
			return nil, e.Package
		}
		return nil, ""
	}
	r := t.test(e.Package, e.Test)
	switch e.Action {
	case "run":
		r.started = e.Time
	case "output":
		if !framing(e.Output) {
			r.Output = append(r.Output, strings.TrimRight(e.Output, "\n"))
		}
	case "pass", "fail", "skip":
		r.Action, r.Elapsed = e.Action, e.Elapsed
		if !r.started.IsZero() && !e.Time.IsZero() {
			r.Elapsed = max(r.Elapsed, e.Time.Sub(r.started).Seconds())
		}
		return r, ""
	}
	return nil, ""
}

func (t *tally) pkg(name string) *pkgResult {
	p, ok := t.packages[name]
	if !ok {
		p = &pkgResult{}
		t.packages[name] = p
		t.pkgOrder = append(t.pkgOrder, name)
	}
	return p
}

func (t *tally) test(pkg, name string) *result {
	k := pkg + "\x00" + name
	r, ok := t.tests[k]
	if !ok {
		r = &result{Package: pkg, Test: name}
		t.tests[k] = r
		t.order = append(t.order, r)
	}
	return r
}

// framing reports whether a line of output is test2json's framing rather
// than the test's own words.
func framing(line string) bool {
	l := strings.TrimSpace(line)
	for _, p := range []string{"=== RUN", "=== PAUSE", "=== CONT", "=== NAME", "--- PASS", "--- FAIL", "--- SKIP"} {
		if strings.HasPrefix(l, p) {
			return true
		}
	}
	return false
}

// read adds every event of r to t, and calls onEnd for every test or
// package that ends. Lines that are not JSON events are kept as the output
// of a pseudo package, notJSON, so nothing is lost.
func (t *tally) read(r io.Reader, onEnd func(*result, string)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.Action == "" {
			e = event{Action: "output", Package: notJSON, Output: sc.Text()}
		}
		ended, pkg := t.add(e)
		if onEnd != nil && (ended != nil || pkg != "") {
			onEnd(ended, pkg)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading test events: %w", err)
	}
	return nil
}

// notJSON is the pseudo package of lines that were not test events.
const notJSON = "(not JSON)"

// counts is the summary line's numbers.
type counts struct{ passed, failed, skipped int }

func (c counts) String() string {
	return fmt.Sprintf("%d passed, %d failed, %d skipped", c.passed, c.failed, c.skipped)
}

// summary counts every test and subtest. A test that started but never
// ended (its binary died) counts as failed, and so does a package that
// failed with no failed test to show for it (a build error, a timeout, a
// panic outside a test, a TestMain that exited non-zero).
func (t *tally) summary() (c counts, failed []*result, skipped []*result, brokenPkgs []string) {
	failedIn := map[string]bool{}
	for _, r := range t.order {
		switch r.Action {
		case "pass":
			c.passed++
		case "skip":
			c.skipped++
			skipped = append(skipped, r)
		default: // fail, or never ended
			c.failed++
			failed = append(failed, r)
			failedIn[r.Package] = true
		}
	}
	for _, p := range t.pkgOrder {
		if t.packages[p].Action == "fail" && !failedIn[p] {
			brokenPkgs = append(brokenPkgs, p)
			c.failed++
		}
	}
	sort.SliceStable(skipped, func(i, j int) bool { return skipped[i].Name() < skipped[j].Name() })
	return c, failed, skipped, brokenPkgs
}

// module is the import path package names are shortened against.
const module = "github.com/hostpersist/hpr"

func shortPackage(p string) string {
	if p == module {
		return "."
	}
	return strings.TrimPrefix(p, module+"/")
}
