//go:build !linux

package history

// Elsewhere slabs stay on the heap.
const canMap = false

func mapChunk(int) ([]byte, error) { panic("history: no mapping") }
func unmapChunk([]byte)            {}
func releasePages([]byte)          {}
