//go:build unix

package daemon

import (
	"os"
	"syscall"
)

// reloadSignals make the daemon re-read its configuration: SIGHUP, the
// usual daemon convention, and SIGUSR1, which 0-stor_v2 uses.
func reloadSignals() []os.Signal { return []os.Signal{syscall.SIGHUP, syscall.SIGUSR1} }
