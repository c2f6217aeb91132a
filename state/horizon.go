package state

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// The web clients' hour and day sums (detect.Horizon), a sub-bucket per
// input. They are written with the commit that closed the windows they
// sum, so a crash neither loses nor counts a window twice, and deleted
// when detect.Horizon forgets a client (three days without a failure, or
// evicted for room): what is stored is at most what the agent keeps.
//
// Layout. A commit changes a few thousand clients out of tens of
// thousands, at random: stored one key per client, each commit would
// rewrite most of the bucket's pages (it did: a second of wall time and
// 5 MiB of file in the busy benchmark). So a commit appends its changes
// as delta records ("d" and an 8-byte sequence number), and when the
// deltas outgrow twice the table ("T" and an 8-byte chunk number: every
// entry, in key order; at least 256 KiB), the commit folds them into a new
// table instead and drops them. A commit writes its changes plus,
// amortised, about as much again; the sub-bucket holds at most the table
// and twice its size in deltas.
//
// No record is over horizonChunk bytes (valueBytes): a table kept as one
// value (as earlier agents did, key "t") took runs of hundreds of free
// pages, which a file the retention has freed in small pieces does not
// have, and grew the file.
//
// A legacy "t" is read as the table. If it is there, the "T" chunks
// beside it are stale (a new agent always deletes "t" when it writes
// chunks: only an older agent, run on this file after a newer one, writes
// "t"), and are ignored until the next fold deletes them.

// Records of version 1 (earlier agents) have four sums and no recent
// paths: they are read with the new rare errors' sums at 0 and no recent
// path, so those clients' new rare errors start counting on upgrade.
// Earlier agents skip version 2 records as damaged (those clients' sums
// restart on a downgrade).
const (
	horizonVersion = 2
	horizonV1      = 1
	// HorizonValues is the number of sums of an entry, HorizonRecent
	// its recent rare-error paths (detect.Horizon).
	HorizonValues  = 6
	HorizonRecent  = 4
	horizonRecLen  = 8 + 1 + 8 + 4*HorizonValues + 2*HorizonRecent // key, op, last, sums, recent paths
	horizonV1Len   = 8 + 1 + 8 + 4*4
	horizonDelLen  = 8 + 1
	horizonMinFold = 256 << 10
	// horizonChunk bounds the bytes of one stored record (a table chunk
	// or a delta).
	horizonChunk = valueBytes
	// horizonChunkRecs is the number of entries a record of at most
	// horizonChunk bytes holds (a delete is shorter than an entry).
	horizonChunkRecs = (horizonChunk - 1) / horizonRecLen
)

var (
	horizonLegacyTable = []byte("t")
	horizonTable       = []byte("T")
	horizonDelta       = []byte("d")
	horizonSize        = []byte("n") // bytes of the deltas, 8 bytes big-endian
)

// HorizonUpdate stores (or, with Delete, removes) a client's sums.
type HorizonUpdate struct {
	Key    uint64
	Last   int64 // window start of the last update, Unix seconds
	Values [HorizonValues]float32
	Recent [HorizonRecent]uint16
	Delete bool
}

// appendHorizons encodes updates as one record: the version, then per
// update its key, 0 and its window, sums and recent paths, or 1 for a
// delete.
func appendHorizons(b []byte, us []HorizonUpdate) []byte {
	b = append(b, horizonVersion)
	for i := range us {
		u := &us[i]
		b = binary.BigEndian.AppendUint64(b, u.Key)
		if u.Delete {
			b = append(b, 1)
			continue
		}
		b = append(b, 0)
		b = binary.BigEndian.AppendUint64(b, uint64(u.Last))
		for _, v := range u.Values {
			b = binary.BigEndian.AppendUint32(b, math.Float32bits(v))
		}
		for _, p := range u.Recent {
			b = binary.BigEndian.AppendUint16(b, p)
		}
	}
	return b
}

var errHorizonRecord = errors.New("unknown horizon record version, or truncated")

// decodeHorizons calls fn for each update of a record, once the whole
// record has decoded: a damaged record applies none of its updates.
func decodeHorizons(v []byte, fn func(u *HorizonUpdate)) error {
	if err := scanHorizons(v, func(*HorizonUpdate) {}); err != nil {
		return err
	}
	return scanHorizons(v, fn)
}

