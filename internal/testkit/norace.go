//go:build !race

package testkit

// RaceEnabled reports whether the test binary is built with the race
// detector (see race.go).
const RaceEnabled = false
