// Package layout holds the tests of the repository's shape: the direction
// of the project's imports (layout_test.go), one layer on the next,
//
//	httpcodec          the standard library only
//	engine             httpcodec, gnet (the only package importing it); no layer above it
//	comet              engine; not games, rooms or lobby
//	rooms, lobby       neither gnet nor engine, comet or games (lobby may import rooms)
//	games              engine, comet, rooms, lobby; not gnet
//	static             assets only: nothing of ours
//
// (bench is the one other importer of gnet: its bare-gnet baseline is the
// floor the engine is measured against), and the links of its
// documentation (links_test.go: every relative link of README.md and
// docs/*.md, with its #anchor, and every document a code span names,
// resolves to a file of the repository).
package layout
