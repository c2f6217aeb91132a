package config

import (
	"path/filepath"
	"strings"
	"time"
)

// Defaults of State.
const (
	DefaultStatePath     = "/var/lib/sharkfin/state.db"
	DefaultRetention     = Duration(24 * time.Hour)
	DefaultFlushInterval = Duration(time.Second)
	DefaultFlushLines    = 100_000
	DefaultLockTimeout   = Duration(time.Second)
)

// Bounds checked by State.Validate.
const (
	minFlushInterval = Duration(10 * time.Millisecond)
	maxFlushInterval = Duration(10 * time.Minute)
	minLockTimeout   = Duration(10 * time.Millisecond)
	maxLockTimeout   = Duration(10 * time.Minute)
)

// State is the agent's bbolt file: read offsets, window counts, domain
// history and the outbox of undelivered events.
type State struct {
	// Path of the file; its directory is created when missing.
	Path string `yaml:"path"`
	// Retention is how long per-window history is kept. At least
	// detect.window.
	Retention Duration `yaml:"retention"`
	// FlushInterval and FlushLines bound the work between two commits:
	// the state is committed every FlushInterval or every FlushLines lines,
	// whichever comes first.
	FlushInterval Duration `yaml:"flush_interval"`
	FlushLines    int      `yaml:"flush_lines"`
	// LockTimeout is how long start-up waits for another process to
	// release the file.
	LockTimeout Duration `yaml:"lock_timeout"`
}

// SetDefaults fills zero fields with their defaults.
func (s *State) SetDefaults() {
	if s.Path == "" {
		s.Path = DefaultStatePath
	}
	if s.Retention == 0 {
		s.Retention = DefaultRetention
	}
	if s.FlushInterval == 0 {
		s.FlushInterval = DefaultFlushInterval
	}
	if s.FlushLines == 0 {
		s.FlushLines = DefaultFlushLines
	}
	if s.LockTimeout == 0 {
		s.LockTimeout = DefaultLockTimeout
	}
}

// Validate checks the section; that Retention covers a window is checked
// by Config.Validate.
func (s *State) Validate() error {
	var p problems
	switch {
	case s.Path == "":
		p.addf("path", "is empty; use e.g. %s", DefaultStatePath)
	case strings.HasSuffix(s.Path, "/") || filepath.Base(s.Path) == "." || filepath.Base(s.Path) == "..":
		p.addf("path", "%q names a directory; name the file, e.g. %s", s.Path, filepath.Join(s.Path, "state.db"))
	}
	if s.Retention <= 0 {
		p.addf("retention", "%s is too short; use at least one window, e.g. 24h", s.Retention)
	}
	p.add("flush_interval", checkRange(s.FlushInterval, minFlushInterval, maxFlushInterval))
	if s.FlushLines < 1 {
		p.addf("flush_lines", "%d is too small; use at least 1, e.g. %d", s.FlushLines, DefaultFlushLines)
	}
	p.add("lock_timeout", checkRange(s.LockTimeout, minLockTimeout, maxLockTimeout))
	return p.err()
}
