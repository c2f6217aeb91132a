package state

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Defaults for Options.
const (
	DefaultTimeout   = time.Second
	DefaultRetention = 24 * time.Hour
)

// SchemaVersion is the version of the bucket layout and record encodings
// described in doc.go. Open refuses a file written by a newer schema and
// raises an older one to this (version 2 added the outbox.contexts bucket,
// which version 1 lacks and an older sharkfin would not keep; version 3
// keeps per-window history in segments, see upgradeTo3).
const SchemaVersion = 3

// Bucket names.
const (
	bucketMeta           = "meta"
	bucketCheckpoints    = "checkpoints"
	bucketWindows        = "windows"
	bucketClosing        = "windows.closing"
	bucketOutbox         = "outbox"
	bucketContexts       = "outbox.contexts"
	bucketHistoryIP      = "history.ip"
	bucketHistoryDomain  = "history.domain"
	bucketSegmentsIP     = "history.ip.segments"
	bucketSegmentsDomain = "history.domain.segments"
	bucketUnfoldedIP     = "history.ip.unfolded"
	bucketUnfoldedDomain = "history.domain.unfolded"
	bucketCache          = "cache"
	bucketSeen           = "seen.domain" // destination -> first and last window (seen.go)
	bucketHorizon        = "horizon"     // input -> the clients' hour and day sums: a table and deltas (horizon.go)
	// Buckets of schema 2, dropped by upgradeTo3.
	bucketWindowsIPv2     = "history.ip.windows"
	bucketWindowsDomainv2 = "history.domain.windows"
)

// Keys of the meta bucket.
const (
	metaSchema       = "schema"                // uint32 big-endian: SchemaVersion
	metaCreated      = "created"               // int64 big-endian: Unix nanoseconds
	metaRetention    = "retention"             // int64 big-endian: Options.Retention in ns
	metaOutboxCount  = "outbox.count"          // uint64 big-endian: events in the outbox
	metaOutboxBytes  = "outbox.bytes"          // uint64 big-endian: their total size
	metaNewestIP     = "history.ip.newest"     // uint64 big-endian: newest window start applied (Unix s)
	metaNewestDomain = "history.domain.newest" // the same, for domains
	metaSweepIP      = "history.ip.sweep"      // the index key the retention sweep is past
	metaSweepDomain  = "history.domain.sweep"  // the same, for domains
	metaCacheSweep   = "cache.sweep."          // + cache name: the key its expiry sweep is past
	metaSeenSweep    = "seen.domain.sweep"     // the key the seen retention sweep is past
	metaDestKey      = "dest.key"              // 16 random bytes: the destinations' hash key (DestKey)
)

// topBuckets are created by Open.
var topBuckets = []string{
	bucketMeta, bucketCheckpoints, bucketWindows, bucketClosing, bucketOutbox, bucketContexts,
	bucketHistoryIP, bucketHistoryDomain, bucketSegmentsIP, bucketSegmentsDomain, bucketUnfoldedIP, bucketUnfoldedDomain,
	bucketCache, bucketSeen, bucketHorizon,
}

var (
	// ErrLocked is matched (errors.Is) by the error Open returns when
	// another process, or another Store in this one, has the file open.
	ErrLocked = errors.New("state file is locked")
	// ErrReadOnly is returned by the writing methods of a Store opened
	// with OpenReadOnly.
	ErrReadOnly = errors.New("state is open read-only")
	// ErrSchema is returned by Open for a file written by a newer sharkfin.
	ErrSchema = errors.New("unsupported state schema")
	// ErrBusy is returned by OpenReadOnly when the agent committed during
	// every copy it tried within the timeout.
	ErrBusy = errors.New("state file changed during every snapshot attempt")
)

// lockedError is the ErrLocked error with the path and, where the system
// tells, the process that holds the lock.
type lockedError struct {
	path string
	pid  int
}

func (e *lockedError) Error() string {
	holder := "pid unknown"
	if e.pid > 0 {
		holder = fmt.Sprintf("pid %d", e.pid)
	}
	return fmt.Sprintf("state file %s is locked by another sharkfin process (%s); is the agent already running?", e.path, holder)
}

func (e *lockedError) Is(target error) bool { return target == ErrLocked }

