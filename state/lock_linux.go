//go:build linux

package state

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"strconv"
	"syscall"
	"time"
)

// lockRetry is how often a lock held by someone else is tried again.
const lockRetry = 25 * time.Millisecond

// errWouldBlock means another open file description holds the lock.
var errWouldBlock = errors.New("lock held elsewhere")

// lockFile takes an exclusive flock on f, trying until timeout. bbolt takes
// the same lock on the file it is handed (through Options.OpenFile); flock
// locks belong to the open file description, so its second request on the
// same description succeeds at once, while any other open of the file, in
// this process or another, conflicts.
func lockFile(f *os.File, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			return nil
		case !errors.Is(err, syscall.EWOULDBLOCK):
			return err
		case !time.Now().Before(deadline):
			return errWouldBlock
		}
		time.Sleep(min(lockRetry, time.Until(deadline)+time.Millisecond))
	}
}

// unlockFile drops f's flock (an error, on a file already closed, is of
// no interest).
func unlockFile(f *os.File) { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }

// lockHolder returns the id of a process holding a flock on f, from
// /proc/locks, or 0 when it cannot tell. It is for error messages only.
func lockHolder(f *os.File) int {
	fi, err := f.Stat()
	if err != nil {
		return 0
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0
	}
	locks, err := os.ReadFile("/proc/locks")
	if err != nil {
		return 0
	}
	return parseProcLocks(locks, uint64(st.Dev), st.Ino, os.Getpid())
}

// parseProcLocks finds, in the text of /proc/locks, a FLOCK held on the
// inode ino of device dev by a process other than self. A line reads
//
//	1: FLOCK  ADVISORY  WRITE 2235 fd:01:1319366 0 EOF
//
// with the device as hexadecimal major:minor; waiters are marked "->".
func parseProcLocks(text []byte, dev, ino uint64, self int) int {
	major, minor := devMajor(dev), devMinor(dev)
	sc := bufio.NewScanner(bytes.NewReader(text))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) < 6 || string(f[1]) != "FLOCK" {
			continue // a waiter ("->") or another kind of lock
		}
		id := bytes.Split(f[5], []byte(":"))
		if len(id) != 3 {
			continue
		}
		maj, err1 := strconv.ParseUint(string(id[0]), 16, 32)
		mnr, err2 := strconv.ParseUint(string(id[1]), 16, 32)
		in, err3 := strconv.ParseUint(string(id[2]), 10, 64)
		pid, err4 := strconv.Atoi(string(f[4]))
		if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
			continue
		}
		if maj == major && mnr == minor && in == ino && pid != self {
			return pid
		}
	}
	return 0
}

// devMajor and devMinor split a Linux dev_t (glibc's encoding).
func devMajor(dev uint64) uint64 { return (dev>>8)&0x00000fff | (dev>>32)&0xfffff000 }
func devMinor(dev uint64) uint64 { return dev&0x000000ff | (dev>>12)&0xffffff00 }
