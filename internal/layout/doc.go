// Package layout holds the tests of the repository's shape: the direction
// of the project's imports (layout_test.go: httpcodec uses only the standard
// library, rooms and lobby import neither gnet nor engine, and only engine
// imports gnet), and the links of its documentation (links_test.go: every
// relative link of README.md and docs/*.md, with its #anchor, and every
// document a code span names, resolves to a file of the repository).
package layout
