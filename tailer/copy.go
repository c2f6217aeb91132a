package tailer

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// This file handles copytruncate: a followed file truncated in place, and
// the rotated copy that holds the lines between our offset and the
// truncation.

// maxRetired bounds the identities of truncated files remembered to
// recognise their copies.
const maxRetired = 16

// retiredGen is a truncated generation whose copy was not found: a copy
// that appears later is read from offset.
type retiredGen struct {
	path   string
	gen    generation
	offset int64
}

// maxSubdirs bounds the directories searched for rotated copies (olddir).
const maxSubdirs = 64

// truncated handles fl found shorter than its offset or with new leading
// bytes: copytruncate (or an editor) rewrote it. The lines between our
// offset and the truncation are in the rotated copy, if it is still there:
// they are read from it. Then fl is read again from its start.
func (r *runner) truncated(fl *file) {
	r.t.stats.update(fl.path, func(s *FileStats) { s.Truncations++ })
	old, off := fl.generation(), fl.offset
	// Even at offset 0 the generation's leading bytes were seen: its
	// copy holds lines not read yet.
	if old.id.FingerprintLen > 0 {
		if c := r.findCopy(fl, old, off); c != nil {
			r.log.Info("file truncated, finishing its rotated copy", logPath, fl.path, logCopy, c.path, logFile, c.id.String(), logOffset, off)
		} else {
			r.log.Info("file truncated, no rotated copy found", logPath, fl.path, logOffset, off)
			// A copy that shows up later still gets recognised.
			r.retired = append(r.retired, retiredGen{path: fl.path, gen: old, offset: off})
			if len(r.retired) > maxRetired {
				r.retired = r.retired[1:]
			}
		}
	}
	r.startGeneration(fl, old)
}

// firstContent handles the first content of fl, a generation identified
// while empty: its identity is taken from that content, then generations
// rotated away meanwhile are looked for.
func (r *runner) firstContent(fl *file) {
	r.startGeneration(fl, generation{})
}

// startGeneration identifies the content fl holds now as a new generation
// following old, and queues fl to be read from its start. (A file first
// identified while empty has read nothing: its start is where it is.)
func (r *runner) startGeneration(fl *file, old generation) {
	fi, err := fl.f.Stat()
	if err == nil {
		err = fl.identify(&r.pr, fi)
	}
	if err != nil {
		r.fail(fl.path, err)
		return
	}
	fl.offset, fl.size, fl.skipping, fl.skipPos = 0, fi.Size(), false, 0
	r.newGeneration(fl, old)
	r.enqueue(fl)
}

// findCopy looks for a copy of the content old (read up to off) among the
// pending files and the rotated siblings of fl, and follows it from off.
func (r *runner) findCopy(fl *file, old generation, off int64) *file {
	for _, c := range r.files {
		if !c.pending || c.closed {
			continue
		}
		if r.adoptCopy(c, old, off) {
			return c
		}
	}
	for _, p := range r.siblings(fl.path) {
		c := r.openCopy(p, old, off)
		if c != nil {
			return c
		}
	}
	return nil
}

// adoptCopy makes the pending file c, when it is a copy of the content
// old, an active file read from off. A copy shorter than off (the lines
// past its end were read from the original before the truncation) is
// followed from its end.
func (r *runner) adoptCopy(c *file, old generation, off int64) bool {
	fi, err := c.f.Stat()
	if err != nil {
		return false
	}
	if ok, err := r.pr.copyOf(old, c.f, fi.Size()); err != nil || !ok {
		return false
	}
	id, err := r.pr.identify(c.f, fi)
	if err != nil {
		return false
	}
	c.id, c.pending, c.offset, c.size = id, false, min(off, fi.Size()), fi.Size()
	r.enqueue(c)
	return true
}