// Options configure Open.
type Options struct {
	// Path of the database file. Missing parent directories are created
	// with mode 0700; the file is created with mode 0600.
	Path string
	// Timeout is how long Open waits for another process to release the
	// file before it fails with ErrLocked. Default DefaultTimeout.
	Timeout time.Duration
	// Retention is how far back, from the newest window of a key, the
	// per-window counts of a History are kept, in whole seconds (windows
	// start on seconds; less than a second is a second). Default
	// DefaultRetention.
	Retention time.Duration
	// NoSync skips fsync on commit. A process crash still loses nothing,
	// a power loss may lose or corrupt the file: for tests only.
	NoSync bool
	// NoCheck skips the consistency check of an existing file at Open.
	// The check reads the whole file; with NoCheck a damaged page is found
	// only when a read trips on it, by a panic, instead of the file being
	// moved aside at Open: at Open itself, where bbolt rebuilds the free
	// list in a goroutine of its own, that panic ends the process.
	NoCheck bool
	// SeenRetention is how long a destination is remembered unseen (by
	// event time) before Maintain forgets it. Default
	// DefaultSeenRetention.
	SeenRetention time.Duration
	// Logger receives the store's few messages (a corrupt file moved
	// aside). Default: discard.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Retention <= 0 {
		o.Retention = DefaultRetention
	}
	// The cutoffs count in seconds: a retention under one would be 0, and
	// forget every window but the newest.
	o.Retention = max(o.Retention.Truncate(time.Second), time.Second)
	if o.SeenRetention <= 0 {
		o.SeenRetention = DefaultSeenRetention
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.Logger = o.Logger.With("component", "state")
	return o
}

// Store is the agent's durable state in one bbolt file. Its methods are safe
// for concurrent use; bbolt runs one write transaction at a time and any
// number of reads beside it.
type Store struct {
	db        *bolt.DB
	path      string // the file the caller named
	retention time.Duration
	// seenRetention: Options.SeenRetention.
	seenRetention time.Duration
	noSync        bool
	readOnly      bool
	recovered     string
	now           func() time.Time

	// unfolded counts the history entries not folded into the index,
	// per kind (KindIP, KindDomain); oldest is the start of the oldest
	// segment kept and newest the newest window applied (Unix s, -1 for
	// none): what MaintenanceDue needs without a transaction.
	unfolded       [2]atomic.Int64
	oldest, newest [2]atomic.Int64
	// sweptThrough is, per kind, the cutoff of the index sweep's last
	// complete round: every index key last seen before it is gone (the
	// smallest int64 until a round has completed); roundCut is the cutoff
	// when the current round began (Maintain's only). See SweepPending.
	sweptThrough [2]atomic.Int64
	roundCut     [2]int64

	commits    atomic.Uint64
	failures   atomic.Uint64
	commitTime atomic.Int64 // nanoseconds, sum over commits
	lastCommit atomic.Int64
	maxCommit  atomic.Int64
}

// Open opens, or creates, the state file. It fails with an error matching
// ErrLocked when another process holds the file for longer than
// opt.Timeout, and with ErrSchema when a newer sharkfin wrote it.
//
// A file that is not a valid bbolt database, is truncated, or fails the
// consistency check is not an error: Open renames it to
// path+".corrupt-<unix time>", logs at error level, starts with an empty
// state and reports the new name through Recovered, so that the agent can
// emit a notice instead of crash-looping. I/O and permission errors are
// returned as they are and leave the file alone.
func Open(opt Options) (*Store, error) {
	opt = opt.withDefaults()
	if opt.Path == "" {
		return nil, errors.New("open state: no path")
	}
	if err := os.MkdirAll(filepath.Dir(opt.Path), 0o700); err != nil {
		return nil, fmt.Errorf("open state %s: %w", opt.Path, err)
	}

	var recovered string
	for {
		db, err := openWriter(opt)
		var ce *corruptError
		if errors.As(err, &ce) && recovered == "" {
			moved, merr := moveAside(opt.Path, ce.info, opt.Timeout, time.Now())
			if merr != nil {
				return nil, fmt.Errorf("%w; moving it aside: %w", err, merr)
			}
			opt.Logger.Error("state file is corrupt: moved it aside, starting with empty state",
				"path", opt.Path, "moved_to", moved, "error", ce.err)
			recovered = moved
			continue // once: a file Open created itself cannot be corrupt
		}
		if err != nil {
			return nil, err
		}
		s := newStore(db, opt.Path, opt)
		s.recovered = recovered
		if err := s.init(); err != nil {
			_ = db.Close()
			return nil, err
		}
		return s, nil
	}
}

