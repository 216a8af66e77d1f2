package runtime

import (
	"fmt"
	"os"
	"sync"
	"time"
)

// Tracing: with HPR_TRACE=1 in the environment, hpr prints how long each step
// of a run took, to stderr. It is how the benchmark report says where time
// goes.
var (
	traceOn    = os.Getenv("HPR_TRACE") == "1"
	traceMu    sync.Mutex
	traceStart = time.Now()
	traceLast  = traceStart
)

// Trace records that step ended, when tracing is on.
func Trace(step string) {
	if !traceOn {
		return
	}
	traceMu.Lock()
	defer traceMu.Unlock()
	now := time.Now()
	fmt.Fprintf(os.Stderr, "hpr trace: %-28s %7.1f ms (at %7.1f ms)\n", step, ms(now.Sub(traceLast)), ms(now.Sub(traceStart)))
	traceLast = now
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
