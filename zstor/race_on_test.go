//go:build race

package zstor

// raceEnabled: the race detector instruments every allocation and slows
// the collector down, so heap figures mean nothing under it.
const raceEnabled = true
