package conformance

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Report is the outcome of a conformance run on several engines.
type Report struct {
	// Pass is true when at least one engine was tested and every engine
	// passed every check.
	Pass    bool           `json:"pass"`
	Engines []EngineReport `json:"engines"`
}

// NewReport collects engine reports, in the order given.
func NewReport(engines []EngineReport) Report {
	r := Report{Pass: len(engines) > 0, Engines: engines}
	if r.Engines == nil {
		r.Engines = []EngineReport{}
	}
	for i := range r.Engines {
		if r.Engines[i].Checks == nil {
			r.Engines[i].Checks = []Check{}
		}
		if !r.Engines[i].Pass {
			r.Pass = false
		}
	}
	return r
}

// Tested returns how many engines were tested (their checks ran).
func (r Report) Tested() int {
	n := 0
	for _, e := range r.Engines {
		if e.Tested() {
			n++
		}
	}
	return n
}

// WriteJSON writes the report as one JSON object.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes a readable table per engine and a summary line.
func (r Report) WriteTable(w io.Writer) error {
	var b strings.Builder
	for i, e := range r.Engines {
		if i > 0 {
			b.WriteString("\n")
		}
		status := "PASS"
		if !e.Pass {
			status = "FAIL"
		}
		mode := string(e.Mode)
		if mode == "" {
			mode = "unknown mode"
		}
		fmt.Fprintf(&b, "%s  %s  %s  %s", status, mode, versionOr(e.Version), e.Endpoint)
		if e.Tested() {
			fmt.Fprintf(&b, "  (%d/%d checks, %.1fs)\n", len(e.Checks)-len(failedIDs(e.Checks)), len(e.Checks), e.Seconds)
		} else {
			b.WriteString("\n")
		}
		if e.Error != "" {
			fmt.Fprintf(&b, "  not tested: %s\n", e.Error)
			continue
		}
		if e.Image != "" {
			fmt.Fprintf(&b, "  image: %s\n", e.Image)
		}
		if e.Plan != nil {
			fmt.Fprintf(&b, "  plan:  %s\n", e.Plan.Explain())
		}
		tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		// One cause (a probe that did not run) fails many checks: say it once.
		first := map[string]string{}
		for _, c := range e.Checks {
			mark, detail := "ok", c.Detail
			if !c.Pass {
				mark = "FAIL"
				if id, seen := first[detail]; seen {
					detail = "(as " + id + ")"
				} else {
					first[detail] = c.ID
				}
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", mark, c.ID, detail)
		}
		tw.Flush()
	}
	b.WriteString("\n" + r.Summary() + "\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func versionOr(v string) string {
	if v == "" {
		return "?"
	}
	return v
}

// Summary is one line: whether every check passed, and where not.
func (r Report) Summary() string {
	if len(r.Engines) == 0 {
		return "FAIL: no engine was tested"
	}
	if r.Pass {
		n := 0
		for _, e := range r.Engines {
			n += len(e.Checks)
		}
		return fmt.Sprintf("PASS: all %d checks passed on %d engine(s)", n, len(r.Engines))
	}
	var parts []string
	for _, e := range r.Engines {
		name := string(e.Mode)
		if name == "" {
			name = e.Endpoint
		}
		switch {
		case !e.Tested():
			parts = append(parts, name+" not tested")
		case !e.Pass:
			parts = append(parts, fmt.Sprintf("%s failed %s", name, strings.Join(failedIDs(e.Checks), ", ")))
		}
	}
	return "FAIL: " + strings.Join(parts, "; ")
}

// JUnit XML, as CI systems read it: a suite per engine, a test case per
// check, classname the engine mode.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Time       string          `xml:"time,attr"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes the report as JUnit XML: one test case per engine and
// check, classname the engine's mode; an engine that could not be tested is
// one test case, "setup", with an error.
func (r Report) WriteJUnit(w io.Writer) error {
	out := junitSuites{Name: "hpr conformance"}
	var total float64
	for _, e := range r.Engines {
		class := string(e.Mode)
		if class == "" {
			class = e.Endpoint
		}
		s := junitSuite{Name: class, Time: seconds(e.Seconds)}
		s.Properties = []junitProperty{{"endpoint", e.Endpoint}, {"version", e.Version}}
		if e.Image != "" {
			s.Properties = append(s.Properties, junitProperty{"image", e.Image})
		}
		if e.Plan != nil {
			s.Properties = append(s.Properties, junitProperty{"plan", e.Plan.Explain()})
		}
		if e.Error != "" {
			s.Cases = append(s.Cases, junitCase{Name: "setup", Classname: class, Time: seconds(e.Seconds),
				Error: &junitProblem{Message: e.Error, Type: "not-tested", Text: e.Error}})
			s.Errors++
		}
		for _, c := range e.Checks {
			jc := junitCase{Name: c.ID, Classname: class, Time: "0"}
			if c.Pass {
				jc.SystemOut = c.Detail
			} else {
				jc.Failure = &junitProblem{Message: c.Detail, Type: "check", Text: c.Description + ": " + c.Detail}
				s.Failures++
			}
			s.Cases = append(s.Cases, jc)
		}
		s.Tests = len(s.Cases)
		out.Tests += s.Tests
		out.Failures += s.Failures
		out.Errors += s.Errors
		total += e.Seconds
		out.Suites = append(out.Suites, s)
	}
	out.Time = seconds(total)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func seconds(s float64) string { return fmt.Sprintf("%.3f", s) }
