//go:build !unix

package placement

func cpuNanos() int64 { return 0 }
