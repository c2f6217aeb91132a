//go:build !linux

package state

import bolt "go.etcd.io/bbolt"

// ReleaseMapped does nothing here; see the Linux version.
func (s *Store) ReleaseMapped() error { return nil }

func releaseMapped(*bolt.Tx) error { return nil }
