package tailer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Reasons a glob match is not followed.
var (
	errIsDir      = errors.New("is a directory")
	errNotRegular = errors.New("not a regular file")
)

// glob expands the configured patterns, without excluded names, sorted
// and without duplicates.
func (r *runner) glob() []string {
	var out []string
	for _, p := range r.cfg.Paths {
		m, _ := filepath.Glob(p) // patterns were validated
		for _, path := range m {
			if !r.cfg.excluded(path) {
				out = append(out, path)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// statRegular stats path (following symlinks) and returns its inode when
// it is a regular file.
func statRegular(path string) (os.FileInfo, inode, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, inode{}, err
	}
	if fi.IsDir() {
		return nil, inode{}, errIsDir
	}
	if !fi.Mode().IsRegular() {
		return nil, inode{}, errNotRegular
	}
	k, ok := inodeOf(fi)
	if !ok {
		return nil, inode{}, fmt.Errorf("stat %s: no inode information", path)
	}
	return fi, k, nil
}

// open opens path for reading and returns it with its fstat, checking that
// it is still the regular file want (when want is not zero).
func open(path string, want inode) (*os.File, os.FileInfo, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|openFlags, 0)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("stat %s: %w", path, err)
	}
	k, _ := inodeOf(fi)
	if !fi.Mode().IsRegular() || (want != inode{} && k != want) {
		f.Close()
		return nil, nil, fs.ErrNotExist // replaced while we looked: next scan
	}
	return f, fi, nil
}

// rescan expands the globs and reconciles them with the followed files:
// known inodes under new names are renamed, new inodes are adopted, and
// followed files no glob reaches any more become orphans. At start-up,
// newFrom tells where a new file starts.
func (r *runner) rescan(newFrom func(path string) startPos) {
	r.listings.reset()
	now := r.now()
	seen := make(map[*file]bool, len(r.files))
	globbed := r.glob()
	for _, p := range globbed {
		_, k, err := statRegular(p)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				r.fail(p, err)
			}
			continue
		}
		if fl := r.files[k]; fl != nil {
			seen[fl] = true
			if fl.path != p && (fl.orphan || !r.stillAt(fl)) {
				r.rename(fl, p)
			}
			r.clearFail(p)
			continue
		}
		from := startBeginning
		if newFrom != nil {
			from = newFrom(p)
		}
		if fl := r.adoptPath(p, k, from, now); fl != nil {
			seen[fl] = true
		}
	}
	for _, fl := range r.files {
		if !seen[fl] && !fl.orphan {
			r.orphan(fl, now)
		}
	}
	// A failing path no glob reaches any more (deleted, or its directory
	// gone) and no followed file has is forgotten, with its stats: the
	// list stays as long as the globs' matches and the files followed, and
	// the error is logged again if it comes back.
	if len(r.failed) > 0 {
		reached := make(map[string]bool, len(globbed)+len(r.files))
		for _, p := range globbed {
			reached[p] = true
		}
		for _, fl := range r.files { // a rotated file drained under its old name
			reached[fl.path] = true
		}
		for p := range r.failed {
			if !reached[p] {
				delete(r.failed, p)
			}
		}
	}
	r.reindex()
}

// adoptPath follows the new inode k found at path, recording the outcome.
func (r *runner) adoptPath(path string, k inode, from startPos, now time.Time) *file {
	fl, err := r.adopt(path, k, from, now)
	if err != nil {
		r.fail(path, err)
		return nil
	}
	r.clearFail(path)
	return fl
}

// created handles a new entry at path, reported by a notice: a file a glob
// matches is opened at once, before a rotation can move it away.
func (r *runner) created(path string) {
	if r.byPath[path] != nil || !r.cfg.matches(path) {
		return
	}
	_, k, err := statRegular(path)
	if err != nil || r.files[k] != nil {
		return // the rescan that follows sorts it out
	}
	if fl := r.adoptPath(path, k, startBeginning, r.now()); fl != nil {
		r.byPath[path] = fl
	}
}

// stillAt reports whether fl's path still names fl.
func (r *runner) stillAt(fl *file) bool {
	_, k, err := statRegular(fl.path)
	return err == nil && k == fl.id.key()
}

