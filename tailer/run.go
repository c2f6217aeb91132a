package tailer

import (
	"cmp"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// rescanDelay debounces the rescans that notices ask for: a rotation
// produces a handful of creates and renames within milliseconds.
const rescanDelay = 50 * time.Millisecond

// minReadBuffer is the smallest read: large reads amortise the system call
// and give batches of thousands of lines.
const minReadBuffer = 1 << 20

// runner is the state of one Run, owned by its goroutine.
type runner struct {
	t   *Tailer
	cfg *Config
	log *slog.Logger
	now func() time.Time
	pr  prefixReader

	files    map[inode]*file
	byPath   map[string]*file
	deferred map[inode]Checkpoint
	dropped  droppedFiles
	listings listings     // directory listings of this pass
	retired  []retiredGen // truncated generations, for their copies
	queue    []*file
	orphans  int
	failed   map[string]string

	notifier  notifier
	degraded  bool // some directories are not watched: poll
	soon      *time.Timer
	soonArmed bool

	slots [readAhead]slot
	cur   int // the slot the next batch is read into
	ack   chan uint64
	seq   uint64 // of the last batch made
	acked uint64 // the last batch released with Done
}

// readAhead is how many batches may be out at once, each in its own
// buffers: the next chunks are read while the consumer parses and counts
// the first. Batches are released in order. With two, a catch-up's
// counting waited for input about 40% of the time (a release wakes the
// reader, whose read wakes the parsers: hand-offs that a loaded machine
// is slow to schedule); three cost one more read buffer.
const readAhead = 3

// slot is the memory of one batch out, reused once it is released.
type slot struct {
	buf   []byte
	lines [][]byte
	ckpts []Checkpoint
}

func newRunner(t *Tailer) *runner {
	return &runner{
		t:        t,
		cfg:      &t.cfg,
		log:      t.log,
		now:      time.Now,
		files:    make(map[inode]*file),
		byPath:   make(map[string]*file),
		deferred: make(map[inode]Checkpoint),
		failed:   make(map[string]string),
		ack:      make(chan uint64, readAhead),
	}
}

// buffer returns the read buffer of the current slot, allocated on first
// use (a quiet input never needs its second).
func (r *runner) buffer() []byte {
	s := &r.slots[r.cur]
	if s.buf == nil {
		s.buf = make([]byte, max(minReadBuffer, r.cfg.MaxLineBytes+1))
	}
	return s.buf
}

func (r *runner) run(ctx context.Context, out chan<- *Batch) error {
	if !r.cfg.Poll {
		n, err := newInotifyNotifier()
		if err != nil {
			r.log.Warn("inotify unavailable, polling instead", logErr, err)
			r.degraded = true
		} else {
			r.notifier = n
		}
	}
	r.start()
	close(r.t.ready)

	rescan := time.NewTicker(r.cfg.RescanInterval)
	defer rescan.Stop()
	fast := time.NewTicker(r.cfg.PollInterval)
	defer fast.Stop()
	fastOn := true
	soon := time.NewTimer(rescanDelay)
	soon.Stop()
	r.soonArmed = false
	r.soon = soon
	defer soon.Stop()

	var notices <-chan notice
	if r.notifier != nil {
		notices = r.notifier.notices()
	}
	var pending *Batch
	for {
		if need := r.cfg.Poll || r.degraded || r.orphans > 0; need != fastOn {
			if need {
				fast.Reset(r.cfg.PollInterval)
			} else {
				fast.Stop()
			}
			fastOn = need
		}
		if len(r.queue) > 0 { // files to read: not caught up while they are read
			r.t.caughtUp.Store(false)
		}
		if pending == nil && r.seq-r.acked < readAhead && !r.t.isPaused() {
			pending = r.next()
		}
		var send chan<- *Batch
		if pending != nil {
			send = out
		}
		r.t.caughtUp.Store(pending == nil && len(r.queue) == 0 && r.seq == r.acked)
		select {
		case <-ctx.Done():
			return nil
		case send <- pending:
			pending = nil
		case seq := <-r.ack: // in order: every batch up to seq is released
			r.acked = max(r.acked, seq)
		case n, ok := <-notices:
			if !ok {
				notices = nil
				r.degraded = true
				continue
			}
			r.notice(n)
		case <-rescan.C:
			// The safety net: globs again, and every file checked even
			// if a notice was lost.
			r.rescan(nil)
			r.recheck()
			r.enqueueAll()
			r.refreshSizes()
		case <-fast.C:
			r.poll()
		case <-soon.C:
			r.soonArmed = false
			r.rescan(nil)
		case <-r.t.wake:
		}
	}
}

// next reads the queued files in turn until one yields a batch.
//
// Among queued files the oldest data goes first: files that left the globs
// (renamed away by a rotation), then by modification time. After a
// rotation, and above all after one while the agent was stopped, the
// rotated file's backlog is read before the new file, so event time moves
// forward and the rotated lines are not late.
func (r *runner) next() *Batch {
	for len(r.queue) > 0 {
		r.oldestFirst()
		fl := r.queue[0]
		r.queue[0] = nil
		r.queue = r.queue[1:]
		fl.queued = false
		if fl.closed {
			continue
		}
		if b := r.step(fl); b != nil {
			return b
		}
	}
	return nil
}

// oldestFirst moves the queued file with the oldest data to the front.
func (r *runner) oldestFirst() {
	if len(r.queue) < 2 {
		return
	}
	best, bestOrphan := 0, false
	var bestMod time.Time
	for i, fl := range r.queue {
		var mod time.Time
		if fl.f != nil {
			if st, err := fl.f.Stat(); err == nil {
				mod = st.ModTime()
			}
		}
		switch {
		case i == 0:
		case fl.orphan && !bestOrphan:
		case fl.orphan == bestOrphan && mod.Before(bestMod):
		default:
			continue
		}
		best, bestOrphan, bestMod = i, fl.orphan, mod
	}
	if best != 0 {
		fl := r.queue[best]
		copy(r.queue[1:best+1], r.queue[:best])
		r.queue[0] = fl
	}
}

// step reads one chunk of fl and returns the batch it makes, if any.
func (r *runner) step(fl *file) *Batch {
	if fl.pending {
		r.classify(fl, false)
		if fl.pending {
			return nil
		}
	}
	now := r.now()
	final := fl.orphan && now.Sub(fl.grewAt) >= r.cfg.RotateWait
	sl := &r.slots[r.cur]
	res, err := fl.read(&r.pr, r.buffer(), sl.lines[:0], r.cfg.MaxLineBytes, now, final)
	sl.lines = res.lines[:0]
	if errors.Is(err, errTruncated) {
		r.truncated(fl)
		return nil
	}
	if errors.Is(err, errFirstContent) {
		r.firstContent(fl)
		return nil
	}
	if err != nil {
		r.fail(fl.path, err)
		return nil
	}
	if res.more {
		r.enqueue(fl)
	}
	// A dropped file still gets a batch, maybe empty: its checkpoint
	// must leave the persisted set.
	dropped := fl.orphan && final && !res.more && fl.drained()
	if dropped {
		r.drop(fl)
	}
	if !res.advanced && res.tooLong == 0 && !dropped {
		return nil
	}
	var nbytes int
	for _, l := range res.lines {
		nbytes += len(l)
	}
	nlines, tooLong := len(res.lines), res.tooLong
	shared := r.sharesPath(fl)
	r.t.stats.update(fl.path, func(s *FileStats) {
		s.Lines += uint64(nlines)
		s.Bytes += uint64(nbytes)
		s.TooLong += uint64(tooLong)
		if !shared {
			s.Followed, s.Size, s.Offset = !dropped, fl.size, fl.offset
		}
	})
	r.seq++
	b := &Batch{
		Input:       r.cfg.Name,
		Path:        fl.path,
		ID:          fl.id,
		Lines:       res.lines,
		EndOffset:   fl.offset,
		Checkpoints: r.snapshot(sl),
		seq:         r.seq,
		ack:         r.ack,
	}
	r.cur = (r.cur + 1) % readAhead
	return b
}

// snapshot returns the checkpoints of every file being followed, in the
// memory of sl.
func (r *runner) snapshot(sl *slot) []Checkpoint {
	ckpts := sl.ckpts[:0]
	for _, fl := range r.files {
		if !fl.pending && !fl.closed {
			ckpts = append(ckpts, fl.checkpoint())
		}
	}
	for _, ck := range r.deferred {
		ckpts = append(ckpts, ck)
	}
	sl.ckpts = ckpts
	slices.SortFunc(ckpts, func(a, b Checkpoint) int {
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		return cmp.Compare(a.ID.Ino, b.ID.Ino)
	})
	return ckpts
}

// notice handles one change notification.
func (r *runner) notice(n notice) {
	if n.op&opOverflow != 0 {
		r.enqueueAll()
		r.rescanSoon()
		return
	}
	fl := r.byPath[n.path]
	if fl != nil {
		r.enqueue(fl)
	}
	if n.op&opCreate != 0 {
		r.created(n.path)
	}
	switch {
	case n.op&(opCreate|opRemove|opRename) != 0:
		r.rescanSoon()
	case fl != nil:
	case n.op&opChmod != 0 && r.failed[n.path] != "":
		r.rescanSoon() // permissions may have been fixed
	case n.op&opWrite != 0 && r.failed[n.path] == "" && r.cfg.matches(n.path):
		r.rescanSoon() // a file we have not seen yet
	}
}

// poll checks every file for growth and every path for a rotation; it
// runs every PollInterval in polling mode (only the orphans otherwise).
func (r *runner) poll() {
	if !r.cfg.Poll && !r.degraded {
		for _, fl := range r.files {
			if fl.orphan {
				r.enqueue(fl)
			}
		}
		return
	}
	moved := false
	for _, fl := range r.files {
		r.enqueue(fl)
		if !fl.orphan && !moved && !r.stillAt(fl) {
			moved = true
		}
	}
	if moved {
		r.rescan(nil)
	}
}

func (r *runner) rescanSoon() {
	if !r.soonArmed {
		r.soon.Reset(rescanDelay)
		r.soonArmed = true
	}
}

func (r *runner) enqueue(fl *file) {
	if !fl.queued && !fl.closed {
		fl.queued = true
		r.queue = append(r.queue, fl)
	}
}

func (r *runner) enqueueAll() {
	for _, fl := range r.files {
		r.enqueue(fl)
	}
}

// drop stops following fl.
func (r *runner) drop(fl *file) {
	r.log.Debug("file dropped", logPath, fl.path, logOffset, fl.offset)
	fl.f.Close()
	fl.closed = true
	if fl.orphan {
		r.orphans--
	}
	delete(r.files, fl.id.key())
	r.dropped.add(fl.checkpoint())
	r.reindex()
}

// maxDropped bounds the files remembered after they were let go.
const maxDropped = 256

// droppedFiles remembers the last files let go, by inode: a rescan that
// raced a rotation's renames may have missed a file still matched by a
// glob; found again, it is resumed where it was left, not read anew.
type droppedFiles struct {
	byIno map[inode]Checkpoint
	order []inode
}

func (d *droppedFiles) add(ck Checkpoint) {
	if d.byIno == nil {
		d.byIno = make(map[inode]Checkpoint)
	}
	k := ck.ID.key()
	if _, ok := d.byIno[k]; ok {
		d.order = slices.DeleteFunc(d.order, func(o inode) bool { return o == k })
	}
	d.order = append(d.order, k) // the last let go is forgotten last
	d.byIno[k] = ck
	if len(d.order) > maxDropped {
		delete(d.byIno, d.order[0])
		d.order = d.order[1:]
	}
}

// get returns the checkpoint of the inode k when it was let go (read to
// its end). The inode number may have been given to a new file since:
// compare the content.
func (d *droppedFiles) get(k inode) (Checkpoint, bool) {
	ck, ok := d.byIno[k]
	return ck, ok
}

// take returns and forgets the checkpoint of the dropped inode k.
func (d *droppedFiles) take(k inode) (Checkpoint, bool) {
	ck, ok := d.byIno[k]
	if ok {
		delete(d.byIno, k)
		d.order = slices.DeleteFunc(d.order, func(o inode) bool { return o == k })
	}
	return ck, ok
}

// refreshSizes records the size of every followed file in the stats, so
// that the bytes waiting to be read show even while reading is paused.
func (r *runner) refreshSizes() {
	for _, fl := range r.files {
		if fl.closed || fl.pending || r.sharesPath(fl) {
			continue
		}
		size := fl.size
		if fi, err := fl.f.Stat(); err == nil {
			size = fi.Size()
		}
		r.t.stats.update(fl.path, func(s *FileStats) { s.Followed, s.Size, s.Offset = true, size, fl.offset })
	}
}

// sharesPath reports whether fl, an orphan still known by the path it was
// renamed away from, shares that path with the file followed there now:
// the path's stats (followed, size, offset) are the new file's, and the
// orphan only adds to its counts.
func (r *runner) sharesPath(fl *file) bool {
	live := r.byPath[fl.path]
	return fl.orphan && live != nil && live != fl
}

// reindex rebuilds the path index that routes notices, and the watched
// directories, and prunes the stats to the paths followed or failing.
func (r *runner) reindex() {
	defer r.pruneStats()
	clear(r.byPath)
	dirs := make(map[string]bool)
	for _, fl := range r.files {
		if fl.orphan {
			continue
		}
		r.byPath[fl.path] = fl
		r.byPath[fl.real] = fl
		dirs[filepath.Dir(fl.path)] = true
		dirs[filepath.Dir(fl.real)] = true
	}
	if r.notifier == nil {
		return
	}
	for _, p := range r.cfg.Paths {
		dirs[filepath.Dir(p)] = true // new files in a not yet matched directory
	}
	list := make([]string, 0, len(dirs))
	for d := range dirs {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			list = append(list, d)
		}
	}
	slices.Sort(list)
	if err := r.notifier.watch(list); err != nil {
		if !r.degraded {
			r.log.Warn("cannot watch every directory, polling", logErr, err)
		}
		r.degraded = true
	} else {
		r.degraded = false
	}
}

