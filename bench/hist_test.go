package main

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketLayout(t *testing.T) {
	// Buckets tile the values without gaps or overlaps, and each is narrow
	// enough for the promised relative error.
	next := int64(0)
	for i := range histBuckets {
		lo, hi := bucketBounds(i)
		if lo != next {
			t.Fatalf("bucket %d starts at %d; want %d", i, lo, next)
		}
		if bucketOf(lo) != i || bucketOf(hi) != i {
			t.Fatalf("bucketOf(%d), bucketOf(%d) = %d, %d; want %d", lo, hi, bucketOf(lo), bucketOf(hi), i)
		}
		if lo >= histSub && float64(hi-lo+1) > float64(lo)/histSub {
			t.Fatalf("bucket %d [%d, %d] is wider than 1/%d of its values", i, lo, hi, histSub)
		}
		next = hi + 1
	}
	if next != 1<<histMaxBits {
		t.Errorf("buckets end at %d; want %d", next, int64(1)<<histMaxBits)
	}
}

// exactQuantile is the sample of rank ⌈q·n⌉ (at least 1), the definition
// Histogram.Quantile approximates.
func exactQuantile(sorted []int64, q float64) int64 {
	rank := int(math.Ceil(q * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

func TestHistogramQuantiles(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	dists := map[string]func() int64{
		"uniform small": func() int64 { return rng.Int64N(300) },
		"uniform":       func() int64 { return rng.Int64N(int64(10 * time.Millisecond)) },
		"log-normal": func() int64 {
			return int64(math.Exp(rng.NormFloat64()*1.5 + math.Log(float64(200*time.Microsecond))))
		},
		"bimodal": func() int64 {
			if rng.IntN(100) == 0 {
				return int64(time.Second) + rng.Int64N(int64(time.Second))
			}
			return int64(50*time.Microsecond) + rng.Int64N(int64(time.Millisecond))
		},
	}
	for name, gen := range dists {
		t.Run(name, func(t *testing.T) {
			for _, n := range []int{1, 2, 7, 100, 10007} {
				var h Histogram
				samples := make([]int64, n)
				for i := range samples {
					samples[i] = gen()
					h.Record(time.Duration(samples[i]))
				}
				slices.Sort(samples)
				if h.Count() != uint64(n) || int64(h.Min()) != samples[0] || int64(h.Max()) != samples[n-1] {
					t.Fatalf("n=%d: count, min, max = %d, %d, %d; want %d, %d, %d", n, h.Count(), h.Min(), h.Max(), n, samples[0], samples[n-1])
				}
				for _, q := range []float64{0, 0.001, 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999, 1} {
					want := exactQuantile(samples, q)
					got := int64(h.Quantile(q))
					// Never below the sample, above it by less than a bucket's width.
					if got < want || float64(got-want) > float64(want)/histSub {
						t.Errorf("n=%d: Quantile(%v) = %d; want %d (+%.2f%%)", n, q, got, want, 100.0/histSub)
					}
				}
			}
		})
	}
}

func TestHistogramMergeAndEdges(t *testing.T) {
	var a, b, all Histogram
	for i := range 1000 {
		d := time.Duration(i*i) * time.Microsecond
		all.Record(d)
		if i%3 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
	}
	var m Histogram
	m.Merge(&a)
	m.Merge(&b)
	m.Merge(&Histogram{}) // empty: no effect
	for _, q := range []float64{0, 0.5, 0.99, 1} {
		if m.Quantile(q) != all.Quantile(q) {
			t.Errorf("merged Quantile(%v) = %v; want %v", q, m.Quantile(q), all.Quantile(q))
		}
	}
	if m.Count() != all.Count() || m.Min() != all.Min() || m.Max() != all.Max() || m.Mean() != all.Mean() {
		t.Errorf("merged count/min/max/mean = %d %v %v %v; want %d %v %v %v", m.Count(), m.Min(), m.Max(), m.Mean(), all.Count(), all.Min(), all.Max(), all.Mean())
	}

	var e Histogram
	if e.Quantile(0.5) != 0 || e.Max() != 0 || e.Mean() != 0 {
		t.Errorf("empty histogram: Quantile, Max, Mean = %v, %v, %v; want 0", e.Quantile(0.5), e.Max(), e.Mean())
	}
	e.Record(-5)
	e.Record(time.Duration(math.MaxInt64))
	if e.Min() != 0 || e.Max() != 1<<histMaxBits-1 {
		t.Errorf("clamping: min, max = %d, %d; want 0, %d", e.Min(), e.Max(), int64(1)<<histMaxBits-1)
	}
}
