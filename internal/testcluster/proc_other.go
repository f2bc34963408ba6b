//go:build !linux

package testcluster

import (
	"syscall"
	"time"
)

// sysProcAttr has no parent-death signal outside Linux: daemons are
// stopped by the cluster's Close and test cleanups only.
func sysProcAttr() *syscall.SysProcAttr { return nil }

// waitStopped gives SIGSTOP a moment to land.
func waitStopped(pid int, timeout time.Duration) error {
	time.Sleep(min(timeout, 50*time.Millisecond))
	return nil
}