// rename records that fl is now reached as path.
func (r *runner) rename(fl *file, path string) {
	if !fl.orphan {
		r.t.stats.update(fl.path, func(s *FileStats) { s.Rotations++ })
	} else {
		r.orphans--
		fl.orphan = false
	}
	r.log.Debug("file renamed", logPath, fl.path, logFile, path)
	fl.path, fl.real = path, realPath(path)
	r.enqueue(fl)
}

// orphan records that no glob reaches fl any more: it is drained, and
// dropped once idle for RotateWait.
func (r *runner) orphan(fl *file, now time.Time) {
	r.t.stats.update(fl.path, func(s *FileStats) { s.Rotations++ })
	r.log.Debug("file left the globs, draining", logPath, fl.path, logOffset, fl.offset)
	fl.orphan = true
	fl.grewAt = now
	r.orphans++
	r.enqueue(fl)
}

// startPos is where a newly adopted file is read from.
type startPos uint8

const (
	startBeginning startPos = iota
	startEnd
)

// adopt starts following the new inode k at path. The file is pending
// until classify decides it is a new log rather than a copy.
func (r *runner) adopt(path string, k inode, from startPos, now time.Time) (*file, error) {
	f, fi, err := open(path, k)
	if err != nil {
		return nil, err
	}
	fl := &file{f: f, path: path, real: realPath(path), size: fi.Size(), grewAt: now, pending: true}
	if err := fl.identify(&r.pr, fi); err != nil {
		f.Close()
		return nil, err
	}
	r.files[k] = fl
	r.noteSiblings(fl)
	ck, ok := r.deferred[k] // a checkpointed file not opened at start-up
	if ok {
		delete(r.deferred, k)
	} else {
		ck, ok = r.dropped.take(k) // let go, and found again
	}
	if ok {
		same, err := r.pr.sameContent(ck.ID, f, fi.Size())
		if err == nil && same && fi.Size() >= ck.Offset {
			fl.pending, fl.id, fl.offset = false, ck.ID, ck.Offset
			fl.head = fl.head[:ck.ID.FingerprintLen] // the file starts with them
			fl.fresh = ck.ID.FingerprintLen == 0
			r.enqueue(fl)
			return fl, nil
		}
	}
	fl.fresh = fi.Size() == 0
	if from == startEnd {
		r.classify(fl, true)
	} else {
		r.classify(fl, false)
	}
	return fl, nil
}

// classify decides whether a pending file is a new log, which becomes
// active, or is still empty or a copy of a followed file (copytruncate's
// rotated copy, possibly being written), which stays pending: reading it
// would deliver the followed file's lines twice.
func (r *runner) classify(fl *file, atEnd bool) {
	fi, err := fl.f.Stat()
	if err != nil {
		r.fail(fl.path, fmt.Errorf("stat %s: %w", fl.path, err))
		return
	}
	size := fi.Size()
	fl.size = size
	if size == 0 {
		return
	}
	for i, ret := range r.retired {
		if r.adoptCopy(fl, ret.gen, ret.offset) {
			r.log.Info("finishing rotated copy of a truncated file", logPath, ret.path, logCopy, fl.path, logOffset, fl.offset)
			r.retired = slices.Delete(r.retired, i, i+1)
			return
		}
	}
	for _, o := range r.files {
		if o == fl || o.pending || o.closed || o.id.FingerprintLen == 0 {
			continue
		}
		var copyOf bool
		if size >= int64(o.id.FingerprintLen) {
			copyOf, err = r.pr.sameContent(o.id, fl.f, size)
		} else {
			copyOf, err = r.pr.isPrefixOf(fl.f, size, o.f, o.size)
		}
		if err != nil {
			r.fail(fl.path, err)
			return
		}
		if copyOf {
			return
		}
	}
	if err := fl.identify(&r.pr, fi); err != nil {
		r.fail(fl.path, err)
		return
	}
	fl.pending, fl.offset = false, 0
	if fl.fresh {
		// Seen empty before: what was written since may have been
		// rotated away already.
		r.newGeneration(fl, generation{})
	}
	if atEnd {
		off, ok, err := tailOffset(fl.f, size)
		if err != nil {
			r.fail(fl.path, err)
			return
		}
		fl.offset = off
		if !ok {
			fl.skipping, fl.skipPos = true, off
		}
	}
	r.log.Debug("following file", logPath, fl.path, logFile, fl.id.String(), logOffset, fl.offset)
	r.enqueue(fl)
}
