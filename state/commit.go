package state

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// Commit is everything the agent has to make durable at once: how far it
// read, the windows it has open, the events of the windows it closed, and
// the history those windows add. Apply writes it in one transaction, so that
// after a crash the agent resumes from a state where every consumed line is
// either counted in a stored window or in an outbox event, never both and
// never neither.
//
// The slices and maps are read during Apply only and must not change
// meanwhile; bbolt keeps references to the event bytes until the commit.
type Commit struct {
	// Checkpoints are stored (replacing any with the same Dev, Ino, Input).
	Checkpoints []Checkpoint
	// DropCheckpoints are removed: files that are gone for good. Only
	// Dev, Ino and Input are used.
	DropCheckpoints []Checkpoint
	// Windows stores open-window accumulators by key (for example
	// "input/web"); a nil value deletes the key.
	Windows map[string][]byte
	// Closing stores, the same way, what does not change once written:
	// the keys of windows part way through closing. They live in a bucket
	// of their own, so that the commits that rewrite Windows do not copy
	// them along (bbolt rewrites a changed leaf with every value in it).
	Closing map[string][]byte
	// Segments, if set, holds events already encoded into outbox segments
	// (the cheaper way to add many); they are appended first, in order.
	Segments *Segments
	// Events are appended to the outbox in order, after Segments; none may
	// be empty.
	Events [][]byte
	// Contexts are stored beside the outbox by ID: what the events of this
	// commit refer to and do not repeat (see event.Context). A commit
	// stores every context its events use, even one stored before: the
	// contexts are dropped whenever the outbox empties. An ID already
	// stored with a different value fails the commit.
	Contexts map[uint64][]byte
	// History updates the per-key history.
	History []HistoryUpdate
	// Seen stores destinations first seen, or seen again (seen.go).
	Seen []SeenUpdate
	// Horizons stores, by input, the web clients' hour and day sums that
	// changed (horizon.go).
	Horizons map[string][]HorizonUpdate
	// DeleteThrough, if not 0, removes the outbox events up to and
	// including it first (delivered ones: see OutboxDelete), so that a
	// sender's deletes ride on the commits instead of costing writes of
	// their own. Apply sets Deleted to how many it removed.
	DeleteThrough uint64
	Deleted       int
}

func (c *Commit) empty() bool {
	return len(c.Checkpoints) == 0 && len(c.DropCheckpoints) == 0 && len(c.Windows) == 0 && len(c.Closing) == 0 &&
		len(c.Events) == 0 && len(c.Contexts) == 0 && len(c.History) == 0 && len(c.Seen) == 0 && len(c.Horizons) == 0 && (c.Segments == nil || c.Segments.Len() == 0) && c.DeleteThrough == 0
}

// arenaChunk is the least an arena grows by.
const arenaChunk = 256 << 10

// reserve makes room for n more bytes in an arena. Keys and values handed
// to bbolt must stay valid until the commit, so an arena never moves what
// it holds: when it is full it starts a new chunk and leaves the old one to
// the slices already cut from it. (Appending past a reservation is still
// correct, only slower: append copies into a new array and the earlier
// slices keep the old one.)
func reserve(arena *[]byte, n int) {
	if cap(*arena)-len(*arena) < n {
		*arena = make([]byte, 0, max(n, arenaChunk))
	}
}

