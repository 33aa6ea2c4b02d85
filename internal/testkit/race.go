//go:build race

package testkit

// RaceEnabled reports whether the test binary (and so a child server
// re-executed from it) is built with the race detector, whose shadow memory
// is never returned to the OS: resident memory then only bounds, loosely.
const RaceEnabled = true
