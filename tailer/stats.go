package tailer

import (
	"sort"
	"sync"
)

// FileStats are the counters of one path. A rotated file counts under the
// name it was read from.
type FileStats struct {
	Path string
	// Lines and Bytes delivered (Bytes without the '\n').
	Lines, Bytes uint64
	// TooLong counts lines longer than MaxLineBytes, skipped.
	TooLong uint64
	// Truncations counts files found shorter than their offset or with
	// changed leading bytes (copytruncate).
	Truncations uint64
	// Rotations counts followed files that left this path (renamed away
	// or deleted).
	Rotations uint64
	// Missed counts rotated copies of this path read in full because
	// copytruncate rotated their generation away before the tailer saw
	// it (see generation.go): lines recovered, not lost.
	Missed uint64
	// Errors counts failed opens, stats and reads.
	Errors uint64
}

// Stats is a snapshot of a Tailer's counters.
type Stats struct {
	// Totals sums Files.
	Totals FileStats
	// Files are per path, sorted by path.
	Files []FileStats
}

// counters is the mutex-guarded store behind Tailer.Stats. The run loop
// updates it once per batch, never per line.
type counters struct {
	mu    sync.Mutex
	files map[string]*FileStats
}

func (c *counters) update(path string, f func(*FileStats)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.files == nil {
		c.files = make(map[string]*FileStats)
	}
	s := c.files[path]
	if s == nil {
		s = &FileStats{Path: path}
		c.files[path] = s
	}
	f(s)
}

func (c *counters) snapshot() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := Stats{Files: make([]FileStats, 0, len(c.files))}
	for _, s := range c.files {
		st.Files = append(st.Files, *s)
		st.Totals.Lines += s.Lines
		st.Totals.Bytes += s.Bytes
		st.Totals.TooLong += s.TooLong
		st.Totals.Truncations += s.Truncations
		st.Totals.Rotations += s.Rotations
		st.Totals.Missed += s.Missed
		st.Totals.Errors += s.Errors
	}
	sort.Slice(st.Files, func(i, j int) bool { return st.Files[i].Path < st.Files[j].Path })
	return st
}
