package testcluster

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"
)

// sysProcAttr makes the kernel kill a daemon when the thread that started
// it ends: the test process dying (even by SIGKILL, or a -timeout panic
// that skips cleanups) then takes its daemons with it. startProcess keeps
// that thread alive for as long as the daemon runs.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// waitStopped waits until the process shows as stopped after SIGSTOP, so
// that Pause returns only once the daemon no longer answers.
func waitStopped(pid int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return err
		}
		// "pid (comm) S ...": the state follows the last ')'.
		s := string(b)
		if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
			switch s[i+2] {
			case 'T', 't':
				return nil
			case 'Z', 'X':
				return fmt.Errorf("process %d is dead", pid)
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("process %d not stopped after %v", pid, timeout)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
