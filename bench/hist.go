package main

import (
	"encoding/json"
	"fmt"
	"math"
	"math/bits"
	"time"
)

// Histogram layout: values (nanoseconds) below histSub are counted exactly;
// each power of two above is split into histSub buckets of equal width, so a
// bucket's width is at most 1/histSub of its values (HdrHistogram's
// log-linear scheme with 2 significant binary digits more than 2 decimal
// ones: a reported percentile is within 1/128 ≈ 0.8% of the true sample).
const (
	histSubBits = 7
	histSub     = 1 << histSubBits
	// histMaxBits bounds the recorded values to 2^histMaxBits-1 ns (about 18
	// minutes); larger values are clamped. A request that slow is an error
	// anyway (the load generator's timeout is seconds).
	histMaxBits = 40
	histBuckets = (histMaxBits - histSubBits + 1) * histSub
)

// Histogram records durations in log-linear buckets with bounded memory
// (histBuckets counters, about 35 KiB) whatever the number of samples. The
// zero value is empty and ready to use. Not safe for concurrent use: the
// load generator keeps one per connection and merges them at the end.
type Histogram struct {
	counts   []uint64 // lazily made, histBuckets long
	n        uint64
	sum      float64 // nanoseconds
	min, max int64
}

// bucketOf returns the bucket index of v (v ≥ 0, already clamped).
func bucketOf(v int64) int {
	if v < histSub {
		return int(v)
	}
	k := bits.Len64(uint64(v)) - 1 // v in [2^k, 2^(k+1)), k ≥ histSubBits
	shift := k - histSubBits
	sub := int(v>>shift) - histSub // in [0, histSub)
	return (shift+1)*histSub + sub
}

// bucketBounds returns the smallest and largest value counted in bucket i.
func bucketBounds(i int) (lo, hi int64) {
	if i < histSub {
		return int64(i), int64(i)
	}
	shift := i/histSub - 1
	sub := int64(i%histSub) + histSub
	lo = sub << shift
	return lo, lo + (int64(1) << shift) - 1
}

// Record adds one sample.
func (h *Histogram) Record(d time.Duration) {
	v := int64(d)
	if v < 0 {
		v = 0
	}
	if v >= 1<<histMaxBits {
		v = 1<<histMaxBits - 1
	}
	if h.counts == nil {
		h.counts = make([]uint64, histBuckets)
	}
	h.counts[bucketOf(v)]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.n++
	h.sum += float64(v)
}

// Merge adds o's samples to h.
func (h *Histogram) Merge(o *Histogram) {
	if o == nil || o.n == 0 {
		return
	}
	if h.counts == nil {
		h.counts = make([]uint64, histBuckets)
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	h.sum += o.sum
}

// Count returns the number of samples.
func (h *Histogram) Count() uint64 { return h.n }

// Min and Max return the exact extreme samples (0 when empty).
func (h *Histogram) Min() time.Duration { return time.Duration(h.min) }
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) }

// Mean returns the exact mean (0 when empty).
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.n))
}

// Quantile returns the q-quantile (0 ≤ q ≤ 1) as the sample of rank
// ⌈q·n⌉ (at least 1) in sorted order, reported as the largest value of its
// bucket but never above the exact maximum, so it overstates the sample by
// less than 1/histSub of it. It returns 0 when the histogram is empty.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			_, hi := bucketBounds(i)
			return time.Duration(min(max(hi, h.min), h.max))
		}
	}
	return time.Duration(h.max)
}

// histWire is a Histogram on the wire between processes: the non-empty
// buckets as index, count pairs.
type histWire struct {
	N       uint64      `json:"n"`
	Sum     float64     `json:"sum"`
	Min     int64       `json:"min"`
	Max     int64       `json:"max"`
	Buckets [][2]uint64 `json:"b,omitempty"`
}

// MarshalJSON encodes the histogram compactly (load processes send theirs
// to the parent, which merges them).
func (h Histogram) MarshalJSON() ([]byte, error) {
	w := histWire{N: h.n, Sum: h.sum, Min: h.min, Max: h.max}
	for i, c := range h.counts {
		if c != 0 {
			w.Buckets = append(w.Buckets, [2]uint64{uint64(i), c})
		}
	}
	return json.Marshal(w)
}

// UnmarshalJSON decodes what MarshalJSON encoded.
func (h *Histogram) UnmarshalJSON(b []byte) error {
	var w histWire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*h = Histogram{n: w.N, sum: w.Sum, min: w.Min, max: w.Max}
	if len(w.Buckets) > 0 {
		h.counts = make([]uint64, histBuckets)
	}
	var n uint64
	for _, b := range w.Buckets {
		if b[0] >= histBuckets {
			return fmt.Errorf("bench: histogram bucket %d out of range", b[0])
		}
		h.counts[b[0]] += b[1]
		n += b[1]
	}
	if n != w.N {
		return fmt.Errorf("bench: histogram counts %d samples, says %d", n, w.N)
	}
	return nil
}

// Clone returns a copy of h that shares nothing with it.
func (h *Histogram) Clone() Histogram {
	c := *h
	if h.counts != nil {
		c.counts = append([]uint64(nil), h.counts...)
	}
	return c
}
