package tailer

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"
)

// Where a tailer starts reading a file it has no checkpoint for.
const (
	StartAtEnd       = "end"
	StartAtBeginning = "beginning"
)

// Defaults applied by Config.SetDefaults.
const (
	DefaultRescanInterval = 10 * time.Second
	DefaultPollInterval   = 250 * time.Millisecond
	DefaultMaxLineBytes   = 1 << 20
	DefaultRotateWait     = 5 * time.Second
)

// DefaultExclude are the names of rotated, compressed files: they are never
// read as text even when a glob matches them.
var DefaultExclude = []string{"*.gz", "*.bz2", "*.xz", "*.zst", "*.zip"}

// Config is one input: a set of globs followed as log files.
type Config struct {
	// Name is the input name, copied into every Batch.
	Name string
	// Paths are globs (filepath.Match syntax), expanded again every
	// RescanInterval and after every create, rename or delete seen in a
	// watched directory.
	Paths []string
	// RescanInterval is how often the globs are expanded again and every
	// followed file is checked even without a notification (default 10s).
	RescanInterval time.Duration
	// StartAt is "end" (default) or "beginning": where to start a file
	// found at start-up that has no checkpoint and is not at a checkpointed
	// path. Files that appear later, and new files at checkpointed paths
	// (rotated while the agent was stopped), are always read from the
	// beginning.
	StartAt string
	// Poll makes the tailer stat files every PollInterval instead of
	// waiting for inotify; use it on NFS and other file systems without
	// change notification.
	Poll bool
	// PollInterval is the polling period (default 250ms). It also paces the
	// draining of rotated files that left the globs.
	PollInterval time.Duration
	// MaxLineBytes is the longest line delivered (default 1 MiB, without
	// the '\n'); longer lines are skipped, counted in Stats and consumed.
	MaxLineBytes int
	// Exclude are filepath.Match patterns, matched against the base name
	// and the whole path, of files never read (default DefaultExclude).
	Exclude []string
	// RotateWait is how long a file that left the globs (renamed away or
	// deleted) is still read after it last grew, for writers that reopen
	// their log late (default 5s).
	RotateWait time.Duration
}

// SetDefaults fills zero fields with their defaults.
func (c *Config) SetDefaults() {
	if c.RescanInterval <= 0 {
		c.RescanInterval = DefaultRescanInterval
	}
	if c.StartAt == "" {
		c.StartAt = StartAtEnd
	}
	if c.PollInterval <= 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.MaxLineBytes <= 0 {
		c.MaxLineBytes = DefaultMaxLineBytes
	}
	if c.Exclude == nil {
		c.Exclude = append([]string(nil), DefaultExclude...)
	}
	if c.RotateWait <= 0 {
		c.RotateWait = DefaultRotateWait
	}
}

// Validate reports configuration errors.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Paths) == 0 {
		errs = append(errs, errors.New("no paths"))
	}
	for _, p := range c.Paths {
		if _, err := filepath.Match(p, ""); err != nil {
			errs = append(errs, fmt.Errorf("path %q: %w", p, err))
		}
	}
	for _, p := range c.Exclude {
		if _, err := filepath.Match(p, ""); err != nil {
			errs = append(errs, fmt.Errorf("exclude %q: %w", p, err))
		}
	}
	if c.StartAt != StartAtEnd && c.StartAt != StartAtBeginning {
		errs = append(errs, fmt.Errorf("start_at %q: want %q or %q", c.StartAt, StartAtEnd, StartAtBeginning))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("input %q: %w", c.Name, err)
	}
	return nil
}

// excluded reports whether path is never to be read.
func (c *Config) excluded(path string) bool {
	base := filepath.Base(path)
	for _, p := range c.Exclude {
		if ok, _ := filepath.Match(p, base); ok {
			return true
		}
		if ok, _ := filepath.Match(p, path); ok {
			return true
		}
	}
	return false
}

// matches reports whether path is matched by one of the globs and not
// excluded.
func (c *Config) matches(path string) bool {
	if c.excluded(path) {
		return false
	}
	for _, p := range c.Paths {
		if ok, _ := filepath.Match(p, path); ok {
			return true
		}
	}
	return false
}
