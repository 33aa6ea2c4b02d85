package testkit

import (
	"strings"
	"testing"
)

// ConfigProblems returns what err, as a Validate method of engine, comet,
// rooms, lobby or games returns it, reports: each problem (an error with a
// ConfigField method: engine.ConfigError, rooms.ConfigError) under its
// field, the parts of errors.Join taken at any depth. Another error is a
// test failure.
func ConfigProblems(t testing.TB, err error) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for todo := []error{err}; len(todo) > 0; {
		e := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		switch e := e.(type) {
		case nil:
		case interface{ Unwrap() []error }:
			todo = append(todo, e.Unwrap()...)
		case interface{ ConfigField() (string, string) }:
			field, problem := e.ConfigField()
			out[field] = append(out[field], problem)
		default:
			t.Errorf("%T %q is not a configuration problem", e, e)
		}
	}
	return out
}

// CheckConfigError checks that err reports exactly one problem, about
// field, containing want; with field "", that it reports none.
func CheckConfigError(t testing.TB, err error, field, want string) {
	t.Helper()
	got := ConfigProblems(t, err)
	if field == "" {
		if err != nil {
			t.Errorf("problems %v; want none", got)
		}
		return
	}
	if ps := got[field]; len(got) != 1 || len(ps) != 1 || !strings.Contains(ps[0], want) {
		t.Errorf("problems %v; want one, %s: …%s…", got, field, want)
	}
}

// ConfigChecker returns a function that runs a case of a table test of a
// Validate method as a subtest: the configuration, and the one problem
// expected (field "": none), as CheckConfigError checks it.
func ConfigChecker[C interface{ Validate() error }](t *testing.T) func(name string, c C, field, want string) {
	return func(name string, c C, field, want string) {
		t.Helper()
		t.Run(name, func(t *testing.T) { CheckConfigError(t, c.Validate(), field, want) })
	}
}
