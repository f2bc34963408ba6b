// Package buildinfo says which build a binary is.
package buildinfo

import "runtime/debug"

// Revision is the VCS revision the binary was built from, with "-dirty"
// when the tree had local changes; else the main module's version; else
// "(unknown)" when the binary carries no build information.
func Revision() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	rev, dirty := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return bi.Main.Version
	}
	if dirty {
		rev += "-dirty"
	}
	return rev
}
