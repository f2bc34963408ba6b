package index

import (
	"fmt"
	"syscall"
	"unsafe"
)

// pageSize is the granularity of the off-heap allocator.
var pageSize = syscall.Getpagesize()

// allocBytes returns n bytes (rounded up to whole pages) of zeroed memory
// obtained with an anonymous private mmap. The memory lives outside the Go
// heap: the garbage collector neither scans nor frees it, and untouched pages
// cost no RAM. It must be released with freeBytes, passing the slice exactly
// as returned. Failure to map memory is treated like a failed Go allocation:
// it panics.
func allocBytes(n int) []byte {
	if n <= 0 {
		panic("index: allocBytes of non-positive size")
	}
	n = roundUp(n, pageSize)
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		panic(fmt.Sprintf("index: mmap of %d bytes failed: %v", n, err))
	}
	return b
}

// freeBytes returns memory obtained from allocBytes to the operating system.
// Any slice or pointer into b is invalid afterwards (touching it faults), so
// callers drop every reference they hold before or right after calling it.
func freeBytes(b []byte) {
	if b == nil {
		return
	}
	if err := syscall.Munmap(b); err != nil {
		panic(fmt.Sprintf("index: munmap of %d bytes failed: %v", len(b), err))
	}
}

// uint64s views b (page aligned, from allocBytes) as a []uint64.
func uint64s(b []byte) []uint64 {
	return unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/8)
}

func roundUp(n, to int) int {
	return (n + to - 1) / to * to
}
