//go:build !linux

package state

import (
	"errors"
	"os"
	"time"
)

// errWouldBlock is never returned here: bbolt's own flock (with
// Options.Timeout) guards the file on platforms other than Linux.
var errWouldBlock = errors.New("lock held elsewhere")

// lockFile does nothing: bbolt locks the file itself when it opens it.
func lockFile(*os.File, time.Duration) error { return nil }

// lockHolder cannot tell who holds a lock outside Linux.
func lockHolder(*os.File) int { return 0 }

// unlockFile does nothing: lockFile took no lock.
func unlockFile(*os.File) {}
