package main

import (
	"math"
	"runtime/metrics"
	"time"
)

// The garbage collector's figures of a server child, from runtime/metrics,
// read in the child and sent with its answer to "stats" (see control.go).
// Every figure but the heap's is cumulative since the child started: the
// figures of a measured window are the difference of a reading at its start
// and one at its end (gcBetween).

// Names of the runtime/metrics samples read.
const (
	metricGCPauses    = "/gc/pauses:seconds"
	metricGCCPU       = "/cpu/classes/gc/total:cpu-seconds"
	metricTotalCPU    = "/cpu/classes/total:cpu-seconds"
	metricGCCycles    = "/gc/cycles/total:gc-cycles"
	metricHeapObjects = "/memory/classes/heap/objects:bytes"
	metricHeapLive    = "/gc/heap/live:bytes"
	metricHeapAllocs  = "/gc/heap/allocs:bytes"
)

// runtimeFigures is one reading.
type runtimeFigures struct {
	// GCPauses holds the non-empty buckets of /gc/pauses:seconds (stop-the-
	// world pauses of the collector), cumulative.
	GCPauses []pauseBucket `json:"gc_pauses,omitempty"`
	// GCCPU and TotalCPU: /cpu/classes/gc/total and /cpu/classes/total, in
	// CPU seconds. The total is GOMAXPROCS × the time the process has run
	// (the CPU available to it, not the CPU it used). The runtime updates
	// both at the end of each GC cycle.
	GCCPU    float64 `json:"gc_cpu_seconds"`
	TotalCPU float64 `json:"total_cpu_seconds"`
	GCCycles uint64  `json:"gc_cycles"`
	// HeapObjects is the memory of heap objects now, live or not yet swept
	// (right after a runtime.GC: the live heap).
	HeapObjects uint64 `json:"heap_objects_bytes"`
	// HeapLive is the heap the last GC marked live.
	HeapLive uint64 `json:"heap_live_bytes"`
	// HeapAllocs is the bytes allocated on the heap since the start,
	// cumulative.
	HeapAllocs uint64 `json:"heap_allocs_bytes"`
}

// pauseBucket is one bucket of the pause histogram: N pauses of Lo to Hi
// seconds. I is the bucket's index in the runtime's histogram; JSON has no
// infinity, so an unbounded side takes the other's value (0 for the lowest
// bucket's lower bound).
type pauseBucket struct {
	I  int     `json:"i"`
	Lo float64 `json:"lo"`
	Hi float64 `json:"hi"`
	N  uint64  `json:"n"`
}

// readRuntimeFigures reads the runtime's figures of this process.
func readRuntimeFigures() runtimeFigures {
	s := []metrics.Sample{
		{Name: metricGCPauses}, {Name: metricGCCPU}, {Name: metricTotalCPU},
		{Name: metricGCCycles}, {Name: metricHeapObjects}, {Name: metricHeapLive},
		{Name: metricHeapAllocs},
	}
	metrics.Read(s)
	var f runtimeFigures
	for _, x := range s {
		if x.Value.Kind() == metrics.KindBad {
			continue // a metric this Go release does not have: left zero
		}
		switch x.Name {
		case metricGCPauses:
			f.GCPauses = pauseBuckets(x.Value.Float64Histogram())
		case metricGCCPU:
			f.GCCPU = x.Value.Float64()
		case metricTotalCPU:
			f.TotalCPU = x.Value.Float64()
		case metricGCCycles:
			f.GCCycles = x.Value.Uint64()
		case metricHeapObjects:
			f.HeapObjects = x.Value.Uint64()
		case metricHeapLive:
			f.HeapLive = x.Value.Uint64()
		case metricHeapAllocs:
			f.HeapAllocs = x.Value.Uint64()
		}
	}
	return f
}

// pauseBuckets keeps the non-empty buckets of h with finite bounds.
func pauseBuckets(h *metrics.Float64Histogram) []pauseBucket {
	var out []pauseBucket
	for i, n := range h.Counts {
		if n == 0 {
			continue
		}
		lo, hi := h.Buckets[i], h.Buckets[i+1]
		if math.IsInf(lo, -1) {
			lo = 0
		}
		if math.IsInf(hi, 1) {
			hi = lo
		}
		out = append(out, pauseBucket{I: i, Lo: lo, Hi: hi, N: n})
	}
	return out
}

// gcWindow is what the collector did between two readings.
type gcWindow struct {
	Cycles uint64
	Pauses uint64
	// PauseP99 and PauseMax are the upper bounds of the buckets holding the
	// 99th percentile and the longest pause (the runtime's buckets are a
	// few percent wide).
	PauseP99, PauseMax time.Duration
	// CPUFraction is the GC's CPU time ÷ the CPU available to the process
	// (GOMAXPROCS × wall) over the window, as the runtime estimates both.
	CPUFraction float64
	// CPU is the GC's CPU time.
	CPU time.Duration
	// Allocated is the bytes allocated on the heap in the window.
	Allocated uint64
}

// gcBetween returns the collector's work from reading a to reading b.
func gcBetween(a, b runtimeFigures) gcWindow {
	w := gcWindow{Cycles: b.GCCycles - min(a.GCCycles, b.GCCycles), Allocated: b.HeapAllocs - min(a.HeapAllocs, b.HeapAllocs)}
	before := map[int]uint64{}
	for _, x := range a.GCPauses {
		before[x.I] = x.N
	}
	var delta []pauseBucket
	for _, x := range b.GCPauses {
		if n := x.N - min(before[x.I], x.N); n > 0 {
			x.N = n
			delta = append(delta, x)
			w.Pauses += n
		}
	}
	w.PauseP99 = pauseQuantile(delta, w.Pauses, 0.99)
	if len(delta) > 0 {
		w.PauseMax = secs(delta[len(delta)-1].Hi)
	}
	gc, total := b.GCCPU-a.GCCPU, b.TotalCPU-a.TotalCPU
	if gc > 0 {
		w.CPU = secs(gc)
	}
	if total > 0 && gc >= 0 {
		w.CPUFraction = gc / total
	}
	return w
}

// pauseQuantile returns the upper bound of the bucket holding quantile q
// of n pauses (bs in the runtime's order, which is ascending).
func pauseQuantile(bs []pauseBucket, n uint64, q float64) time.Duration {
	if n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(n)))
	var seen uint64
	for _, x := range bs {
		seen += x.N
		if seen >= rank {
			return secs(x.Hi)
		}
	}
	return secs(bs[len(bs)-1].Hi)
}

func secs(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