func scanHorizons(v []byte, fn func(u *HorizonUpdate)) error {
	if len(v) == 0 || v[0] != horizonVersion && v[0] != horizonV1 {
		return errHorizonRecord
	}
	recLen, nv, nr := horizonRecLen, HorizonValues, HorizonRecent
	if v[0] == horizonV1 {
		recLen, nv, nr = horizonV1Len, 4, 0
	}
	v = v[1:]
	var u HorizonUpdate
	for len(v) > 0 {
		if len(v) < horizonDelLen {
			return errHorizonRecord
		}
		u = HorizonUpdate{Key: binary.BigEndian.Uint64(v)}
		switch v[8] {
		case 1:
			u.Delete = true
			v = v[horizonDelLen:]
		case 0:
			if len(v) < recLen {
				return errHorizonRecord
			}
			u.Last = int64(binary.BigEndian.Uint64(v[9:]))
			for i := range nv {
				u.Values[i] = math.Float32frombits(binary.BigEndian.Uint32(v[17+4*i:]))
			}
			for i := range nr {
				u.Recent[i] = binary.BigEndian.Uint16(v[17+4*nv+2*i:])
			}
			v = v[recLen:]
		default:
			return errHorizonRecord
		}
		fn(&u)
	}
	return nil
}

// horizonEntries merges an input's table and deltas, in order: the entries
// stored, by key. A damaged record is skipped and counted.
func horizonEntries(b *bolt.Bucket) (m map[uint64]HorizonUpdate, damaged int) {
	m = map[uint64]HorizonUpdate{}
	apply := func(u *HorizonUpdate) {
		if u.Delete {
			delete(m, u.Key)
		} else {
			m[u.Key] = *u
		}
	}
	c := b.Cursor()
	if t := b.Get(horizonLegacyTable); t != nil {
		if decodeHorizons(t, apply) != nil {
			damaged++
		}
	} else {
		for k, v := c.Seek(horizonTable); k != nil && bytes.HasPrefix(k, horizonTable); k, v = c.Next() {
			if len(k) != 1+8 || v == nil || decodeHorizons(v, apply) != nil {
				damaged++
			}
		}
	}
	for k, v := c.Seek(horizonDelta); k != nil && bytes.HasPrefix(k, horizonDelta); k, v = c.Next() {
		if len(k) != 1+8 || v == nil || decodeHorizons(v, apply) != nil {
			damaged++
		}
	}
	return m, damaged
}

func sortedHorizons(m map[uint64]HorizonUpdate) []HorizonUpdate {
	out := make([]HorizonUpdate, 0, len(m))
	for _, u := range m {
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b HorizonUpdate) int { return cmp.Compare(a.Key, b.Key) })
	return out
}

func applyHorizons(tx *bolt.Tx, updates map[string][]HorizonUpdate, arena *[]byte) error {
	if len(updates) == 0 {
		return nil
	}
	top, err := bucket(tx, bucketHorizon)
	if err != nil {
		return err
	}
	for _, input := range slices.Sorted(maps.Keys(updates)) {
		us := updates[input]
		if len(us) == 0 {
			continue
		}
		for i := range us {
			if !us[i].Delete && us[i].Last < 0 {
				return fmt.Errorf("horizon of input %q: negative window %d", input, us[i].Last)
			}
		}
		b, err := top.CreateBucketIfNotExists([]byte(input))
		if err != nil {
			return fmt.Errorf("horizon of input %q: %w", input, err)
		}
		if err := applyInputHorizons(b, us, arena); err != nil {
			return fmt.Errorf("horizon of input %q: %w", input, err)
		}
	}
	return nil
}

// applyInputHorizons appends us as deltas, or folds every delta and us
// into a new table once the deltas outgrow it.
func applyInputHorizons(b *bolt.Bucket, us []HorizonUpdate, arena *[]byte) error {
	size := len(us) * horizonRecLen
	var deltas uint64
	if v := b.Get(horizonSize); len(v) == 8 {
		deltas = binary.BigEndian.Uint64(v)
	}
	if deltas+uint64(size) <= uint64(max(2*horizonTableSize(b), horizonMinFold)) {
		records := (len(us) + horizonChunkRecs - 1) / horizonChunkRecs
		reserve(arena, size+records*(1+1+8)+8)
		for chunk := range slices.Chunk(us, horizonChunkRecs) {
			start := len(*arena)
			*arena = appendHorizons(*arena, chunk)
			val := (*arena)[start:len(*arena):len(*arena)]
			deltas += uint64(len(val))
			seq, err := b.NextSequence()
			if err != nil {
				return err
			}
			ks := len(*arena)
			*arena = append(*arena, horizonDelta...)
			*arena = binary.BigEndian.AppendUint64(*arena, seq)
			if err := b.Put((*arena)[ks:len(*arena):len(*arena)], val); err != nil {
				return err
			}
		}
		ns := len(*arena)
		*arena = binary.BigEndian.AppendUint64(*arena, deltas)
		return b.Put(horizonSize, (*arena)[ns:len(*arena):len(*arena)])
	}
	// Fold: the table, the deltas and us, into a new table.
	m, _ := horizonEntries(b) // damaged records are dropped here
	for i := range us {
		if us[i].Delete {
			delete(m, us[i].Key)
		} else {
			m[us[i].Key] = us[i]
		}
	}
	var drop [][]byte
	c := b.Cursor()
	for _, prefix := range [][]byte{horizonTable, horizonDelta} {
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			drop = append(drop, slices.Clone(k))
		}
	}
	if b.Get(horizonLegacyTable) != nil {
		drop = append(drop, horizonLegacyTable)
	}
	for _, k := range drop {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	// The table is written fresh (not in the arena: it may be megabytes),
	// in chunks of at most horizonChunk bytes.
	var i uint64
	for chunk := range slices.Chunk(sortedHorizons(m), horizonChunkRecs) {
		key := binary.BigEndian.AppendUint64(slices.Clone(horizonTable), i)
		if err := b.Put(key, appendHorizons(nil, chunk)); err != nil {
			return err
		}
		i++
	}
	return b.Put(horizonSize, make([]byte, 8))
}

