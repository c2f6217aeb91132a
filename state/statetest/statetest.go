// Package statetest opens state stores for tests, in the manner of bbolt's
// internal/btesting: a fresh file under t.TempDir(), checked for
// consistency and closed when the test ends.
package statetest

import (
	"path/filepath"
	"testing"

	"github.com/socx/sharkfin/state"
)

// Store is a state.Store opened for a test. It embeds the store, so every
// method of state.Store is at hand.
type Store struct {
	*state.Store
	t   testing.TB
	opt state.Options
}

// New opens a Store on a new file in t.TempDir() with fsync off. At cleanup
// it runs the consistency check, failing the test on any problem, and
// closes the store.
func New(t testing.TB) *Store {
	t.Helper()
	return NewWithOptions(t, state.Options{NoSync: true})
}

// NewWithOptions is New with opt; an empty opt.Path is a new file in
// t.TempDir().
func NewWithOptions(t testing.TB, opt state.Options) *Store {
	t.Helper()
	if opt.Path == "" {
		opt.Path = filepath.Join(t.TempDir(), "state.db")
	}
	s := &Store{t: t, opt: opt}
	s.open()
	t.Cleanup(s.MustClose)
	return s
}

func (s *Store) open() {
	s.t.Helper()
	st, err := state.Open(s.opt)
	if err != nil {
		s.t.Fatalf("statetest: %v", err)
	}
	s.Store = st
}

// MustCheck fails the test if the consistency check finds a problem.
func (s *Store) MustCheck() {
	s.t.Helper()
	if err := s.Check(); err != nil {
		s.t.Errorf("statetest: %v", err)
	}
}

// MustClose checks and closes the store; the file stays for Reopen or for
// another Open. Later calls do nothing.
func (s *Store) MustClose() {
	s.t.Helper()
	if s.Store == nil {
		return
	}
	s.MustCheck()
	if err := s.Store.Close(); err != nil {
		s.t.Errorf("statetest: %v", err)
	}
	s.Store = nil
}

// Reopen checks and closes the store, then opens its file again with the
// same options, as the agent does after a restart.
func (s *Store) Reopen() {
	s.t.Helper()
	s.MustClose()
	s.open()
}
