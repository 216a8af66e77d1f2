package main

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// result is one timed run of one arm.
type result struct {
	D     time.Duration            `json:"ns"`
	Err   string                   `json:"err,omitempty"`
	RSSKB int64                    `json:"rss_kb,omitempty"`
	Steps map[string]time.Duration `json:"steps,omitempty"`
	Out   string                   `json:"-"` // stdout, when asked for
	// Order is the order of Steps as the trace printed them.
	Order []string `json:"-"`
	// Traced is the time from hpr's runtime init to its last trace line.
	Traced time.Duration `json:"traced_ns,omitempty"`
}

func (r result) ok() bool { return r.Err == "" }

// arm is one thing measured.
type arm struct {
	name string
	run  func() result
}

// command runs name args in dir with env and times exec→exit.
type command struct {
	dir        string
	env        []string
	argv       []string
	keepStdout bool
	trace      bool // parse HPR_TRACE=1 lines from stderr into Steps
}

func (c command) run() result {
	cmd := exec.Command(c.argv[0], c.argv[1:]...)
	cmd.Dir = c.dir
	cmd.Env = c.env
	var stdout, stderr bytes.Buffer
	if c.keepStdout {
		cmd.Stdout = &stdout
	} else {
		devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		if err != nil {
			return result{Err: err.Error()}
		}
		defer devnull.Close()
		cmd.Stdout = devnull
	}
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	r := result{D: d, Out: stdout.String()}
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			r.RSSKB = ru.Maxrss
		}
	}
	if c.trace {
		r.Steps, r.Order, r.Traced = parseTrace(stderr.String())
	}
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if c.keepStdout && msg == "" {
			msg = strings.TrimSpace(stdout.String())
		}
		r.Err = fmt.Sprintf("%s: %v: %s", shortCmd(c.argv), err, lastLines(msg, 3))
	}
	return r
}

func shortCmd(argv []string) string {
	s := strings.Join(argv, " ")
	if len(s) > 100 {
		s = s[:100] + "…"
	}
	return s
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	out := strings.Join(lines, " / ")
	if len(out) > 400 {
		out = out[:400] + "…"
	}
	return out
}

// interleave runs rounds rounds of arms (plus warmup untimed rounds), each
// round in a new random order (seeded by the round, so a run can be
// repeated), and returns the results by arm, then round. A fixed or rotated
// order would put every arm after the same predecessor every round, and
// whatever that arm leaves the machine doing (an engine's cleanup, its
// firewall rules) would land on the same arm each time. Before each arm,
// untimed, it calls settle (when not nil).
func interleave(label string, warmup, rounds int, arms []arm, settle func()) [][]result {
	out := make([][]result, len(arms))
	for i := range out {
		out[i] = make([]result, rounds)
	}
	for r := -warmup; r < rounds; r++ {
		order := rand.New(rand.NewPCG(uint64(r+warmup), 7)).Perm(len(arms))
		for _, i := range order {
			if settle != nil {
				settle()
			}
			res := arms[i].run()
			if r >= 0 {
				out[i][r] = res
			}
		}
		if r >= 0 && (r+1)%5 == 0 {
			logf("%s: %d/%d rounds", label, r+1, rounds)
		}
	}
	return out
}

// stat summarizes the successful runs of one arm.
type stat struct {
	N, Failed     int
	Med, Min, Max time.Duration
	FirstErr      string
}

func stats(rs []result) stat {
	var ds []time.Duration
	var s stat
	for _, r := range rs {
		if r.ok() {
			ds = append(ds, r.D)
		} else {
			s.Failed++
			if s.FirstErr == "" {
				s.FirstErr = r.Err
			}
		}
	}
	s.N = len(ds)
	if len(ds) == 0 {
		return s
	}
	slices.Sort(ds)
	s.Min, s.Max = ds[0], ds[len(ds)-1]
	s.Med = medianDur(ds)
	return s
}

func medianDur(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return median(ds)
}

func medianF(fs []float64) float64 {
	if len(fs) == 0 {
		return math.NaN()
	}
	return median(fs)
}

