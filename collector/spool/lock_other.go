//go:build !unix

package spool

import (
	"fmt"
	"os"
)

// lockDir only creates the lock file where flock is unavailable.
func lockDir(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("spool: open lock: %w", err)
	}
	return f, nil
}

func unlockDir(f *os.File) { f.Close() }
