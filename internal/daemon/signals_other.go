//go:build !unix

package daemon

import "os"

// reloadSignals: without unix signals, reloads come only through
// POST /v1/reload.
func reloadSignals() []os.Signal { return nil }
