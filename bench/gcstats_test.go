package main

import (
	"encoding/json"
	"math"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"
)

// TestGCBetween: a window's pauses are the buckets' growth between two
// readings; its p99 and max are bucket upper bounds; the CPU fraction is
// the GC's share of the available CPU.
func TestGCBetween(t *testing.T) {
	t.Parallel()
	ms := func(v float64) float64 { return v / 1000 }
	a := runtimeFigures{
		GCPauses: []pauseBucket{{I: 3, Lo: ms(0.1), Hi: ms(0.2), N: 50}, {I: 9, Lo: ms(5), Hi: ms(6), N: 1}},
		GCCPU:    1, TotalCPU: 10, GCCycles: 20,
	}
	b := runtimeFigures{
		GCPauses: []pauseBucket{
			{I: 3, Lo: ms(0.1), Hi: ms(0.2), N: 150}, // +100
			{I: 5, Lo: ms(0.5), Hi: ms(0.6), N: 2},   // +2, new
			{I: 9, Lo: ms(5), Hi: ms(6), N: 1},       // before the window
		},
		GCCPU: 3, TotalCPU: 50, GCCycles: 71,
	}
	w := gcBetween(a, b)
	if w.Cycles != 51 || w.Pauses != 102 {
		t.Errorf("cycles %d pauses %d; want 51 and 102", w.Cycles, w.Pauses)
	}
	// Rank ⌈0.99×102⌉ = 101 is past the 100 short pauses: the 0.5–0.6 ms bucket.
	if want := 600 * time.Microsecond; w.PauseP99 != want || w.PauseMax != want {
		t.Errorf("p99 %v max %v; want %v for both (the 6 ms pause was before the window)", w.PauseP99, w.PauseMax, want)
	}
	if math.Abs(w.CPUFraction-0.05) > 1e-9 || w.CPU != 2*time.Second {
		t.Errorf("CPU fraction %v, CPU %v; want 0.05 and 2s", w.CPUFraction, w.CPU)
	}
	// Only short pauses: p99 in their bucket.
	b.GCPauses = b.GCPauses[:1]
	b.GCPauses = append(b.GCPauses, a.GCPauses[1])
	if w := gcBetween(a, b); w.PauseP99 != 200*time.Microsecond || w.PauseMax != 200*time.Microsecond {
		t.Errorf("p99 %v max %v; want 200µs", w.PauseP99, w.PauseMax)
	}
	// Nothing happened: zeros, no NaN.
	if w := gcBetween(a, a); w != (gcWindow{}) {
		t.Errorf("empty window = %+v", w)
	}
}

// TestPauseBucketsJSON: the runtime's histogram has infinite outer bounds,
// which JSON cannot carry; the buckets sent have finite ones.
func TestPauseBucketsJSON(t *testing.T) {
	t.Parallel()
	h := &metrics.Float64Histogram{
		Counts:  []uint64{1, 0, 2, 3},
		Buckets: []float64{math.Inf(-1), 0, 1e-4, 1e-3, math.Inf(1)},
	}
	bs := pauseBuckets(h)
	want := []pauseBucket{{I: 0, Lo: 0, Hi: 0, N: 1}, {I: 2, Lo: 1e-4, Hi: 1e-3, N: 2}, {I: 3, Lo: 1e-3, Hi: 1e-3, N: 3}}
	if len(bs) != len(want) {
		t.Fatalf("buckets %+v; want %+v", bs, want)
	}
	for i := range want {
		if bs[i] != want[i] {
			t.Errorf("bucket %d = %+v; want %+v", i, bs[i], want[i])
		}
	}
	if _, err := json.Marshal(runtimeFigures{GCPauses: bs}); err != nil {
		t.Fatal(err)
	}
}

// TestReadRuntimeFigures reads this process's figures around a forced GC.
func TestReadRuntimeFigures(t *testing.T) {
	a := readRuntimeFigures()
	runtime.GC()
	b := readRuntimeFigures()
	if b.HeapObjects == 0 || b.TotalCPU <= 0 {
		t.Errorf("figures after a GC: %+v", b)
	}
	w := gcBetween(a, b)
	// A cycle stops the world twice (sweep termination, mark termination).
	if w.Cycles < 1 || w.Pauses < 2 || w.PauseMax <= 0 || w.PauseP99 > w.PauseMax {
		t.Errorf("a forced GC: %+v", w)
	}
}
