// Package layout holds the test that enforces the direction of the
// project's imports (see layout_test.go): httpcodec uses only the standard
// library, rooms and lobby import neither gnet nor engine, and only engine
// imports gnet.
package layout
