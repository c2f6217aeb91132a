package state

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// maxCheckErrors bounds the consistency problems kept for the message.
const maxCheckErrors = 5

// errCorrupt marks a file whose content, not its access, is at fault.
var errCorrupt = errors.New("corrupt state file")

// corruptError is returned by openWriter for a file to move aside. info
// identifies the file that was judged, so that moveAside never renames a
// file another process put in its place meanwhile.
type corruptError struct {
	path string
	info os.FileInfo
	err  error
}

func (e *corruptError) Error() string {
	return fmt.Sprintf("open state %s: %v", e.path, e.err)
}

func (e *corruptError) Unwrap() error { return e.err }

// openWriter opens path for writing and checks it. The file is opened and
// locked here, then handed to bbolt through Options.OpenFile, so that it is
// examined only while this process holds it.
func openWriter(opt Options) (*bolt.DB, error) {
	path := opt.Path
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open state %s: %w", path, err)
	}
	if err := lockFile(f, opt.Timeout); err != nil {
		defer f.Close()
		if errors.Is(err, errWouldBlock) {
			return nil, &lockedError{path: path, pid: lockHolder(f)}
		}
		return nil, fmt.Errorf("lock state %s: %w", path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat state %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("open state %s: not a regular file", path)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		if err := f.Chmod(0o600); err != nil {
			opt.Logger.Warn("cannot restrict state file mode", "path", path, "mode", fi.Mode().Perm(), "error", err)
		}
	}
	m, err := precheckMeta(f, fi.Size())
	if err == nil && !opt.NoCheck && fi.Size() > 0 {
		// Before the writable open, which rebuilds the free list
		// (NoFreelistSync) by walking the tree in a goroutine of bbolt's,
		// where a damaged page is a crash, not an error (see checkPages).
		err = checkPages(f, m)
	}
	if err != nil {
		f.Close()
		if errors.Is(err, errCorrupt) {
			return nil, &corruptError{path: path, info: fi, err: err}
		}
		return nil, fmt.Errorf("read state %s: %w", path, err)
	}

	handed := false
	db, err := openBolt(path, &bolt.Options{
		Timeout:      opt.Timeout,
		NoSync:       opt.NoSync,
		FreelistType: bolt.FreelistMapType,
		// The free list is not written with every commit but rebuilt at
		// Open from the pages in use. Written, it is one value of 8 bytes
		// a free page, on a run of consecutive pages as long, which a
		// fragmented file does not have free: a catch-up of many days grew
		// the file by 4 MiB every few days to place it (see valueBytes).
		// etcd runs bbolt so too. The rebuild is one more walk of the
		// file at Open, after checkPages and before verify: 45-53 ms in all
		// for a file of 31 MiB (10 ms with NoCheck).
		NoFreelistSync: true,
		// Map room for the file to grow into (address space only): each
		// remap copies everything the open write transaction holds onto
		// the heap (a catch-up's commit is megabytes of events) and waits
		// for every reader.
		InitialMmapSize: initialMmap,
		OpenFile: func(string, int, os.FileMode) (*os.File, error) {
			if handed {
				return nil, errors.New("state file handed to bbolt twice")
			}
			handed = true
			return f, nil
		},
	})
	if err != nil {
		// bbolt closes f on most errors, not after a panic; then its map
		// of the file may be left behind, and with it the flock, which
		// belongs to the open file and would keep moveAside out.
		unlockFile(f)
		f.Close()
		switch {
		case errors.Is(err, berrors.ErrTimeout):
			return nil, &lockedError{path: path}
		case isCorrupt(err):
			return nil, &corruptError{path: path, info: fi, err: err}
		}
		return nil, fmt.Errorf("open state %s: %w", path, err)
	}
	// Grow the file in steps of growStep past what it needs (bbolt's
	// default, with a map this large, would be 16 MiB).
	db.AllocSize = growStep
	if !opt.NoCheck && fi.Size() > 0 {
		// bbolt's own check besides: the free list against the tree, for
		// a file whose free list was written (by an earlier sharkfin).
		if err := verify(db, false); err != nil {
			db.Close()
			if errors.Is(err, errCorrupt) {
				return nil, &corruptError{path: path, info: fi, err: err}
			}
			return nil, fmt.Errorf("check state %s: %w", path, err)
		}
	}
	if fi.Size() > 0 {
		// The checks and the free list's rebuild read every page: do not
		// keep them in the RSS.
		if err := db.View(releaseMapped); err != nil {
			opt.Logger.Warn("cannot release the state file's mapped pages", "path", path, "error", err)
		}
	}
	return db, nil
}

// isCorrupt tells the bbolt open errors caused by the file's content.
func isCorrupt(err error) bool {
	return errors.Is(err, errCorrupt) ||
		errors.Is(err, berrors.ErrInvalid) ||
		errors.Is(err, berrors.ErrVersionMismatch) ||
		errors.Is(err, berrors.ErrChecksum) ||
		errors.Is(err, berrors.ErrInvalidMapping)
}

// precheck rejects, before bbolt maps the file, what would make bbolt fail
// or fault: no valid meta page, or a file shorter than the database its
// meta describes (truncated), whose pages past the end would raise SIGBUS
// when read through the map. An empty file is a new database.
func precheck(f *os.File, size int64) error {
	_, err := precheckMeta(f, size)
	return err
}

