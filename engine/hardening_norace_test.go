//go:build !race

package engine

// raceEnabled reports whether the test binary is built with the race
// detector (see hardening_race_test.go).
const raceEnabled = false
