//go:build linux

package state

import (
	"fmt"
	"syscall"

	bolt "go.etcd.io/bbolt"
)

// ReleaseMapped unmaps the state file's pages from the process, leaving
// them in the page cache. bbolt reads through a shared memory map, and
// every page read stays mapped, counted in the agent's RSS, until the
// kernel wants the memory back: after a flood's window went through the
// outbox, or the check at open read the whole file, that is tens of MiB of
// file the agent no longer needs. A page read again afterwards is mapped
// again from the cache (a minor fault). The file is not changed.
//
// It runs inside a read transaction, which holds bbolt's map in place
// (a remap waits for read transactions to end), and covers the pages the
// transaction's meta page says are in use, all inside the map.
func (s *Store) ReleaseMapped() error {
	return s.db.View(func(tx *bolt.Tx) error { return releaseMapped(tx) })
}

func releaseMapped(tx *bolt.Tx) error {
	addr, size := tx.DB().Info().Data, tx.Size()
	if addr == 0 || size <= 0 {
		return nil
	}
	// The raw call takes the address as it is: MADV_DONTNEED on a shared
	// file mapping drops the mapping of the pages, not their contents.
	if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, addr, uintptr(size), syscall.MADV_DONTNEED); errno != 0 {
		return fmt.Errorf("release mapped state pages: %w", errno)
	}
	return nil
}
