// Package lobby is where players meet before and between games.
package lobby
