package tailer

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// This file finds the generations of a file that copytruncate rotated
// away between two looks at it.
//
// The tailer knows that a followed file was rotated by copytruncate when
// its content no longer extends what was read (errTruncated), and then
// finishes the copy of the generation it was reading (findCopy). Two cases
// escape that:
//
//   - a file seen empty has no leading bytes to fingerprint: if it is
//     written, copied and truncated before the next look, its inode is
//     simply found with other content, and nothing says a generation
//     passed;
//   - two rotations between looks leave two copies: the copy of the
//     generation being read (app.log.2 by then) and that of the next one
//     (app.log.1), which the followed file never showed us.
//
// Both leave a file beside the followed one that did not exist when the
// followed file's current generation began. So when a generation begins,
// the rotated siblings are noted by inode, size and modification time (a
// rename changes none of them); when that generation ends (a truncation,
// or first content in a file seen empty), a sibling not noted then, not
// followed, not a copy of the generation that was being read and not the
// start of the file's new content is a generation the tailer missed: it is
// read from its start, before the followed file (oldest data first).

// maxKnownSiblings bounds a note of siblings. A file with more rotated
// siblings than that (not counting compressed ones) is not checked for
// missed generations.
const maxKnownSiblings = 4096

// noteSlack is how much older than the note a sibling may be and still
// count as new: file systems with coarse timestamps stamp a write up to a
// clock tick before it happens. A file older than the note by less than
// that and missed by the listing (a rename during it) would be read
// twice; both at once do not happen with rotations seconds apart.
const noteSlack = 10 * time.Millisecond

// sibling is a rotated file beside a followed one.
type sibling struct {
	ino   inode
	size  int64
	mtime int64
}

// siblingNote is what stood beside a followed file when its current
// generation began.
type siblingNote struct {
	ok    bool
	at    int64 // Unix ns, less noteSlack
	known []sibling
	// undecided are siblings a check could not judge (renamed while it
	// looked): new at every check until judged, whatever their age.
	undecided []inode
	// unstable says the last listing was taken while files were renamed
	// and may have missed one: the next rescan checks again.
	unstable bool
}

// siblingEntry is a sibling as listed, with its path.
type siblingEntry struct {
	path string
	sibling
}

// maxListings bounds the listings taken to get one that no rename,
// create or delete in the directories interleaved with.
const maxListings = 3

// listSiblings stats the rotated siblings of fl that exist now, but
// compressed ones. ok is false when there are more than maxKnownSiblings;
// stable is false when the directories changed while they were read (a
// rotation renaming files): a file may then be missing from the list.
// forNote says the list is for a sibling note, which may take a cached
// listing that is not settled (see listings).
func (r *runner) listSiblings(fl *file, forNote bool) (list []siblingEntry, ok, stable bool) {
	var dirs []string
	for range maxListings {
		before := dirStamps(dirs)
		var paths []string
		paths, dirs = r.siblingsIn(fl.path, rotatedNames(filepath.Base(fl.path)), forNote)
		list = list[:0]
		for _, p := range paths {
			if r.cfg.excluded(p) || p == fl.path {
				continue
			}
			fi, k, err := statRegular(p)
			if err != nil {
				continue
			}
			if len(list) == maxKnownSiblings {
				r.log.Debug("too many rotated siblings to check for missed generations", logPath, fl.path)
				return nil, false, false
			}
			list = append(list, siblingEntry{path: p, sibling: sibling{ino: k, size: fi.Size(), mtime: fi.ModTime().UnixNano()}})
		}
		if before != nil && slices.Equal(before, dirStamps(dirs)) {
			return list, true, true
		}
	}
	return list, true, false
}

// dirStamps returns the change times of dirs (nil for none): equal
// stamps before and after reading them mean no entry changed meanwhile.
func dirStamps(dirs []string) []int64 {
	if len(dirs) == 0 {
		return nil
	}
	out := make([]int64, 0, 2*len(dirs))
	for _, d := range dirs {
		fi, err := os.Stat(d)
		if err != nil {
			out = append(out, -1, -1)
			continue
		}
		out = append(out, fi.ModTime().UnixNano(), fi.Size())
	}
	return out
}

// noteSiblings records the rotated siblings of fl that exist now: its
// current generation begins.
func (r *runner) noteSiblings(fl *file) {
	at := r.now().Add(-noteSlack).UnixNano()
	list, ok, stable := r.listSiblings(fl, true)
	fl.note = siblingNote{}
	fl.note.update(at, list, ok, stable)
}

