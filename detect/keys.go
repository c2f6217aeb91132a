package detect

import (
	"cmp"
	"encoding/binary"
	"hash/maphash"
	"slices"
	"strings"
)

// keyTable is a window's keys (source addresses) and their accumulators:
// an open-addressing index over a list of entries in arrival order. It
// took the place of a map[string]*accum, measured on a busy site's
// catch-up (20,000 clients, ~5 lines per client and window): the map
// hashed every line's key on the goroutine that counts, the one a
// catch-up waits for, and closing a window looked every key up again and
// deleted it. Here the parse workers hash the key (Prehash sets
// record.Record.ClientHash), a lookup compares a 32-bit tag before the
// key, and closing walks the entries in key order without a lookup.
//
// Keys are never removed one at a time: a closing window takes no more
// lines (they are late), so an emitted entry is only cleared (take), and
// the table goes with its window.
type keyTable struct {
	slots   []keySlot // len is 0 or a power of two
	entries []keyEntry
	live    int // entries not taken
}

type keySlot struct {
	tag uint32 // the hash's high half
	idx uint32 // index in entries + 1; 0: empty
}

type keyEntry struct {
	key  string
	acc  *accum // nil once taken
	hash uint64
}

// keySeed seeds the key hash: random per process, so that no one can
// choose client names that collide (it is set once and never changes).
var keySeed = maphash.MakeSeed()

// keyHash is the hash of a window key.
func keyHash(b []byte) uint64 { return maphash.Bytes(keySeed, b) }

// keyHash is the hash of a's window keys: keyHash for clients, the
// destination key's for destinations (as Destinations.Fill computes it).
func (a *Aggregator) keyHash(b []byte) uint64 {
	if a.cfg.ByDest {
		return a.cfg.DestKey.hash(b)
	}
	return keyHash(b)
}

// sizedKeyTable returns an empty table with room for n keys without growing (a
// new window is sized like the last one closed, to at most maxSizedKeys).
func sizedKeyTable(n int) keyTable {
	n = min(n, maxSizedKeys)
	if n <= 0 {
		return keyTable{}
	}
	slots := 64
	for n*4 > slots*3 {
		slots *= 2
	}
	return keyTable{slots: make([]keySlot, slots), entries: make([]keyEntry, 0, n)}
}

// maxSizedKeys bounds the room a new window's table starts with: a
// flood's window does not make every later one as large.
const maxSizedKeys = 1 << 15

// Len is the number of keys not taken.
func (t *keyTable) Len() int { return t.live }

// find returns key's accumulator (h is keyHash(key)), nil if it has none.
func (t *keyTable) find(h uint64, key []byte) *accum {
	if len(t.slots) == 0 {
		return nil
	}
	mask := uint64(len(t.slots) - 1)
	tag := uint32(h >> 32)
	for i := h & mask; ; i = (i + 1) & mask {
		s := t.slots[i]
		if s.idx == 0 {
			return nil
		}
		if s.tag == tag {
			if e := &t.entries[s.idx-1]; e.acc != nil && e.key == string(key) {
				return e.acc
			}
		}
	}
}

// add inserts key, which must not be in t, with acc (not nil).
func (t *keyTable) add(h uint64, key string, acc *accum) {
	if (len(t.entries)+1)*4 > len(t.slots)*3 {
		t.grow()
	}
	t.entries = append(t.entries, keyEntry{key: key, acc: acc, hash: h})
	t.live++
	t.place(h, uint32(len(t.entries)))
}

func (t *keyTable) place(h uint64, idx uint32) {
	mask := uint64(len(t.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		if t.slots[i].idx == 0 {
			t.slots[i] = keySlot{tag: uint32(h >> 32), idx: idx}
			return
		}
	}
}

func (t *keyTable) grow() {
	t.slots = make([]keySlot, max(64, 2*len(t.slots)))
	for i := range t.entries {
		t.place(t.entries[i].hash, uint32(i+1))
	}
}

// take clears entry i and returns its key and accumulator.
func (t *keyTable) take(i int32) (string, *accum) {
	e := &t.entries[i]
	k, acc := e.key, e.acc
	e.key, e.acc = "", nil // an emitted key is not kept alive
	if acc != nil {
		t.live--
	}
	return k, acc
}

// keyOrder appends to order the indexes of the entries not taken, sorted
// by key (byte order). scratch is reused between calls.
func (t *keyTable) keyOrder(order []int32, scratch *[]keyRank) []int32 {
	rs := (*scratch)[:0]
	for i := range t.entries {
		if e := &t.entries[i]; e.acc != nil {
			hi, lo := keyPrefix(e.key)
			rs = append(rs, keyRank{hi: hi, lo: lo, i: int32(i)})
		}
	}
	// The first 16 bytes, zero-padded and compared as big-endian words,
	// order keys as their bytes do, and decide alone for every IPv4
	// address; longer keys that share them are compared whole.
	slices.SortFunc(rs, func(a, b keyRank) int {
		if c := cmp.Compare(a.hi, b.hi); c != 0 {
			return c
		}
		if c := cmp.Compare(a.lo, b.lo); c != 0 {
			return c
		}
		return strings.Compare(t.entries[a.i].key, t.entries[b.i].key)
	})
	for _, r := range rs {
		order = append(order, r.i)
	}
	if cap(rs) <= maxKeptRanks {
		*scratch = rs[:0]
	} else {
		*scratch = nil // a flood's window: not kept for every later one
	}
	return order
}

// maxKeptRanks bounds the sort scratch kept between windows.
const maxKeptRanks = 16384

// keyRank is an entry's sort key (see keyOrder).
type keyRank struct {
	hi, lo uint64
	i      int32
}

// keyPrefix is the first 16 bytes of k, zero-padded, as two big-endian
// words.
func keyPrefix(k string) (hi, lo uint64) {
	var b [16]byte
	copy(b[:], k)
	return binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
}