// openCopy follows path from off when it is a file not followed yet whose
// content starts like old and reaches off.
func (r *runner) openCopy(path string, old generation, off int64) *file {
	if r.cfg.excluded(path) {
		return nil
	}
	_, k, err := statRegular(path)
	if err != nil || r.files[k] != nil {
		return nil
	}
	f, fi, err := open(path, k)
	if err != nil {
		return nil
	}
	ok, err := r.pr.copyOf(old, f, fi.Size())
	if err != nil || !ok {
		f.Close()
		return nil
	}
	id, err := r.pr.identify(f, fi)
	if err != nil {
		f.Close()
		return nil
	}
	c := &file{f: f, id: id, path: path, real: realPath(path), offset: min(off, fi.Size()), size: fi.Size(), grewAt: r.now()}
	r.files[k] = c
	if !r.cfg.matches(path) {
		c.orphan = true
		r.orphans++
	}
	r.enqueue(c)
	return c
}

// siblings lists the files a rotation may have moved path to: the entries
// of its directory, and of up to maxSubdirs directories below it (olddir),
// whose names are rotated names of path's (isRotatedName), sorted.
func (r *runner) siblings(path string) []string {
	out, _ := r.siblingsIn(path, rotatedNames(filepath.Base(path)), false)
	return out
}

// siblingsIn lists the files beside path (as siblings does) whose names
// rule accepts, and the directories it read. forNote allows listings that
// may be stale (see listings.read).
func (r *runner) siblingsIn(path string, rule nameRule, forNote bool) (files, dirs []string) {
	dir := filepath.Dir(path)
	l, ok := r.listings.read(dir, forNote)
	if !ok {
		return nil, nil
	}
	dirs = append(dirs, dir)
	files = rule.appendMatches(files, dir, l.files)
	for _, name := range l.subdirs {
		if len(dirs) > maxSubdirs {
			break
		}
		sub := filepath.Join(dir, name)
		sl, ok := r.listings.read(sub, forNote)
		if !ok {
			continue
		}
		dirs = append(dirs, sub)
		files = rule.appendMatches(files, sub, sl.files)
	}
	slices.Sort(files)
	return files, dirs
}

// nameRule picks names from a sorted listing: those that start with
// prefix (found by binary search) and that match accepts.
type nameRule struct {
	prefix string
	match  func(name string) bool
}

func (n nameRule) appendMatches(out []string, dir string, sorted []string) []string {
	i, _ := slices.BinarySearch(sorted, n.prefix)
	for ; i < len(sorted) && strings.HasPrefix(sorted[i], n.prefix); i++ {
		if n.match(sorted[i]) {
			out = append(out, filepath.Join(dir, sorted[i]))
		}
	}
	return out
}

// rotatedNames is the rule of isRotatedName for base.
func rotatedNames(base string) nameRule {
	stem := base
	if ext := filepath.Ext(base); ext != "" && len(ext) < len(base) {
		stem = base[:len(base)-len(ext)]
	}
	return nameRule{prefix: stem, match: func(name string) bool { return isRotatedName(base, name) }}
}

// sameStem is a looser rule: names that start like base up to its first
// '.'. Only for finding a checkpointed inode whose rotated name follows
// no known scheme: the inode and its content decide.
func sameStem(base string) nameRule {
	stem, _, _ := strings.Cut(base, ".")
	return nameRule{prefix: stem, match: func(name string) bool { return name != base }}
}

