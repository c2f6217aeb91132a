package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
)

// snapshotBackoff bounds the wait between two snapshot attempts.
const snapshotBackoff = 50 * time.Millisecond

// OpenReadOnly opens a consistent snapshot of the state file at path for
// reading, without taking any lock on it, so that it works while the agent
// has the file open and never makes the agent wait. History and Top use
// the retention the agent last opened the file with.
//
// bbolt itself cannot do this: a ReadOnly open takes a shared flock, which
// the agent's exclusive flock refuses, and which would in turn make a
// starting agent fail with ErrLocked while a reader holds it. Instead the
// file is copied to a temporary file and the copy opened read-only. The
// copy is known to be consistent by bbolt's copy-on-write rules: a commit
// writes its pages, syncs, then writes its meta page; the pages a
// transaction T can reach are freed by T+1 at the earliest and reused by
// T+2, which cannot start before T+1's meta page is written. The copy reads
// the meta pages first, so if the newest valid meta in the copy (T) is
// still the newest in the file once the copy is done, no page of T changed
// while it was read. Otherwise it tries again, until timeout (default
// DefaultTimeout), then fails with ErrBusy.
//
// The copy lives in os.TempDir() and is unlinked as soon as it is open, so
// that nothing is left behind. Writing methods return ErrReadOnly.
func OpenReadOnly(path string, timeout time.Duration) (*Store, error) {
	return openSnapshot(path, os.TempDir(), timeout)
}

func openSnapshot(path, tmpDir string, timeout time.Duration) (*Store, error) {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	src, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open state %s: %w", path, err)
	}
	defer src.Close()

	tmp, err := os.CreateTemp(tmpDir, "sharkfin-state-*.db")
	if err != nil {
		return nil, fmt.Errorf("snapshot state %s: %w", path, err)
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()

	deadline := time.Now().Add(timeout)
	wait := time.Millisecond
	for attempt := 1; ; attempt++ {
		ok, err := copySnapshot(src, tmp)
		if err != nil {
			return nil, fmt.Errorf("snapshot state %s: %w", path, err)
		}
		if ok {
			break
		}
		if time.Now().Add(wait).After(deadline) {
			return nil, fmt.Errorf("snapshot state %s: %d attempts in %s: %w", path, attempt, timeout, ErrBusy)
		}
		time.Sleep(wait)
		wait = min(2*wait, snapshotBackoff)
	}

	// The copy's pages first (checkPages): bbolt's check rebuilds the free
	// list the agent does not write, in a goroutine where a damaged page
	// is a crash.
	var db *bolt.DB
	err = snapshotPages(tmp)
	if err == nil {
		db, err = openBolt(tmp.Name(), &bolt.Options{ReadOnly: true, Timeout: timeout})
	}
	if err == nil {
		err = verify(db, false) // first: it survives a damaged page
		if err == nil {
			err = readableSchema(db)
		}
		if err != nil {
			db.Close()
		}
	}
	if err != nil {
		return nil, fmt.Errorf("open snapshot of state %s: %w", path, err)
	}
	s := newStore(db, path, Options{Retention: DefaultRetention})
	s.readOnly = true
	if err := s.readMetaKeys(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// copySnapshot copies src over dst and reports whether the copy is a
// consistent database (see OpenReadOnly). An error means the source is
// unusable, not that it changed.
func copySnapshot(src, dst *os.File) (bool, error) {
	if err := dst.Truncate(0); err != nil {
		return false, err
	}
	if _, err := dst.Seek(0, io.SeekStart); err != nil {
		return false, err
	}
	if _, err := src.Seek(0, io.SeekStart); err != nil {
		return false, err
	}
	// Sequential, from offset 0: the meta pages are read before any data.
	n, err := io.Copy(dst, src)
	if err != nil {
		return false, err
	}
	return snapshotConsistent(src, dst, n)
}

// snapshotConsistent reports whether dst, a copy of n bytes of src read
// from the start, is a consistent database: the newest valid meta of the
// copy is the newest of src now, and the copy holds all of its pages.
func snapshotConsistent(src, dst *os.File, n int64) (bool, error) {
	if n == 0 {
		return false, errors.New("empty file: the agent has not initialised it yet")
	}
	copied, err := readMeta(dst, n)
	if err != nil {
		return false, err
	}
	fi, err := src.Stat()
	if err != nil {
		return false, err
	}
	if copied.dataSize() > n {
		if copied.dataSize() > fi.Size() {
			// bbolt grows the file before it writes the pages a meta
			// points to: a file shorter than its meta was truncated.
			return false, fmt.Errorf("%w: truncated: transaction %d uses %d bytes, the file has %d", errCorrupt, copied.txid, copied.dataSize(), fi.Size())
		}
		return false, nil // read before the file grew to hold it
	}
	live, err := readMeta(src, fi.Size())
	if err != nil {
		return false, err
	}
	return live.txid == copied.txid, nil
}

// readableSchema refuses a file of an older schema that lacks the history
// layout this sharkfin reads (version 3's segments), which only an agent
// opening it for writing adds, with what to do. Newer schemas are refused
// by readMetaKeys.
func readableSchema(db *bolt.DB) error {
	return db.View(func(tx *bolt.Tx) error {
		m := tx.Bucket([]byte(bucketMeta))
		if m == nil {
			return nil // verify says what is missing
		}
		missing := false
		for _, kind := range kinds {
			kb, _ := historyBuckets(kind)
			missing = missing || tx.Bucket([]byte(kb.segments)) == nil || tx.Bucket([]byte(kb.unfolded)) == nil
		}
		if v := m.Get([]byte(metaSchema)); missing && len(v) == 4 && binary.BigEndian.Uint32(v) < SchemaVersion {
			return fmt.Errorf("%w: file has version %d, written by an older agent; this sharkfin reads version %d: "+
				"upgrade the agent (it upgrades the file when it starts), or use the sharkfin that agent runs", ErrSchema, binary.BigEndian.Uint32(v), SchemaVersion)
		}
		return nil
	})
}

// readMetaKeys refuses a file written by a newer schema and takes the
// retention the agent last opened the file with.
func (s *Store) readMetaKeys() error {
	return s.db.View(func(tx *bolt.Tx) error {
		m, err := bucket(tx, bucketMeta)
		if err != nil {
			return fmt.Errorf("state %s: %w", s.path, err)
		}
		if v := m.Get([]byte(metaSchema)); len(v) == 4 && binary.BigEndian.Uint32(v) > SchemaVersion {
			return fmt.Errorf("state %s: %w: file has version %d, this sharkfin reads up to %d", s.path, ErrSchema, binary.BigEndian.Uint32(v), SchemaVersion)
		}
		if v := m.Get([]byte(metaRetention)); len(v) == 8 && int64(binary.BigEndian.Uint64(v)) > 0 {
			s.retention = time.Duration(binary.BigEndian.Uint64(v))
		}
		return nil
	})
}

// snapshotPages runs checkPages on a snapshot copy.
func snapshotPages(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	m, err := precheckMeta(f, fi.Size())
	if err != nil {
		return err
	}
	return checkPages(f, m)
}
