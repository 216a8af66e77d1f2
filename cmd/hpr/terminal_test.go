package main

import (
	"testing"

	"github.com/hostpersist/hpr/runtime"
)

// A size the terminal had while what runs was starting gives way to the
// next: the one passed on at the start is the terminal's last.
func TestLatestSize(t *testing.T) {
	ch := make(chan runtime.TermSize, 1)
	latest(ch, runtime.TermSize{Height: 24, Width: 80})
	latest(ch, runtime.TermSize{Height: 40, Width: 132})
	if got, want := <-ch, (runtime.TermSize{Height: 40, Width: 132}); got != want {
		t.Errorf("first size taken %+v, want the latest %+v", got, want)
	}
	select {
	case s := <-ch:
		t.Errorf("a second size waits, %+v: the first was not replaced", s)
	default:
	}
}