// update records list, taken at at, as what is known. A stable list
// replaces what was known and moves the note's time to at: what it does
// not hold did not exist. An unstable one (files renamed while it was
// taken) may miss a file, so the time stays and the list is only added:
// a file missing from it is still new at the next check.
func (n *siblingNote) update(at int64, list []siblingEntry, ok, stable bool) {
	if !ok {
		*n = siblingNote{}
		return
	}
	if stable || !n.ok {
		n.ok, n.at, n.known = true, at, n.known[:0]
		n.unstable = !stable
	} else {
		n.unstable = true
	}
	for _, e := range list {
		i := slices.IndexFunc(n.known, func(k sibling) bool { return k.ino == e.ino })
		if i >= 0 {
			n.known[i] = e.sibling
		} else if len(n.known) < maxKnownSiblings {
			n.known = append(n.known, e.sibling)
		} else {
			*n = siblingNote{}
			return
		}
	}
}

// isNew reports whether s appeared or changed since the note.
func (n *siblingNote) isNew(s sibling) bool {
	if slices.Contains(n.undecided, s.ino) {
		return true
	}
	if s.mtime < n.at {
		return false
	}
	for _, k := range n.known {
		if k.ino == s.ino {
			return k.size != s.size || k.mtime != s.mtime
		}
	}
	return true
}

// newGeneration records that fl's content starts anew (fl.id is its
// identity, read from offset 0) and looks for generations rotated away
// since the last one began. prev is the generation that ended (zero if
// none). An empty fl is fresh until its first content (errFirstContent),
// and checked again on every rescan meanwhile.
func (r *runner) newGeneration(fl *file, prev generation) {
	if fl.id.FingerprintLen == 0 {
		fl.fresh = true
		if prev.id.FingerprintLen > 0 {
			fl.prev = prev
		}
		r.checkGenerations(fl, prev)
		return
	}
	if fl.fresh {
		if prev.id.FingerprintLen == 0 {
			prev = fl.prev
		}
		fl.prev, fl.fresh = generation{}, false
	}
	r.checkGenerations(fl, prev)
}

// recheck checks again, on every rescan, the files that are empty since
// their generation began (generations written and rotated away between
// two looks that both found the file empty leave only their copies) and
// those whose last check left siblings undecided or listed them while
// they were renamed.
func (r *runner) recheck() {
	for _, fl := range r.files {
		if (fl.fresh || len(fl.note.undecided) > 0 || fl.note.unstable) && !fl.closed && !fl.orphan {
			r.checkGenerations(fl, fl.prev)
		}
	}
}

// maxCheckPasses bounds the listings of one check: a sibling renamed
// between its listing and its opening is looked for again under its new
// name.
const maxCheckPasses = 3

// checkGenerations follows, from their start, the siblings of fl that
// appeared since the note and hold a generation never read (see the top
// of this file): not followed, not let go, not a copy of prev (the
// generation that was read) and not a copy of fl's current generation
// (copytruncate copying it now, or done copying and about to truncate:
// fl delivers it, or findCopy finds the copy when fl is truncated). Then
// it notes the siblings as listed: what appears or changes later is
// looked at next time, and so is what it could not judge.
func (r *runner) checkGenerations(fl *file, prev generation) {
	at := r.now().Add(-noteSlack).UnixNano()
	list, ok, stable := r.listSiblings(fl, false)
	if !ok || !fl.note.ok {
		fl.note.update(at, list, ok, stable)
		return
	}
	cur := generation{id: fl.id, head: fl.head}
	var found []*file
	var undecided []inode
	var used []int // of r.retired, by the copies found
	pass := list
	for attempt := 0; ; attempt++ {
		undecided = undecided[:0]
		for _, e := range pass {
			if e.size == 0 || r.files[e.ino] != nil || !fl.note.isNew(e.sibling) {
				continue
			}
			c, ret, decided := r.openMissed(e.path, e.ino, prev, cur, fl, used)
			r.log.Debug("rotated sibling checked", logPath, fl.path, logCopy, e.path, "ino", e.ino.ino, logBytes, e.size, "missed", c != nil, "decided", decided)
			if c != nil {
				found = append(found, c)
				r.files[e.ino] = c // claimed; followed below, or closed
				if ret >= 0 {
					used = append(used, ret)
				}
			}
			if !decided {
				undecided = append(undecided, e.ino)
			}
		}
		if len(undecided) == 0 || attempt+1 == maxCheckPasses {
			break
		}
		// Renamed while we looked: find them under their new names.
		again, ok, _ := r.listSiblings(fl, false)
		if !ok {
			break
		}
		pass = again[:0]
		for _, e := range again {
			if slices.Contains(undecided, e.ino) {
				pass = append(pass, e)
			}
		}
	}
	for _, c := range found {
		delete(r.files, c.id.key())
	}
	if fl.id.FingerprintLen == 0 {
		// fl was empty when identified: content it got since cannot be
		// told from a missed generation by a copy of it. If it has
		// some, its first content decides (errFirstContent).
		if fi, err := fl.f.Stat(); err != nil || fi.Size() != 0 {
			r.log.Debug("sibling check left to the first content", logPath, fl.path)
			for _, c := range found {
				c.f.Close()
			}
			return
		}
	}
	for _, c := range found {
		if c.offset == 0 {
			r.t.stats.update(fl.path, func(s *FileStats) { s.Missed++ })
			r.log.Warn("reading a generation rotated away before it was read", logPath, fl.path, logCopy, c.path, logFile, c.id.String(), logBytes, c.size)
		}
		r.files[c.id.key()] = c
		if !r.cfg.matches(c.path) {
			c.orphan = true
			r.orphans++
		}
		r.enqueue(c)
	}
	// The truncated generations whose copies are followed now are done
	// with; not before: copies put down above are found again.
	slices.Sort(used)
	for _, i := range slices.Backward(used) {
		r.retired = slices.Delete(r.retired, i, i+1)
	}
	kept := list[:0]
	for _, e := range list {
		if !slices.Contains(undecided, e.ino) {
			kept = append(kept, e)
		}
	}
	fl.note.update(at, kept, true, stable)
	fl.note.undecided = append(fl.note.undecided[:0], undecided...)
}