// median of a non-empty slice (the mean of the middle two for an even count).
func median[T ~int64 | ~float64](xs []T) T {
	xs = slices.Clone(xs)
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// pairRatio is the median over rounds of a[i]/b[i], where both succeeded.
func pairRatio(a, b []result) (float64, int) {
	fs := pairRatios(a, b)
	return medianF(fs), len(fs)
}

// pairRatios are a[i]/b[i] over the rounds where both succeeded.
func pairRatios(a, b []result) []float64 {
	var fs []float64
	for i := range min(len(a), len(b)) {
		if a[i].ok() && b[i].ok() && b[i].D > 0 {
			fs = append(fs, float64(a[i].D)/float64(b[i].D))
		}
	}
	return fs
}

// pairDiff is the median over rounds of a[i]-b[i], where both succeeded.
func pairDiff(a, b []result) (time.Duration, int) {
	ds := pairDiffs(a, b)
	return medianDur(ds), len(ds)
}

// pairDiffs are a[i]-b[i] over the rounds where both succeeded.
func pairDiffs(a, b []result) []time.Duration {
	var ds []time.Duration
	for i := range min(len(a), len(b)) {
		if a[i].ok() && b[i].ok() {
			ds = append(ds, a[i].D-b[i].D)
		}
	}
	return ds
}

// medianCI is a 95 % bootstrap interval of the median of xs (percentile
// method, 4000 resamples, fixed seed so a report is reproducible from its
// samples). It says how far the median of so few runs can be trusted.
func medianCI[T ~int64 | ~float64](xs []T) (lo, hi T) {
	if len(xs) == 0 {
		return 0, 0
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 4000
	meds := make([]T, n)
	buf := make([]T, len(xs))
	for i := range meds {
		for j := range buf {
			buf[j] = xs[rng.IntN(len(xs))]
		}
		meds[i] = median(buf)
	}
	slices.Sort(meds)
	return meds[n*25/1000], meds[n*975/1000-1]
}

// ownWork is a traced hpr run's time outside the engine calls of its run
// sequence (create … remove): exec, init, project and host lookup,
// detection, image check, plan, exit. Engine calls hpr makes before the
// sequence (ping, image inspect) are its own work: the raw sequence does
// not make them.
func ownWork(r result) (time.Duration, bool) {
	if !r.ok() || r.Steps == nil {
		return 0, false
	}
	d := r.D
	for st, v := range r.Steps {
		if runSteps[st] {
			d -= v
		}
	}
	return d, true
}

// ownWorks is ownWork of every traced successful run.
func ownWorks(rs []result) []time.Duration {
	var out []time.Duration
	for _, r := range rs {
		if d, ok := ownWork(r); ok {
			out = append(out, d)
		}
	}
	return out
}

// pairOwnDiffs are ownWork(a[i]) - ownWork(b[i]) over rounds with both.
func pairOwnDiffs(a, b []result) []time.Duration {
	var out []time.Duration
	for i := range min(len(a), len(b)) {
		x, okA := ownWork(a[i])
		y, okB := ownWork(b[i])
		if okA && okB {
			out = append(out, x-y)
		}
	}
	return out
}

// stepMedians is the median of each named step over the successful runs
// that had it; a step fewer than half of them had (a fallback) is left out.
func stepMedians(rs []result) map[string]time.Duration {
	by := map[string][]time.Duration{}
	n := 0
	for _, r := range rs {
		if !r.ok() {
			continue
		}
		n++
		for k, v := range r.Steps {
			by[k] = append(by[k], v)
		}
	}
	out := map[string]time.Duration{}
	for k, v := range by {
		if 2*len(v) >= n {
			out[k] = medianDur(v)
		}
	}
	return out
}

// rssStat is the median and max peak RSS (KiB) of successful runs.
func rssStat(rs []result) (med, mx int64) {
	var v []int64
	for _, r := range rs {
		if r.ok() && r.RSSKB > 0 {
			v = append(v, r.RSSKB)
		}
	}
	if len(v) == 0 {
		return 0, 0
	}
	slices.Sort(v)
	return v[len(v)/2], v[len(v)-1]
}

// stepTimer records named durations; safe for concurrent use.
type stepTimer struct {
	mu    sync.Mutex
	steps map[string]time.Duration
}

func newStepTimer() *stepTimer { return &stepTimer{steps: map[string]time.Duration{}} }

func (t *stepTimer) since(name string, start time.Time) {
	d := time.Since(start)
	t.mu.Lock()
	t.steps[name] += d
	t.mu.Unlock()
}

func (t *stepTimer) snapshot() map[string]time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]time.Duration, len(t.steps))
	for k, v := range t.steps {
		out[k] = v
	}
	return out
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond))
}

func secs(d time.Duration) string {
	return fmt.Sprintf("%.2f", d.Seconds())
}

var traceRe = regexp.MustCompile(`^hpr trace: (.+?)\s+([0-9.]+) ms \(at\s+([0-9.]+) ms\)`)

// parseTrace reads hpr's HPR_TRACE=1 lines: each step's duration, their
// order, and when the last one ended (from the runtime's init).
func parseTrace(s string) (map[string]time.Duration, []string, time.Duration) {
	steps := map[string]time.Duration{}
	var order []string
	var last time.Duration
	for _, l := range strings.Split(s, "\n") {
		m := traceRe.FindStringSubmatch(strings.TrimSpace(l))
		if m == nil {
			continue
		}
		d, _ := strconv.ParseFloat(m[2], 64)
		at, _ := strconv.ParseFloat(m[3], 64)
		name := strings.TrimSpace(m[1])
		if _, ok := steps[name]; !ok {
			order = append(order, name)
		}
		steps[name] += time.Duration(d * float64(time.Millisecond))
		last = time.Duration(at * float64(time.Millisecond))
	}
	if len(order) == 0 {
		return nil, nil, 0
	}
	return steps, order, last
}
