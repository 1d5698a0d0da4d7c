//go:build race

package storage

// raceOn: the race detector is on, and tests that only repeat themselves
// for coverage (the archive model's seeds) do less.
const raceOn = true
