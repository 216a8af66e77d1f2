package main

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// allowed is one entry of the skip allowlist: the tests of a package that
// may skip, and why.
type allowed struct {
	pkg  string // relative to the module, "." for the root
	test *regexp.Regexp
	why  string
}

// parseAllowlist reads "PACKAGE TEST-REGEXP WHY..." lines; blank lines and
// lines starting with # are comments. The regexp must match the whole test
// name (subtests included, as TestX/sub), and every entry must say why.
func parseAllowlist(r io.Reader, name string) ([]allowed, error) {
	var out []allowed
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 3 {
			return nil, fmt.Errorf("%s:%d: want PACKAGE TEST-REGEXP WHY, got %q", name, n, line)
		}
		re, err := regexp.Compile("^(?:" + f[1] + ")$")
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, n, err)
		}
		out = append(out, allowed{pkg: strings.TrimPrefix(f[0], "./"), test: re, why: strings.Join(f[2:], " ")})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return out, nil
}

// allowedSkip returns the entry that allows r to skip, or nil.
func allowedSkip(list []allowed, r *result) *allowed {
	for i, a := range list {
		if a.pkg == shortPackage(r.Package) && a.test.MatchString(r.Test) {
			return &list[i]
		}
	}
	return nil
}
