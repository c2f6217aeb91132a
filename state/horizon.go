package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// The web clients' hour and day sums (detect.Horizon), one sub-bucket per
// input, keyed by the client's 8-byte hash. They are written with the
// commit that closed the windows they sum, so a crash neither loses nor
// counts a window twice, and deleted when detect.Horizon forgets a client
// (idle three days, or evicted for room): the bucket holds at most what
// the agent keeps in memory.

const (
	horizonVersion = 1
	horizonLen     = 1 + 8 + 4*HorizonValues
	// HorizonValues is the number of sums of an entry.
	HorizonValues = 4
)

// HorizonUpdate stores (or, with Delete, removes) a client's sums.
type HorizonUpdate struct {
	Key    uint64
	Last   int64 // window start of the last update, Unix seconds
	Values [HorizonValues]float32
	Delete bool
}

func appendHorizon(b []byte, u *HorizonUpdate) []byte {
	b = append(b, horizonVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(u.Last))
	for _, v := range u.Values {
		b = binary.BigEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

func decodeHorizon(v []byte, u *HorizonUpdate) error {
	if len(v) != horizonLen || v[0] != horizonVersion {
		return errors.New("unknown horizon record version or length")
	}
	u.Last = int64(binary.BigEndian.Uint64(v[1:]))
	for i := range u.Values {
		u.Values[i] = math.Float32frombits(binary.BigEndian.Uint32(v[9+4*i:]))
	}
	return nil
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
		b, err := top.CreateBucketIfNotExists([]byte(input))
		if err != nil {
			return fmt.Errorf("horizon of input %q: %w", input, err)
		}
		for i := range us {
			u := &us[i]
			reserve(arena, 8+horizonLen)
			start := len(*arena)
			*arena = binary.BigEndian.AppendUint64(*arena, u.Key)
			key := (*arena)[start:len(*arena):len(*arena)]
			if u.Delete {
				if err := b.Delete(key); err != nil {
					return fmt.Errorf("horizon of input %q: %w", input, err)
				}
				continue
			}
			if u.Last < 0 {
				return fmt.Errorf("horizon of input %q: negative window %d", input, u.Last)
			}
			vs := len(*arena)
			*arena = appendHorizon(*arena, u)
			if err := b.Put(key, (*arena)[vs:len(*arena):len(*arena)]); err != nil {
				return fmt.Errorf("horizon of input %q: %w", input, err)
			}
		}
	}
	return nil
}

// Horizons calls fn for every client entry of an input (at start, to load
// detect.Horizon). A damaged record is skipped and counted.
func (s *Store) Horizons(input string, fn func(u *HorizonUpdate)) (damaged int, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		top := tx.Bucket([]byte(bucketHorizon))
		if top == nil { // a file of an older sharkfin, read-only
			return nil
		}
		b := top.Bucket([]byte(input))
		if b == nil {
			return nil
		}
		var u HorizonUpdate
		return b.ForEach(func(k, v []byte) error {
			if len(k) != 8 || decodeHorizon(v, &u) != nil {
				damaged++
				return nil
			}
			u.Key = binary.BigEndian.Uint64(k)
			fn(&u)
			return nil
		})
	})
	if err != nil {
		return 0, fmt.Errorf("read horizons of input %s: %w", input, err)
	}
	return damaged, nil
}

// KeepHorizons deletes the horizons of inputs not in keep (inputs taken
// out of the configuration).
func (s *Store) KeepHorizons(keep []string) error {
	if s.readOnly {
		return ErrReadOnly
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		top, err := bucket(tx, bucketHorizon)
		if err != nil {
			return err
		}
		var drop [][]byte
		err = top.ForEachBucket(func(k []byte) error {
			if !slices.Contains(keep, string(k)) {
				drop = append(drop, slices.Clone(k))
			}
			return nil
		})
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