// isRotatedName reports whether name can be a rotated copy of base:
//   - base, a separator ('.', '-' or '_') and anything: app.log.1,
//     app.log-20241206, app.log.2.gz;
//   - for logrotate's extension option and loggers that keep the
//     extension (lumberjack), base's stem, a separator, a number or
//     date (digits first, then digits, letters and separators), then
//     base's extension and maybe a compression suffix: app.1.log,
//     app-20241206.log, app-2024-12-06T10-00-00.000.log, app.1.log.gz.
//
// Other files that share a prefix (app-audit.log, app.err.log beside
// app.log) are other logs, never copies of this one.
func isRotatedName(base, name string) bool {
	if rest, ok := strings.CutPrefix(name, base); ok {
		return rest != "" && isRotateSep(rest[0])
	}
	ext := filepath.Ext(base)
	stem := base[:len(base)-len(ext)]
	if ext == "" || stem == "" {
		return false
	}
	rest, ok := strings.CutPrefix(name, stem)
	if !ok || len(rest) < 2 || !isRotateSep(rest[0]) || rest[1] < '0' || rest[1] > '9' {
		return false
	}
	mark, after, ok := strings.Cut(rest[1:], ext)
	if !ok || (after != "" && !slices.Contains(compressSuffixes, after)) {
		return false
	}
	for i := range len(mark) {
		if c := mark[i]; !isRotateSep(c) && c != ':' && (c < '0' || c > '9') && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') {
			return false
		}
	}
	return true
}

// compressSuffixes are what compression adds to a rotated name.
var compressSuffixes = []string{".gz", ".bz2", ".xz", ".zst", ".lz4", ".zip", ".Z"}

func isRotateSep(c byte) bool { return c == '.' || c == '-' || c == '_' }

// dirListing is a directory's entries, sorted, read when its stamp was
// stamp.
type dirListing struct {
	stamp   [2]int64
	files   []string // names of entries that are not directories
	subdirs []string
	settled bool // read long enough after the last change to be reused
}

// listings caches directory listings: with thousands of files in one
// directory, each file's sibling note listing it anew made start-up
// quadratic. A listing is reused only while the directory's stamp
// (modification time and size) is unchanged. For the checks that decide
// what is read (missed generations, copies, resumes) it must also have
// been read at least listingSettle after that modification time: a change
// after the read then stamps a later time, whatever the file system's
// timestamp granularity (a clock tick, or a second), so the listing is
// not stale (the rule git uses for its index). A sibling note may use any
// listing: one that misses a file created in the tick of its read only
// makes that file count as new at the next check, which then judges it by
// its own modification time and content. The cache starts over at each
// rescan, which bounds it.
type listings struct {
	byDir  map[string]dirListing
	misses int // directories read, for tests
}

// listingSettle is how long after a directory's last change a listing of
// it must be read to be reused: more than the coarsest timestamp
// granularity of local file systems (one second).
const listingSettle = 2 * time.Second

// maxListingDirs bounds the directories cached; past it the cache starts
// over.
const maxListingDirs = 1024

// read returns the entries of dir; ok is false when it cannot be read.
// anyAge accepts a listing that is not settled (for sibling notes).
func (l *listings) read(dir string, anyAge bool) (dirListing, bool) {
	fi, err := os.Stat(dir)
	if err != nil {
		return dirListing{}, false
	}
	stamp := [2]int64{fi.ModTime().UnixNano(), fi.Size()}
	if c, ok := l.byDir[dir]; ok && (c.settled || anyAge) && c.stamp == stamp {
		return c, true
	}
	settled := time.Since(fi.ModTime()) >= listingSettle // before the read
	l.misses++
	ents, err := os.ReadDir(dir) // sorted by name
	if err != nil {
		return dirListing{}, false
	}
	out := dirListing{stamp: stamp, settled: settled}
	for _, e := range ents {
		if e.IsDir() {
			out.subdirs = append(out.subdirs, e.Name())
		} else {
			out.files = append(out.files, e.Name())
		}
	}
	if l.byDir == nil || len(l.byDir) >= maxListingDirs {
		l.byDir = make(map[string]dirListing)
	}
	l.byDir[dir] = out
	return out, true
}

// reset forgets every listing: a new pass begins.
func (l *listings) reset() { clear(l.byDir) }

// realPath resolves the symlinks of path; it returns path when it cannot.
func realPath(path string) string {
	if rp, err := filepath.EvalSymlinks(path); err == nil {
		return rp
	}
	return path
}
