// Command testreport reads the test2json events of hpr's test runs
// (scripts/test.sh, make test) and says what happened: as the tests run,
// one line a test and the output of every failure; at the end, every
// skipped test with its reason, the failed tests, and the line
// "N passed, N failed, N skipped", counting subtests.
//
//	testreport stream [-each] -o FILE  events on stdin: print progress, keep them in FILE
//	testreport summary [-allow F] [-require] FILE...
//
// A skip is allowed only when the allowlist F names it (scripts/skips.txt);
// with -require (HPR_REQUIRE_ENGINES=1) any other skip fails the run.
// summary exits 1 when a test failed or a skip is not allowed under
// -require.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: testreport stream -o FILE | summary [-allow FILE] [-require] FILE...")
		os.Exit(2)
	}
	var err error
	code := 0
	switch os.Args[1] {
	case "stream":
		err = stream(os.Args[2:], os.Stdin, os.Stdout)
	case "summary":
		code, err = summarize(os.Args[2:], os.Stdout)
	default:
		err = fmt.Errorf("unknown command %q: want stream or summary", os.Args[1])
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "testreport: %v\n", err)
		os.Exit(2)
	}
	os.Exit(code)
}

// stream copies the events on in to the file -o names, and prints a line
// for every top-level test and package that ends, with the output of
// whatever failed.
func stream(args []string, in io.Reader, out io.Writer) error {
	fs := flag.NewFlagSet("stream", flag.ContinueOnError)
	file := fs.String("o", "", "file to keep the events in")
	each := fs.Bool("each", false, "a line for every top-level test that passes, not only for every package")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *file == "" {
		return fmt.Errorf("stream: -o FILE is required")
	}
	f, err := os.Create(*file)
	if err != nil {
		return err
	}
	defer f.Close()
	t := newTally()
	p := &progress{t: t, out: out, each: *each}
	if err := t.read(io.TeeReader(in, f), p.ended); err != nil {
		return err
	}
	p.unended()
	return nil
}

// unended prints the tests that never ended — their binary died: a crash,
// a timeout, a kill — with the last of what they printed.
func (p *progress) unended() {
	for _, r := range p.t.order {
		if r.Action != "" {
			continue
		}
		fmt.Fprintf(p.out, "FAIL  %s (never ended: its test binary died or timed out)\n", r.Name())
		printTail(p.out, r.Output)
	}
}

// printTail prints the last maxPackageLines of lines, indented.
func printTail(out io.Writer, lines []string) {
	if len(lines) > maxPackageLines {
		fmt.Fprintf(out, "    ... %d lines before these (the whole log is kept)\n", len(lines)-maxPackageLines)
		lines = lines[len(lines)-maxPackageLines:]
	}
	for _, l := range lines {
		fmt.Fprintf(out, "    %s\n", l)
	}
}

// progress prints what ends, as it ends.
type progress struct {
	t    *tally
	out  io.Writer
	each bool // a line for every passing top-level test
}

func (p *progress) ended(r *result, pkg string) {
	if r != nil {
		if strings.Contains(r.Test, "/") {
			return // reported with its top-level test
		}
		switch r.Action {
		case "skip":
			fmt.Fprintf(p.out, "skip  %s: %s\n", r.Name(), r.Reason())
		case "pass":
			if p.each {
				fmt.Fprintf(p.out, "ok    %s (%.1fs)\n", r.Name(), r.Elapsed)
			}
		default:
			fmt.Fprintf(p.out, "FAIL  %s (%.1fs)\n", r.Name(), r.Elapsed)
			for _, sub := range p.t.under(r.Package, r.Test) {
				if sub.Action != "pass" && sub.Action != "skip" && len(sub.Output) > 0 {
					printOutput(p.out, sub)
				}
			}
		}
		return
	}
	pr := p.t.packages[pkg]
	switch pr.Action {
	case "pass":
		fmt.Fprintf(p.out, "ok    %s (%.1fs)\n", shortPackage(pkg), pr.Elapsed)
		return
	case "skip":
		return // no test files
	}
	fmt.Fprintf(p.out, "FAIL  %s (package)\n", shortPackage(pkg))
	for _, r := range p.t.order {
		if r.Package == pkg && r.Action == "fail" {
			return // its output is above, with the test's
		}
	}
	printTail(p.out, pr.Output)
}

// maxPackageLines bounds the output printed for a package that failed
// outside any test or a test that never ended (a timeout prints every
// goroutine's stack).
const maxPackageLines = 200

func printOutput(out io.Writer, r *result) {
	fmt.Fprintf(out, "  --- FAIL %s\n", r.Test)
	for _, l := range r.Output {
		fmt.Fprintf(out, "  %s\n", l)
	}
}

// under returns test and its subtests, in the order they started.
func (t *tally) under(pkg, test string) []*result {
	var out []*result
	for _, r := range t.order {
		if r.Package == pkg && (r.Test == test || strings.HasPrefix(r.Test, test+"/")) {
			out = append(out, r)
		}
	}
	return out
}

// summarize prints the skips, the failures and the summary line of the
// event files given, and returns the exit code.
func summarize(args []string, out io.Writer) (int, error) {
	fs := flag.NewFlagSet("summary", flag.ContinueOnError)
	allowFile := fs.String("allow", "", "the skip allowlist")
	require := fs.Bool("require", false, "a skip the allowlist does not name fails the run")
	if err := fs.Parse(args); err != nil {
		return 0, err
	}
	var list []allowed
	if *allowFile != "" {
		f, err := os.Open(*allowFile)
		if err != nil {
			return 0, err
		}
		list, err = parseAllowlist(f, *allowFile)
		f.Close()
		if err != nil {
			return 0, err
		}
	}
	t := newTally()
	for _, name := range fs.Args() {
		f, err := os.Open(name)
		if err != nil {
			return 0, err
		}
		err = t.read(f, nil)
		f.Close()
		if err != nil {
			return 0, fmt.Errorf("%s: %w", name, err)
		}
	}
	return report(t, list, *allowFile, *require, out), nil
}

// report prints the summary of t and returns the exit code.
func report(t *tally, list []allowed, allowFile string, require bool, out io.Writer) int {
	c, failed, skipped, broken := t.summary()
	disallowed := 0
	if len(skipped) > 0 {
		fmt.Fprintf(out, "skipped (%d):\n", len(skipped))
	}
	for _, r := range skipped {
		verdict := "NOT ALLOWED: not in " + allowFile
		if a := allowedSkip(list, r); a != nil {
			verdict = "allowed: " + a.why
		} else {
			disallowed++
		}
		fmt.Fprintf(out, "  %s: %s [%s]\n", r.Name(), r.Reason(), verdict)
	}
	if len(failed)+len(broken) > 0 {
		fmt.Fprintf(out, "failed (%d):\n", len(failed)+len(broken))
	}
	for _, r := range failed {
		note := ""
		if r.Action == "" {
			note = " (never ended: its test binary died or timed out)"
		}
		fmt.Fprintf(out, "  %s%s\n", r.Name(), note)
	}
	for _, p := range broken {
		fmt.Fprintf(out, "  %s (failed outside any test: see its output above)\n", shortPackage(p))
	}
	code := 0
	if c.failed > 0 {
		code = 1
	}
	if disallowed > 0 && require {
		fmt.Fprintf(out, "%d skip(s) not in %s: with HPR_REQUIRE_ENGINES=1 that fails the run\n", disallowed, allowFile)
		code = 1
	}
	fmt.Fprintln(out, c)
	return code
}