// pruneStats keeps the stats of the paths followed or failing; the counts
// of the others go to the totals.
func (r *runner) pruneStats() {
	paths := make(map[string]bool, len(r.files)+len(r.failed))
	for _, fl := range r.files {
		if !fl.closed {
			paths[fl.path] = true
		}
	}
	for p := range r.failed {
		paths[p] = true
	}
	r.t.stats.prune(func(p string) bool { return paths[p] })
}

// fail records an error about path, logged once until the error changes
// or the path works again.
func (r *runner) fail(path string, err error) {
	r.t.stats.update(path, func(s *FileStats) { s.Errors++ })
	msg := err.Error()
	if r.failed[path] == msg {
		return
	}
	r.failed[path] = msg
	level := slog.LevelWarn
	if errors.Is(err, fs.ErrPermission) || errors.Is(err, errIsDir) || errors.Is(err, errNotRegular) {
		level = slog.LevelError
	}
	r.log.Log(context.Background(), level, "cannot follow file", logPath, path, logErr, err)
}

func (r *runner) clearFail(path string) {
	delete(r.failed, path)
}

func (r *runner) close() {
	for _, fl := range r.files {
		fl.f.Close()
		fl.closed = true
	}
	if r.notifier != nil {
		if err := r.notifier.close(); err != nil {
			r.log.Warn("close notifier", logErr, err)
		}
	}
}
