// Package rooms is the API game developers write rooms against, and the
// runtime that runs them.
package rooms
