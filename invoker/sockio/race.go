//go:build race

package sockio

// The race detector treats reads and writes through Go's poller as
// synchronisation (a write happens before the read that returns its
// bytes); raw system calls would hide that edge from it, so race builds
// keep the ordinary ones.
const raceEnabled = true
