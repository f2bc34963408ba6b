//go:build race

package index

// raceEnabled: the race detector shadows memory, so RSS figures mean nothing.
const raceEnabled = true
