package tailer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// file is one followed file: an open descriptor and the read position in
// it. It belongs to the run loop's goroutine.
type file struct {
	f  *os.File
	id FileID
	// head are the leading bytes id's fingerprint hashes, when known
	// (nil for rotated copies and for a checkpoint resumed at start-up).
	head []byte
	// path is the name the file is followed under (a glob match, or the
	// last name known once it left the globs); real is path with symlinks
	// resolved, so notices about the target reach it.
	path, real string
	// offset is just past the last delivered line.
	offset int64
	// size and mtime are those of the last fstat; grewAt when it last
	// grew.
	size   int64
	mtime  time.Time
	grewAt time.Time
	// skipping is set inside a line longer than MaxLineBytes whose end has
	// not been read yet; skipPos is where scanning for its '\n' resumes.
	skipping bool
	skipPos  int64
	// pending marks a new file not read yet because it is empty or starts
	// like a followed file (a copy in progress: copytruncate).
	pending bool
	// orphan marks a file no glob reaches any more (renamed away or
	// deleted); it is drained until idle for RotateWait, then dropped.
	orphan bool
	queued bool
	closed bool
	// fresh marks a generation identified while empty: its first content
	// is checked for generations rotated away unseen (generation.go);
	// prev is the generation before it, if any.
	fresh bool
	prev  generation
	// note is what stood beside the file when its generation began.
	note siblingNote
}

// generation returns a copy of fl's content identity, which stays valid
// when fl is identified anew.
func (fl *file) generation() generation {
	return generation{id: fl.id, head: bytes.Clone(fl.head)}
}

// identify takes fl's identity from its content now (fi is its fstat).
func (fl *file) identify(pr *prefixReader, fi os.FileInfo) error {
	id, err := pr.identify(fl.f, fi)
	if err != nil {
		return err
	}
	fl.id = id
	fl.head = append(fl.head[:0], pr.buf[:id.FingerprintLen]...)
	return nil
}

func (fl *file) checkpoint() Checkpoint {
	return Checkpoint{Path: fl.path, ID: fl.id, Offset: fl.offset}
}

// errTruncated says that a file's content no longer extends what was read.
var errTruncated = errors.New("file truncated")

// errFirstContent says that a file identified while empty has content:
// a generation may have been rotated away before it was seen.
var errFirstContent = errors.New("first content of an empty file")

// readResult is what one read step found.
type readResult struct {
	lines    [][]byte
	tooLong  int
	advanced bool // offset moved
	more     bool // the buffer was filled: read again
}

// read reads the next chunk of fl into buf and splits it into lines,
// appended to lines. With final set, a trailing partial line is delivered
// too (the file is being let go). It returns errTruncated when the file
// shrank below the offset or its leading bytes changed.
func (fl *file) read(pr *prefixReader, buf []byte, lines [][]byte, maxLine int, now time.Time, final bool) (readResult, error) {
	res := readResult{lines: lines}
	fi, err := fl.f.Stat()
	if err != nil {
		return res, fmt.Errorf("stat %s: %w", fl.path, err)
	}
	size := fi.Size()
	if size > fl.size {
		fl.grewAt = now
	}
	fl.size = size
	// Shorter than what was read, or than the leading bytes already
	// fingerprinted (read or not): truncated.
	if size < fl.offset || size < int64(fl.id.FingerprintLen) || (fl.skipping && size < fl.skipPos) {
		return res, errTruncated
	}
	start := fl.offset
	if fl.skipping {
		start = fl.skipPos
	}
	// Written to without growing past what was read: copytruncate may
	// have emptied it and the writer refilled it to the same size.
	modified := !fi.ModTime().Equal(fl.mtime)
	fl.mtime = fi.ModTime()
	if size <= start && !modified {
		return res, nil
	}
	if fl.fresh {
		if size > start {
			return res, errFirstContent
		}
		return res, nil
	}
	// copytruncate may have emptied the file and the writer refilled it
	// past our offset before we looked: the leading bytes tell.
	id, same, err := pr.extend(fl.id, fl.f, size)
	if err != nil {
		return res, err
	}
	if !same {
		return res, errTruncated
	}
	if id.FingerprintLen != fl.id.FingerprintLen {
		fl.head = append(fl.head[:0], pr.buf[:id.FingerprintLen]...)
	}
	fl.id = id
	if size <= start {
		return res, nil
	}

	want := int(min(size-start, int64(len(buf))))
	n, err := fl.f.ReadAt(buf[:want], start)
	if err != nil && !errors.Is(err, io.EOF) {
		return res, fmt.Errorf("read %s at %d: %w", fl.path, start, err)
	}
	data := buf[:n]
	res.more = n == len(buf)
	base := start
	if fl.skipping {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			fl.skipPos += int64(n)
			return res, nil
		}
		res.tooLong++
		fl.skipping = false
		fl.offset = start + int64(i) + 1
		res.advanced = true
		data = data[i+1:]
		base = fl.offset
	}
	var consumed, tooLong int
	res.lines, consumed, tooLong = splitLines(data, maxLine, res.lines)
	res.tooLong += tooLong
	if consumed > 0 {
		fl.offset = base + int64(consumed)
		res.advanced = true
	}
	rest := data[consumed:]
	switch {
	case len(rest) > maxLine:
		fl.skipping = true
		fl.skipPos = base + int64(len(data))
	case final && len(rest) > 0 && base+int64(len(data)) == size:
		res.lines = append(res.lines, rest)
		fl.offset = size
		res.advanced = true
	}
	return res, nil
}

// drained reports whether everything in fl up to its last known size was
// consumed.
func (fl *file) drained() bool {
	if fl.skipping {
		return fl.skipPos >= fl.size
	}
	return fl.offset >= fl.size
}

// tailOffset returns where "start at end" begins in f of the given size:
// after the last '\n' in its final 64 KiB, so a line being written is
// delivered whole. ok is false when no '\n' is there: the caller then
// skips to the next one.
func tailOffset(f *os.File, size int64) (off int64, ok bool, err error) {
	const window = 64 << 10
	if size == 0 {
		return 0, true, nil
	}
	from := max(0, size-window)
	buf := make([]byte, size-from)
	n, err := f.ReadAt(buf, from)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, false, fmt.Errorf("read tail of %s: %w", f.Name(), err)
	}
	if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
		return from + int64(i) + 1, true, nil
	}
	if from == 0 {
		return 0, true, nil
	}
	return size, false, nil
}
