//go:build !race

package zstor

const raceEnabled = false