// openMissed opens the sibling at path (inode k) and returns it, ready to
// be followed, when it holds lines never read:
//   - a copy of a truncated generation whose copy findCopy did not find
//     (r.retired[ret], not among used): followed from where that
//     generation was left;
//   - a generation never read: followed from 0 (ret is -1).
//
// It is neither when it is a file let go (r.dropped) with the same
// content, nor when it copies prev or cur, nor when it copies the current
// generation of another followed file in fl's directory (decided), nor
// when it copies what fl holds now, newer than cur: fl delivers that
// content unless it is rotated away first, which the next check sees
// (undecided). decided is also false when an error kept it from telling.
func (r *runner) openMissed(path string, k inode, prev, cur generation, fl *file, used []int) (c *file, ret int, decided bool) {
	f, fi, err := open(path, k)
	if err != nil {
		return nil, -1, false
	}
	size := fi.Size()
	newFile := func(offset int64, ret int) (*file, int, bool) {
		id, err := r.pr.identify(f, fi)
		if err != nil {
			f.Close()
			return nil, -1, false
		}
		return &file{f: f, id: id, path: path, real: realPath(path), offset: offset, size: size, grewAt: r.now()}, ret, true
	}
	// A file let go whose inode number is taken by a new file is not
	// the file let go: its content tells (a short fingerprint, a header
	// line, only with the size it was let go at).
	if ck, ok := r.dropped.get(k); ok && ck.ID.FingerprintLen > 0 && (ck.ID.FingerprintLen == FingerprintSize || size == ck.Offset) {
		same, err := r.pr.sameContent(ck.ID, f, size)
		if err != nil || same {
			f.Close()
			return nil, -1, err == nil
		}
	}
	for i, rg := range r.retired {
		if slices.Contains(used, i) {
			continue
		}
		same, err := r.pr.copyOf(rg.gen, f, size)
		if err != nil {
			f.Close()
			return nil, -1, false
		}
		if same {
			r.log.Info("finishing rotated copy of a truncated file", logPath, rg.path, logCopy, path, logOffset, rg.offset)
			return newFile(min(rg.offset, size), i)
		}
	}
	// A copy of another followed file beside fl is that file's to
	// deliver. Only a whole fingerprint tells: a few bytes (a header
	// line) are shared by every generation of files of one format.
	gens := []generation{prev, cur}
	dir := filepath.Dir(fl.path)
	for _, o := range r.files {
		if o != fl && !o.closed && !o.pending && o.id.FingerprintLen == FingerprintSize && filepath.Dir(o.path) == dir {
			gens = append(gens, generation{id: o.id, head: o.head})
		}
	}
	for _, g := range gens {
		if g.id.FingerprintLen == 0 {
			continue
		}
		same, err := r.pr.copyOf(g, f, size)
		if err != nil || same {
			f.Close()
			return nil, -1, err == nil
		}
	}
	live, err := fl.f.Stat()
	if err == nil && live.Size() > 0 {
		var same bool
		same, err = r.pr.isPrefixOf(f, size, fl.f, live.Size())
		if same {
			err = errLiveCopy
		}
	}
	if err != nil {
		f.Close()
		return nil, -1, false
	}
	return newFile(0, -1)
}

// errLiveCopy says that a sibling copies what a followed file holds now.
var errLiveCopy = errors.New("copy of the live file")
