package detect

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"unsafe"

	"github.com/dchest/siphash"
)

// DestKey keys the hash of destinations (record.Record.DestHash): the
// per-destination windows' key tables, a DNS client's per-domain counts
// and the seen set use it. SipHash-2-4 (github.com/dchest/siphash) under
// a secret key, so that no one can choose domain names that collide
// (hiding a new domain behind a known one), and the same key across
// restarts (the agent keeps it in the state file): a client's per-domain
// counts are stored by hash in the snapshots of open windows, and must
// match the destinations the restarted agent hashes. The client keys of
// the windows use the per-process keyHash: they are stored as text.
type DestKey struct{ k0, k1 uint64 }

// DestKeyFromSeed derives a key from seed, for offline runs that must give
// the same result from the same input and seed (`sharkfin train --seed`:
// the rare-error paths' tags).
func DestKeyFromSeed(seed uint64) DestKey {
	return DestKey{seedWord(seed, "destination k0"), seedWord(seed, "destination k1")}
}

// seedWord derives 64 bits named label from seed: the keys that offline
// runs derive from --seed (the vocabulary's, DestKeyFromSeed).
func seedWord(seed uint64, label string) uint64 {
	return siphash.Hash(seed, 0x7368_6172_6b66_696e, []byte(label))
}

// DestKeyLen is the length of a DestKey's bytes.
const DestKeyLen = 16

// NewDestKey returns a random key.
func NewDestKey() DestKey {
	var b [DestKeyLen]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	k, _ := DestKeyFrom(b[:])
	return k
}

// DestKeyFrom reads a key written by Bytes.
func DestKeyFrom(b []byte) (DestKey, error) {
	if len(b) != DestKeyLen {
		return DestKey{}, fmt.Errorf("destination hash key of %d bytes, want %d", len(b), DestKeyLen)
	}
	return DestKey{binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[8:])}, nil
}

// Bytes is the key as DestKeyFrom reads it.
func (k DestKey) Bytes() []byte {
	b := binary.LittleEndian.AppendUint64(nil, k.k0)
	return binary.LittleEndian.AppendUint64(b, k.k1)
}

func (k DestKey) hash(b []byte) uint64 { return siphash.Hash(k.k0, k.k1, b) }

// hashLower is hash of b ASCII-lowercased (host and query names), as
// hash of the lowercased bytes: names of up to maxLowered bytes are
// lowered on the stack.
func (k DestKey) hashLower(b []byte) uint64 {
	var buf [maxLowered]byte
	var low []byte
	if len(b) <= len(buf) {
		low = buf[:len(b)]
	} else {
		low = make([]byte, len(b)) // no name is this long: a line of junk
	}
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		low[i] = c
	}
	return k.hash(low)
}

// maxLowered is the longest name hashLower lowers without allocating: a
// DNS name has at most 253 bytes.
const maxLowered = 256

// hashString is hash of a string's bytes, without copying them
// (siphash.Hash only reads its input).
func (k DestKey) hashString(s string) uint64 {
	return siphash.Hash(k.k0, k.k1, unsafe.Slice(unsafe.StringData(s), len(s)))
}