// horizonTableSize returns the bytes of an input's table: a legacy "t",
// or the chunks. A fold writes every chunk full but the last, so this is
// the last chunk's number times a full one, plus the last: one step of a
// cursor, not a read of the table.
func horizonTableSize(b *bolt.Bucket) int {
	if t := b.Get(horizonLegacyTable); t != nil {
		return len(t)
	}
	c := b.Cursor()
	k, v := c.Seek(horizonDelta) // the chunks sort just before the deltas
	if k == nil {
		k, v = c.Last()
	} else {
		k, v = c.Prev()
	}
	for k != nil && bytes.Compare(k, horizonDelta) >= 0 {
		k, v = c.Prev()
	}
	if len(k) != 1+8 || !bytes.HasPrefix(k, horizonTable) {
		return 0
	}
	return int(binary.BigEndian.Uint64(k[1:]))*(1+horizonChunkRecs*horizonRecLen) + len(v)
}

// Horizons calls fn for every client entry of an input, in key order (at
// start, to load detect.Horizon). A damaged record is skipped and counted.
func (s *Store) Horizons(input string, fn func(u *HorizonUpdate)) (damaged int, err error) {
	var entries []HorizonUpdate
	err = s.db.View(func(tx *bolt.Tx) error {
		top := tx.Bucket([]byte(bucketHorizon))
		if top == nil { // a file of an older sharkfin, read-only
			return nil
		}
		b := top.Bucket([]byte(input))
		if b == nil {
			return nil
		}
		var m map[uint64]HorizonUpdate
		m, damaged = horizonEntries(b)
		entries = sortedHorizons(m)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("read horizons of input %s: %w", input, err)
	}
	for i := range entries {
		fn(&entries[i])
	}
	return damaged, nil
}

// HorizonOf returns a client's entry (by its key, detect.HorizonKey) on
// an input; ok false when there is none.
func (s *Store) HorizonOf(input string, key uint64) (u HorizonUpdate, ok bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		top := tx.Bucket([]byte(bucketHorizon))
		if top == nil {
			return nil
		}
		b := top.Bucket([]byte(input))
		if b == nil {
			return nil
		}
		m, _ := horizonEntries(b)
		u, ok = m[key]
		return nil
	})
	if err != nil {
		return HorizonUpdate{}, false, fmt.Errorf("read the horizon of a client on input %s: %w", input, err)
	}
	return u, ok, nil
}

// KeepHorizons deletes the horizons of inputs not in keep (the web inputs
// configured): an input taken out of the configuration, or no longer web,
// forgets its clients' sums. A start that drops nothing writes nothing.
func (s *Store) KeepHorizons(keep []string) error {
	if s.readOnly {
		return ErrReadOnly
	}
	stale := func(top *bolt.Bucket) (drop [][]byte, err error) {
		err = top.ForEachBucket(func(k []byte) error {
			if !slices.Contains(keep, string(k)) {
				drop = append(drop, slices.Clone(k))
			}
			return nil
		})
		return drop, err
	}
	var n int
	err := s.db.View(func(tx *bolt.Tx) error { // most starts drop nothing: no write
		top, err := bucket(tx, bucketHorizon)
		if err != nil {
			return err
		}
		drop, err := stale(top)
		n = len(drop)
		return err
	})
	if err != nil || n == 0 {
		return err
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		top, err := bucket(tx, bucketHorizon)
		if err != nil {
			return err
		}
		drop, err := stale(top)
		if err != nil {
			return err
		}
		for _, k := range drop {
			if err := top.DeleteBucket(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("drop horizons of removed inputs: %w", err)
	}
	return nil
}
