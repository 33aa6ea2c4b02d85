package history

import "syscall"

const canMap = true

func mapChunk(n int) ([]byte, error) {
	return syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
}

func unmapChunk(b []byte) { _ = syscall.Munmap(b) }

// releasePages gives b's pages back to the kernel: its RSS goes, and the
// next write faults in zeroed pages.
func releasePages(b []byte) { _ = syscall.Madvise(b, syscall.MADV_DONTNEED) }
