//go:build unix

package placement

import "syscall"

// cpuNanos returns the CPU time (user + system) the process has used, so
// benchmarks can report it beside wall time on a shared machine.
func cpuNanos() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
