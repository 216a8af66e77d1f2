package main

import (
	"testing"
	"time"
)

func TestOwnWorkSubtractsTheRunSequence(t *testing.T) {
	r := result{D: 100 * time.Millisecond, Steps: map[string]time.Duration{
		"detect engine + info": 2 * time.Millisecond,
		"inspect image":        5 * time.Millisecond,
		"create":               10 * time.Millisecond,
		"attach":               60 * time.Millisecond,
		"start":                9 * time.Millisecond,
		"exited":               5 * time.Millisecond,
	}}
	if d, ok := ownWork(r); !ok || d != 16*time.Millisecond {
		t.Errorf("ownWork = %v, %v; want 16ms (100 minus the 84 of the sequence)", d, ok)
	}
	if _, ok := ownWork(result{D: time.Second}); ok {
		t.Error("an untraced run has no own work")
	}
	if _, ok := ownWork(result{Err: "failed", Steps: r.Steps}); ok {
		t.Error("a failed run has no own work")
	}
}

func TestMedianCI(t *testing.T) {
	var xs []float64
	for i := range 31 {
		xs = append(xs, float64(i)) // median 15
	}
	lo, hi := medianCI(xs)
	if lo > 15 || hi < 15 || lo < 9 || hi > 21 {
		t.Errorf("interval %v–%v of 0..30: want around the median 15, narrower than the data", lo, hi)
	}
	if lo2, hi2 := medianCI(xs); lo2 != lo || hi2 != hi {
		t.Errorf("not reproducible: %v–%v then %v–%v", lo, hi, lo2, hi2)
	}
	same := []time.Duration{7, 7, 7, 7}
	if lo, hi := medianCI(same); lo != 7 || hi != 7 {
		t.Errorf("constant samples: %v–%v, want 7–7", lo, hi)
	}
}

func TestShortCalls(t *testing.T) {
	docker := map[string]time.Duration{"create": 9 * time.Millisecond, "attach": time.Millisecond, "start": 200 * time.Millisecond, "wait": 80 * time.Millisecond, "remove": 7 * time.Millisecond}
	got := shortCalls(docker)
	want := []string{"create", "attach", "remove"}
	if len(got) != len(want) {
		t.Fatalf("shortCalls = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("shortCalls = %v, want %v", got, want)
		}
	}
}

// Every arm runs once a round, its results land under it, and no arm always
// follows the same one.
func TestInterleaveOrder(t *testing.T) {
	var seq []int
	arms := make([]arm, 4)
	for i := range arms {
		arms[i] = arm{name: string(rune('a' + i)), run: func() result {
			seq = append(seq, i)
			return result{D: time.Duration(i)}
		}}
	}
	res := interleave("test", 1, 20, arms, nil)
	for i := range arms {
		for r, x := range res[i] {
			if x.D != time.Duration(i) {
				t.Fatalf("arm %d round %d holds %v", i, r, x.D)
			}
		}
	}
	if len(seq) != 4*21 {
		t.Fatalf("%d runs, want 84", len(seq))
	}
	after := map[int]map[int]bool{} // arm -> predecessors seen within a round
	for r := range 21 {
		round := seq[4*r : 4*r+4]
		seen := map[int]bool{}
		for k, i := range round {
			seen[i] = true
			if k > 0 {
				if after[i] == nil {
					after[i] = map[int]bool{}
				}
				after[i][round[k-1]] = true
			}
		}
		if len(seen) != 4 {
			t.Fatalf("round %d ran %v, want each arm once", r, round)
		}
	}
	for i, preds := range after {
		if len(preds) < 2 {
			t.Errorf("arm %d always followed %v", i, preds)
		}
	}
}