// precheckMeta is precheck, returning the meta of a file that passes (the
// zero meta for an empty file).
func precheckMeta(f io.ReaderAt, size int64) (boltMeta, error) {
	if size == 0 {
		return boltMeta{}, nil
	}
	m, err := readMeta(f, size)
	switch {
	case errors.Is(err, errNoMeta):
		return m, fmt.Errorf("%w: %w", errCorrupt, err)
	case err != nil:
		return m, err
	}
	switch {
	case size < 2*int64(m.pageSize):
		return m, fmt.Errorf("%w: %d bytes is shorter than the two meta pages", errCorrupt, size)
	case m.dataSize() > size:
		return m, fmt.Errorf("%w: truncated: transaction %d uses %d bytes, the file has %d", errCorrupt, m.txid, m.dataSize(), size)
	case m.root >= m.hwm || (m.freelist != noFreelist && m.freelist >= m.hwm):
		return m, fmt.Errorf("%w: meta of transaction %d points past the high-water mark", errCorrupt, m.txid)
	}
	return m, nil
}

// openBolt opens a bbolt file and turns a panic or memory fault inside
// bbolt (a damaged page read through the map) into an errCorrupt error.
func openBolt(path string, o *bolt.Options) (db *bolt.DB, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, fmt.Errorf("%w: bbolt failed reading it: %v", errCorrupt, r)
		}
	}()
	return bolt.Open(path, 0o600, o)
}

// verify reads every page reachable from the root in this goroutine, where
// a fault on a bad page pointer is recovered as an error, then runs bbolt's
// consistency check (which runs in a goroutine of its own and only recovers
// panics, so it must come second). With writable it runs in a write
// transaction, rolled back, which bbolt requires when other writes may run
// meanwhile; otherwise in a read transaction.
func verify(db *bolt.DB, writable bool) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: reading pages: %v", errCorrupt, r)
		}
	}()
	tx, err := db.Begin(writable)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	return checkTx(tx)
}

// checkTx is verify's work inside the transaction.
func checkTx(tx *bolt.Tx) error {
	var sink byte
	if err := tx.ForEach(func(_ []byte, b *bolt.Bucket) error {
		sink ^= walk(b)
		return nil
	}); err != nil {
		return err
	}
	_ = sink

	var errs []error
	n := 0
	for e := range tx.Check() { // drain it all: the checker blocks on sends
		if n++; n <= maxCheckErrors {
			errs = append(errs, e)
		}
	}
	if n > maxCheckErrors {
		errs = append(errs, fmt.Errorf("and %d more", n-maxCheckErrors))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: consistency check: %w", errCorrupt, errors.Join(errs...))
	}
	return nil
}

// walk touches the first and last byte of every key and value under b,
// nested buckets included, so that each page (and overflow page) is read.
func walk(b *bolt.Bucket) byte {
	var sink byte
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		sink ^= k[0] ^ k[len(k)-1]
		if v == nil {
			if child := b.Bucket(k); child != nil {
				sink ^= walk(child)
			}
			continue
		}
		if len(v) > 0 {
			sink ^= v[0] ^ v[len(v)-1]
		}
	}
	return sink
}

// moveAside renames the corrupt file judged (info) at path to
// path+".corrupt-<unix time>" (with a counter if that exists), holding the
// lock while it does, and returns the new name.
func moveAside(path string, info os.FileInfo, timeout time.Duration, now time.Time) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if err := lockFile(f, timeout); err != nil {
		if errors.Is(err, errWouldBlock) {
			return "", &lockedError{path: path, pid: lockHolder(f)}
		}
		return "", err
	}
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	if !os.SameFile(fi, info) {
		return "", fmt.Errorf("%s was replaced while being examined", path)
	}
	base := path + ".corrupt-" + strconv.FormatInt(now.Unix(), 10)
	dst := base
	for i := 2; ; i++ {
		if _, err := os.Lstat(dst); errors.Is(err, fs.ErrNotExist) {
			break
		} else if err != nil {
			return "", err
		}
		dst = base + "." + strconv.Itoa(i)
	}
	if err := os.Rename(path, dst); err != nil {
		return "", err
	}
	syncDir(filepath.Dir(path))
	return dst, nil
}

// syncDir makes a rename in dir durable; failure only weakens that.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

// valueBytes is the most the writers put in one value where the size is
// theirs to choose: outbox segments, history segments, horizon records
// (an outbox event longer than that alone is a value of its own). bbolt
// keeps a value whole, on consecutive pages, and puts at least two values
// in a leaf: two of these and their keys fill one 4 KiB page. A commit
// that finds no free run as long as a value it writes grows the file,
// however much is free in shorter runs, and the pages a day-long retention
// frees are cut into runs of a few pages. With outbox segments of up to
// 256 KiB, history segments of 64 KiB and a horizon table of hundreds of
// KiB in one value, a catch-up of 12 days of 100,000 clients a day left
// the agent's file at 39-41 MiB with up to 16 MiB of it free
// (TestStore_CatchUpOfDaysKeepsTheFileLevel: 68.6 MiB, 8 times what was
// in use).
const valueBytes = 2000

// initialMmap is the state file's initial memory map, and growStep how far
// past its data the file grows at a time (each growth is a truncate and an
// fsync).
const (
	initialMmap = 128 << 20
	growStep    = 4 << 20
)