func newStore(db *bolt.DB, path string, opt Options) *Store {
	s := &Store{
		db:            db,
		path:          path,
		retention:     opt.Retention,
		seenRetention: opt.SeenRetention,
		noSync:        opt.NoSync,
		now:           time.Now,
	}
	for i := range kinds {
		s.sweptThrough[i].Store(math.MinInt64)
		s.roundCut[i] = math.MinInt64
	}
	return s
}

// init creates the buckets, checks or writes the schema version, and
// records the retention for readers of snapshots.
func (s *Store) init() error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, name := range topBuckets {
			if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
				return fmt.Errorf("bucket %s: %w", name, err)
			}
		}
		meta := tx.Bucket([]byte(bucketMeta))
		if v := meta.Get([]byte(metaSchema)); v != nil {
			if len(v) != 4 {
				return fmt.Errorf("schema version: %d bytes, want 4", len(v))
			}
			got := binary.BigEndian.Uint32(v)
			if got > SchemaVersion {
				return fmt.Errorf("%w: file has version %d, this sharkfin reads up to %d", ErrSchema, got, SchemaVersion)
			}
			if got < SchemaVersion { // the buckets it lacked were created above
				if got < 3 {
					if err := upgradeTo3(tx); err != nil {
						return fmt.Errorf("upgrade from schema %d: %w", got, err)
					}
				}
				if err := meta.Put([]byte(metaSchema), binary.BigEndian.AppendUint32(nil, SchemaVersion)); err != nil {
					return err
				}
			}
		} else {
			if err := meta.Put([]byte(metaSchema), binary.BigEndian.AppendUint32(nil, SchemaVersion)); err != nil {
				return err
			}
			if err := meta.Put([]byte(metaCreated), be64(nil, uint64(s.now().UnixNano()))); err != nil {
				return err
			}
		}
		if v := meta.Get([]byte(metaDestKey)); len(v) != destKeyLen {
			key := make([]byte, destKeyLen)
			if _, err := rand.Read(key); err != nil {
				return fmt.Errorf("destination hash key: %w", err)
			}
			if err := meta.Put([]byte(metaDestKey), key); err != nil {
				return err
			}
		}
		return meta.Put([]byte(metaRetention), be64(nil, uint64(s.retention)))
	})
	if err == nil {
		err = s.countUnfolded()
	}
	if err != nil {
		return fmt.Errorf("init state %s: %w", s.path, err)
	}
	return nil
}

// upgradeTo3 raises a schema 1 or 2 file: the per-key totals (history.ip,
// history.domain) are the index of version 3 as they are; the hourly
// chunks of per-window counts are dropped (a day at most, by their
// retention), so History shows the windows from the upgrade on. Dropping a
// bucket frees its pages without touching its keys one by one.
func upgradeTo3(tx *bolt.Tx) error {
	for _, name := range []string{bucketWindowsIPv2, bucketWindowsDomainv2} {
		if tx.Bucket([]byte(name)) == nil {
			continue
		}
		if err := tx.DeleteBucket([]byte(name)); err != nil {
			return fmt.Errorf("drop %s: %w", name, err)
		}
	}
	return nil
}

// countUnfolded sums the entries of the unfolded markers (see Backlog)
// and reads the oldest segment and newest window of each kind.
func (s *Store) countUnfolded() error {
	return s.db.View(func(tx *bolt.Tx) error {
		for i, kind := range kinds {
			kb, _ := historyBuckets(kind)
			ub, err := bucket(tx, kb.unfolded)
			if err != nil {
				return err
			}
			var n int64
			if err := ub.ForEach(func(_, v []byte) error {
				c, _ := binary.Uvarint(v)
				n += int64(c)
				return nil
			}); err != nil {
				return err
			}
			s.unfolded[i].Store(n)
			if err := s.loadEdges(tx, i, kb); err != nil {
				return err
			}
		}
		return nil
	})
}

// loadEdges reads the oldest segment start and the newest window of kind
// number i.
func (s *Store) loadEdges(tx *bolt.Tx, i int, kb kindBuckets) error {
	sb, err := bucket(tx, kb.segments)
	if err != nil {
		return err
	}
	oldest := int64(-1)
	if k, _ := sb.Cursor().First(); k != nil {
		oldest = segStart(k)
	}
	s.oldest[i].Store(oldest)
	newest := int64(-1)
	if v := tx.Bucket([]byte(bucketMeta)).Get([]byte(kb.newest)); len(v) == 8 {
		newest = int64(binary.BigEndian.Uint64(v))
	}
	s.newest[i].Store(newest)
	return nil
}

