package httpcodec

import (
	"math/rand/v2"
	"testing"
)

// TestScanners checks the word-at-a-time scanners against the byte tables
// on every byte value at every position of a word, and on random input.
func TestScanners(t *testing.T) {
	scanners := []struct {
		name  string
		scan  func([]byte, int) int
		table *[256]bool
	}{
		{"scanValue", scanValue, &isValueChar},
		{"scanTarget", scanTarget, &isTargetChar},
		{"scanTchar", scanTchar, &isTchar},
	}
	slow := func(table *[256]bool, b []byte, i int) int {
		for i < len(b) && table[b[i]] {
			i++
		}
		return i
	}
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	for _, sc := range scanners {
		for c := 0; c < 256; c++ {
			for pos := 0; pos < 20; pos++ {
				b := []byte("aaaaaaaaaaaaaaaaaaaaaaaa")
				b[pos] = byte(c)
				for start := 0; start < 3; start++ {
					if got, want := sc.scan(b, start), slow(sc.table, b, start); got != want {
						t.Fatalf("%s(%q, %d) = %d; want %d", sc.name, b, start, got, want)
					}
				}
			}
		}
		for n := 0; n < 20000; n++ {
			b := make([]byte, rng.IntN(40))
			for i := range b {
				b[i] = "a \t~\x7f\x80#\r:%"[rng.IntN(10)]
			}
			start := 0
			if len(b) > 0 {
				start = rng.IntN(len(b))
			}
			if got, want := sc.scan(b, start), slow(sc.table, b, start); got != want {
				t.Fatalf("%s(%q, %d) = %d; want %d", sc.name, b, start, got, want)
			}
		}
	}
}
