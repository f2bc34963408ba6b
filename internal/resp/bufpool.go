package resp

import "sync"

// Buffers for large commands (big SETs) come from size-classed pools shared
// by all readers, so a stream of 1 MiB values does not allocate and clear a
// fresh megabyte per command. Classes are 128, 256 and 512 KiB, then every
// MiB up to 16 MiB, so a buffer is at most 1 MiB larger than asked. The
// pools are caches: the garbage collector empties them.
const poolClasses = 3 + 16

var bigPools [poolClasses]sync.Pool

func classSize(i int) int {
	if i < 3 {
		return 128 << 10 << i
	}
	return (i - 2) << 20
}

func poolClass(n int) int {
	for i := 0; i < poolClasses; i++ {
		if n <= classSize(i) {
			return i
		}
	}
	return -1
}

// getBig returns a buffer of length n from the pools.
func getBig(n int) []byte {
	i := poolClass(n)
	if i < 0 {
		return make([]byte, n)
	}
	if p, ok := bigPools[i].Get().(*[]byte); ok {
		return (*p)[:n]
	}
	return make([]byte, n, classSize(i))
}

// putBig recycles a buffer obtained from getBig.
func putBig(b []byte) {
	i := poolClass(cap(b))
	if i < 0 || cap(b) != classSize(i) {
		return
	}
	b = b[:cap(b)]
	bigPools[i].Put(&b)
}
