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
	// Followed is set while a file is followed under Path; Size is its
	// size when the tailer last looked (every batch, every rescan) and
	// Offset how far it has read: Size - Offset bytes wait to be read.
	Followed     bool
	Size, Offset int64
}

// Stats is a snapshot of a Tailer's counters.
type Stats struct {
	// Totals sums the counters of Files and of the paths no longer
	// listed (Followed, Size and Offset are not summed).
	Totals FileStats
	// Files are the paths followed or failing, sorted by path.
	Files []FileStats
}

// counters is the mutex-guarded store behind Tailer.Stats. The run loop
// updates it once per batch, never per line, and prunes it to the paths it
// follows or fails on (a dateext rotation names a new file every day: the
// counts of names gone are kept in gone, not per name).
type counters struct {
	mu    sync.Mutex
	files map[string]*FileStats
	gone  FileStats
}

// prune forgets the paths keep refuses, adding their counts to gone.
func (c *counters) prune(keep func(path string) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for p, s := range c.files {
		if !keep(p) {
			c.gone.add(s)
			delete(c.files, p)
		}
	}
}

// add adds the counters of o to s.
func (s *FileStats) add(o *FileStats) {
	s.Lines += o.Lines
	s.Bytes += o.Bytes
	s.TooLong += o.TooLong
	s.Truncations += o.Truncations
	s.Rotations += o.Rotations
	s.Missed += o.Missed
	s.Errors += o.Errors
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
	st := Stats{Files: make([]FileStats, 0, len(c.files)), Totals: c.gone}
	for _, s := range c.files {
		st.Files = append(st.Files, *s)
		st.Totals.add(s)
	}
	sort.Slice(st.Files, func(i, j int) bool { return st.Files[i].Path < st.Files[j].Path })
	return st
}