// Apply writes c in one bbolt write transaction, which is fsynced before
// Apply returns (unless Options.NoSync). It returns the sequence number of
// the last event appended; the events of c have the consecutive numbers
// ending there. With no events it returns 0. On error nothing of c is
// stored, including sequence numbers. An empty commit writes nothing.
func (s *Store) Apply(c *Commit) (last uint64, err error) {
	if c == nil || c.empty() {
		return 0, nil
	}
	c.Deleted = 0
	var unfolded map[string]int
	err = s.update(func(tx *bolt.Tx) error {
		unfolded = nil
		if c.DeleteThrough > 0 {
			n, err := deleteOutbox(tx, c.DeleteThrough)
			if err != nil {
				return fmt.Errorf("delete outbox up to %d: %w", c.DeleteThrough, err)
			}
			c.Deleted = n
		}
		// Keys and values must stay valid until the commit: they are
		// built in an arena (see reserve).
		var arena []byte
		if err := applyCheckpoints(tx, c, &arena); err != nil {
			return err
		}
		if err := applyWindows(tx, bucketWindows, c.Windows); err != nil {
			return err
		}
		if err := applyWindows(tx, bucketClosing, c.Closing); err != nil {
			return err
		}
		var err error
		var segs []builtSegment
		if c.Segments != nil {
			segs = c.Segments.built()
		}
		if err := putContexts(tx, c.Contexts); err != nil {
			return err
		}
		if last, err = appendOutbox(tx, segs, c.Events, &arena); err != nil {
			return err
		}
		if err := applySeen(tx, c.Seen, &arena); err != nil {
			return err
		}
		if err := applyHorizons(tx, c.Horizons, &arena); err != nil {
			return err
		}
		unfolded, err = applyHistory(tx, c.History, &arena)
		return err
	})
	if err != nil {
		c.Deleted = 0
		return 0, fmt.Errorf("apply commit: %w", err)
	}
	if len(c.History) > 0 {
		for i, kind := range kinds {
			s.unfolded[i].Add(int64(unfolded[kind]))
		}
		// The commit is stored: an error reading back the window edges
		// (which only pace the maintenance, see MaintenanceDue) must not
		// report it failed. The next commit reads them again.
		_ = s.reloadEdges()
	}
	return last, nil
}

func applyCheckpoints(tx *bolt.Tx, c *Commit, arena *[]byte) error {
	if len(c.Checkpoints) == 0 && len(c.DropCheckpoints) == 0 {
		return nil
	}
	b, err := bucket(tx, bucketCheckpoints)
	if err != nil {
		return err
	}
	for i := range c.DropCheckpoints {
		var key [64]byte
		if err := b.Delete(checkpointKey(key[:0], &c.DropCheckpoints[i])); err != nil {
			return fmt.Errorf("drop checkpoint %s: %w", c.DropCheckpoints[i].Path, err)
		}
	}
	for i := range c.Checkpoints {
		cp := &c.Checkpoints[i]
		reserve(arena, 128+len(cp.Path)+2*len(cp.Input))
		start := len(*arena)
		*arena = checkpointKey(*arena, cp)
		key := (*arena)[start:len(*arena):len(*arena)]
		start = len(*arena)
		if *arena, err = appendCheckpoint(*arena, cp); err != nil {
			return err
		}
		if err := b.Put(key, (*arena)[start:len(*arena):len(*arena)]); err != nil {
			return fmt.Errorf("checkpoint %s: %w", cp.Path, err)
		}
	}
	return nil
}

func applyWindows(tx *bolt.Tx, name string, windows map[string][]byte) error {
	if len(windows) == 0 {
		return nil
	}
	b, err := bucket(tx, name)
	if err != nil {
		return err
	}
	// Sorted, so that an invalid key fails the same way every time and
	// pages are filled in key order.
	for _, k := range slices.Sorted(maps.Keys(windows)) {
		if k == "" {
			return errors.New("window with an empty key")
		}
		v := windows[k]
		if v == nil {
			err = b.Delete([]byte(k))
		} else {
			err = b.Put([]byte(k), v)
		}
		if err != nil {
			return fmt.Errorf("window %q: %w", k, err)
		}
	}
	return nil
}

// Windows returns a copy of every stored window accumulator, to restore the
// open windows at start.
func (s *Store) Windows() (map[string][]byte, error) { return s.readAll(bucketWindows) }

// Closing returns a copy of what Commit.Closing stored.
func (s *Store) Closing() (map[string][]byte, error) { return s.readAll(bucketClosing) }

func (s *Store) readAll(name string) (map[string][]byte, error) {
	out := make(map[string][]byte)
	err := s.db.View(func(tx *bolt.Tx) error {
		b, err := bucket(tx, name)
		if err != nil {
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			out[string(k)] = slices.Clone(v)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return out, nil
}