// Recovered returns the name the file was moved to when Open found it
// corrupt, and "" otherwise.
func (s *Store) Recovered() string { return s.recovered }

// Retention is how long per-window history is kept and keys unseen are
// remembered, by event time (Options.Retention; for a snapshot, the
// agent's).
func (s *Store) Retention() time.Duration { return s.retention }

// Path returns the path of the state file.
func (s *Store) Path() string { return s.path }

// Close releases the file. Any transaction still running is waited for.
// A writable Store writes the free list first, in one commit: commits do
// not (NoFreelistSync), and a sharkfin of an earlier release, which does,
// would otherwise write it as soon as it opened the file, even a file it
// then refuses: a refused downgrade must leave the file as it was. (After
// a crash the free list is not there, and that earlier sharkfin writes it.)
func (s *Store) Close() error {
	var err error
	if !s.readOnly {
		s.db.NoFreelistSync = false
		err = s.db.Update(func(*bolt.Tx) error { return nil })
	}
	if cerr := s.db.Close(); cerr != nil {
		return fmt.Errorf("close state %s: %w", s.path, cerr)
	}
	if err != nil {
		return fmt.Errorf("close state %s: write the free list: %w", s.path, err)
	}
	return nil
}

// Check reads every page and runs bbolt's consistency check over the whole
// file; it returns the problems found, joined, or nil. On a writable Store
// it holds the write transaction for its duration.
func (s *Store) Check() error {
	if err := verify(s.db, !s.readOnly); err != nil {
		return fmt.Errorf("check state %s: %w", s.path, err)
	}
	return nil
}

// update runs fn in a write transaction and keeps the commit statistics.
func (s *Store) update(fn func(tx *bolt.Tx) error) error {
	if s.readOnly {
		return ErrReadOnly
	}
	start := time.Now()
	err := s.db.Update(fn)
	d := int64(time.Since(start))
	if err != nil {
		s.failures.Add(1)
		return err
	}
	s.commits.Add(1)
	s.commitTime.Add(d)
	s.lastCommit.Store(d)
	for m := s.maxCommit.Load(); d > m && !s.maxCommit.CompareAndSwap(m, d); m = s.maxCommit.Load() {
	}
	return nil
}

// Stats are counters for the agent's metrics. Counters start at zero when
// the Store is opened.
type Stats struct {
	// Commits counts write transactions committed (Apply, OutboxDelete,
	// Prune, CachePut); Failed those rolled back on an error.
	Commits, Failed uint64
	// Syncs estimates the fdatasync calls: bbolt syncs twice per commit
	// (the data pages, then the meta page), none with Options.NoSync.
	// Growing the file adds one more, not counted here.
	Syncs uint64
	// CommitTime is the time spent in committed write transactions, from
	// the start of the transaction to the end of its last sync; LastCommit
	// and MaxCommit are the latest and longest single ones.
	CommitTime, LastCommit, MaxCommit time.Duration
	// FileSize is the size of the file on disk; DataSize the part of it
	// the database uses (bbolt grows the file ahead of need); FreeBytes
	// the pages inside DataSize that are free for reuse.
	FileSize, DataSize, FreeBytes int64
}

// Stats returns the current counters. Sizes it cannot read are zero.
func (s *Store) Stats() Stats {
	st := Stats{
		Commits:    s.commits.Load(),
		Failed:     s.failures.Load(),
		CommitTime: time.Duration(s.commitTime.Load()),
		LastCommit: time.Duration(s.lastCommit.Load()),
		MaxCommit:  time.Duration(s.maxCommit.Load()),
	}
	if !s.noSync {
		st.Syncs = 2 * st.Commits
	}
	if fi, err := os.Stat(s.db.Path()); err == nil {
		st.FileSize = fi.Size()
	} else if fi, err := os.Stat(s.path); err == nil {
		st.FileSize = fi.Size() // a read-only snapshot: its copy is unlinked
	}
	_ = s.db.View(func(tx *bolt.Tx) error {
		st.DataSize = tx.Size()
		return nil
	})
	st.FreeBytes = int64(s.db.Stats().FreeAlloc)
	return st
}

// be64 appends v as 8 big-endian bytes.
func be64(dst []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(dst, v) }

// bucket returns a top-level bucket Open created; a file without it is
// damaged, which is reported rather than dereferenced.
func bucket(tx *bolt.Tx, name string) (*bolt.Bucket, error) {
	b := tx.Bucket([]byte(name))
	if b == nil {
		return nil, fmt.Errorf("bucket %s missing", name)
	}
	return b, nil
}
