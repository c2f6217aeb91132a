package detect

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/dchest/siphash"
	"github.com/socx/sharkfin/record"
)

// The path vocabulary of a web model: the request paths the site serves,
// learnt at training, so that a window can count the requests to paths the
// site never served. A scanner asking five never-seen paths that all fail
// differs from a reader who follows one broken link, though both have a
// few 404s.
//
// What is learnt. A path (normalised: NormalizePath) is in the vocabulary
// when it was served successfully (status below 400) to at least MinClients
// clients in the training logs, or asked for by at least MinAskers clients
// whatever the answer (a missing /favicon.ico every browser asks for).
// Paths a few clients asked and that only ever failed are not: they are
// what scanners ask. The vocabulary keeps at most MaxPaths paths, the
// ones served to the most clients.
//
// What is stored. Only SipHash-2-4 hashes of the normalised paths, under a
// key kept with them (random, or derived from `train --seed`): the model
// file carries no path. 8 bytes a path, about 10.7 in base64: the default
// 50,000 paths are 534 KB of the model file; MaxVocabularyPaths (500,000)
// are 5.3 MB. In memory a hash set of twice as many slots: 16 to 32 bytes
// a path (1.6 MiB at 50,000).
//
// Counting distinct clients in bounded memory. The training pass counts,
// per path, the clients served it and those that asked it, adding one when
// the client differs from the last one counted for that path (a client
// that comes back after another counts again: a slight overcount). The
// count table holds at most VocabBuilder.MaxEntries paths (default
// 2,000,000, about 100 MiB with the map's overhead); when it is full, it
// forgets the half of the paths with the fewest clients. A path forgotten
// had, at that point, no more clients than half the paths counted; one that
// keeps coming is counted again from then on (undercounted: it may miss
// the vocabulary). PathsSeen counts a path again after it was forgotten.

// VocabNormalize names the normalisation of NormalizePath.
const VocabNormalize = "path/v1"

// Vocabulary limits and defaults.
const (
	MaxVocabularyPaths      = 500_000
	DefaultVocabularyPaths  = 50_000
	DefaultVocabularyMin    = 2
	DefaultVocabularyAskers = 5
	DefaultVocabularyTrack  = 2_000_000
	maxNormalizedPath       = 256
	vocabKeyLen             = 16
)

// Vocabulary is the path vocabulary stored in a web model (Model.Vocabulary).
type Vocabulary struct {
	// Normalize is the path normalisation (VocabNormalize).
	Normalize string `json:"normalize"`
	// Key is the hex SipHash key of the hashes.
	Key string `json:"key"`
	// MinClients is the clients a path had to be served to, MinAskers
	// those it had to be asked by (whatever the answer).
	MinClients int `json:"min_clients"`
	MinAskers  int `json:"min_askers"`
	// PathsSeen is the distinct paths the training logs asked for (as
	// counted: paths forgotten by a prune are not), Size those kept.
	PathsSeen int64 `json:"paths_seen"`
	Size      int   `json:"size"`
	// Hashes are the kept paths' hashes: sorted, 8 bytes each,
	// little-endian, base64 (standard, padded).
	Hashes string `json:"hashes"`

	k0, k1 uint64
	set    u64set // decoded Hashes
}

// validate decodes and checks v; errors are *FieldError under field.
func (v *Vocabulary) validate(field string) error {
	if v.Normalize != VocabNormalize {
		return fieldErr(field+".normalize", retrain, "is %q; this version knows %q", v.Normalize, VocabNormalize)
	}
	key, err := hex.DecodeString(v.Key)
	if err != nil || len(key) != vocabKeyLen {
		return fieldErr(field+".key", retrain, "is not %d hex bytes", vocabKeyLen)
	}
	if v.MinClients < 1 {
		return fieldErr(field+".min_clients", retrain, "is %d, want >= 1", v.MinClients)
	}
	if v.MinAskers < 1 {
		return fieldErr(field+".min_askers", retrain, "is %d, want >= 1", v.MinAskers)
	}
	if v.Size < 0 || v.Size > MaxVocabularyPaths {
		return fieldErr(field+".size", "retrain with a smaller --vocabulary-size", "is %d, want 0 to %d", v.Size, MaxVocabularyPaths)
	}
	raw, err := base64.StdEncoding.DecodeString(v.Hashes)
	if err != nil {
		return fieldErr(field+".hashes", retrain, "is not base64: %v", err)
	}
	if len(raw) != 8*v.Size {
		return fieldErr(field+".hashes", retrain, "holds %d bytes for %d paths (8 each)", len(raw), v.Size)
	}
	set := make([]uint64, v.Size)
	for i := range set {
		set[i] = binary.LittleEndian.Uint64(raw[8*i:])
		if i > 0 && set[i] <= set[i-1] {
			return fieldErr(field+".hashes", retrain, "are not sorted and distinct (at path %d)", i)
		}
	}
	v.k0, v.k1 = binary.LittleEndian.Uint64(key), binary.LittleEndian.Uint64(key[8:])
	v.set = newVocabSet(set)
	return nil
}

// Known reports whether the target's normalised path is in the vocabulary.
// It allocates nothing.
func (v *Vocabulary) Known(target []byte) bool {
	var buf [maxNormalizedPath]byte
	return v.set.Has(siphash.Hash(v.k0, v.k1, buf[:normalize(&buf, target)]))
}

// NormalizePath appends target's normalised path (VocabNormalize) to dst,
// at most 256 bytes of it (dst should have that capacity):
//   - the query string and fragment are dropped, and the scheme and host of
//     an absolute target ("http://host/x" is "/x");
//   - ASCII letters are lower-cased;
//   - a segment that looks like an identifier becomes "*": 8 or more hex
//     digits and dashes with at least one digit (hashes, UUIDs), or 20 or
//     more letters, digits, '-' and '_' with at least one digit (tokens);
//   - in other segments every run of digits becomes one '0'
//     ("/2019/05/post-12" is "/0/0/post-0");
//   - a trailing '/' is dropped, except from "/" itself;
//   - an empty path ("", "?q", "http://host") is "/".
func NormalizePath(dst, target []byte) []byte {
	var buf [maxNormalizedPath]byte
	return append(dst, buf[:normalize(&buf, target)]...)
}

// normalize writes target's normalised path (NormalizePath) into buf and
// returns its length.
func normalize(buf *[maxNormalizedPath]byte, target []byte) int {
	t := target
	if i := bytes.IndexByte(t, '?'); i >= 0 {
		t = t[:i]
	}
	if i := bytes.IndexByte(t, '#'); i >= 0 {
		t = t[:i]
	}
	if len(t) > 0 && t[0] != '/' { // absolute form: skip scheme://host
		if i := bytes.Index(t, schemeSep); i >= 0 {
			t = t[i+3:]
			if j := bytes.IndexByte(t, '/'); j >= 0 {
				t = t[j:]
			} else {
				t = nil
			}
		}
	}
	n := 0
	for len(t) > 0 && n < len(buf) {
		if t[0] == '/' {
			buf[n] = '/'
			n++
			t = t[1:]
			continue
		}
		seg := t
		if j := bytes.IndexByte(t, '/'); j >= 0 {
			seg, t = t[:j], t[j:]
		} else {
			t = nil
		}
		// One pass: copy with digit runs folded and letters lowered,
		// classifying the segment as it goes; an identifier is then
		// replaced by '*'.
		start := n
		var seen uint8 // the classes met
		digits := false
		for _, c := range seg {
			cl := pathClass[c]
			seen |= cl
			if n >= len(buf) {
				continue // classify the rest, copy no more
			}
			if cl == classDigit {
				if !digits {
					buf[n] = '0'
					n++
				}
				digits = true
				continue
			}
			digits = false
			buf[n] = pathLower[c]
			n++
		}
		if len(seg) >= 8 && seen&classDigit != 0 && seen&classOther == 0 &&
			(seen&classToken == 0 || len(seg) >= 20) {
			buf[start] = '*'
			n = start + 1
		}
	}
	if n > 1 && buf[n-1] == '/' {
		n--
	}
	if n == 0 { // "" or an absolute target without a path
		buf[0] = '/'
		n = 1
	}
	return n
}

var schemeSep = []byte("://")

// Byte classes of a path segment (NormalizePath): digits; hex letters and
// '-'; other letters and '_'; anything else. An identifier has a digit,
// nothing of classOther, and either no classToken (hex and dashes) or 20
// bytes or more.
const (
	classDigit uint8 = 1 << iota
	classHex
	classToken
	classOther
)

var pathClass, pathLower = func() (cl, lo [256]uint8) {
	for c := range 256 {
		b := byte(c)
		lo[c] = b
		switch {
		case b >= '0' && b <= '9':
			cl[c] = classDigit
		case b >= 'a' && b <= 'f', b == '-':
			cl[c] = classHex
		case b >= 'A' && b <= 'F':
			cl[c], lo[c] = classHex, b+'a'-'A'
		case b >= 'g' && b <= 'z', b == '_':
			cl[c] = classToken
		case b >= 'G' && b <= 'Z':
			cl[c], lo[c] = classToken, b+'a'-'A'
		default:
			cl[c] = classOther
		}
	}
	return cl, lo
}()

// PathVocab holds the vocabulary windows count rare paths against, for the
// goroutines that parse (Mark) while the model it came from is swapped.
// The zero value holds none. Safe for concurrent use.
type PathVocab struct{ v atomic.Pointer[Vocabulary] }

// Set replaces the vocabulary (nil: none, no path is rare).
func (p *PathVocab) Set(v *Vocabulary) { p.v.Store(v) }

// Load returns the vocabulary in use, or nil.
func (p *PathVocab) Load() *Vocabulary {
	if p == nil {
		return nil
	}
	return p.v.Load()
}

// Mark sets r.Rare for a web record whose path is not in the vocabulary
// (never with none). Parse workers call it beside Prehash.
func (p *PathVocab) Mark(k record.Kind, r *record.Record) {
	r.Rare = false
	if k != record.KindWeb {
		return
	}
	if v := p.Load(); v != nil {
		r.Rare = !v.Known(r.Target)
	}
}

// VocabBuilder learns a Vocabulary from parsed web records (the training
// pass over the logs). Not safe for concurrent use.
type VocabBuilder struct {
	// MaxPaths is the most paths kept (default DefaultVocabularyPaths),
	// MinClients the clients a path must be served to (default
	// DefaultVocabularyMin), MaxEntries the most paths counted at once
	// (default DefaultVocabularyTrack).
	MaxPaths, MinClients, MaxEntries int
	// MinAskers: a path asked for by this many clients, whatever the
	// answer, is known too (default DefaultVocabularyAskers).
	MinAskers int

	k0, k1  uint64
	key     [vocabKeyLen]byte
	counts  map[uint64]vocabCount
	seen    int64    // distinct paths counted
	scratch []uint32 // prune's
	buf     [maxNormalizedPath]byte
}

type vocabCount struct {
	clients uint32 // served to (status 1xx-3xx)
	asked   uint32 // asked by, whatever the answer
	last    uint64 // hash of the last client counted in clients
	lastAsk uint64 // in asked
}

// NewVocabBuilder returns an empty builder with a random key.
func NewVocabBuilder() *VocabBuilder {
	var key [vocabKeyLen]byte
	_, _ = rand.Read(key[:]) // never fails (crypto/rand)
	return newVocabBuilder(key)
}

// NewVocabBuilderSeeded returns an empty builder whose key derives from
// seed: the same logs and seed give the same vocabulary (`sharkfin train
// --seed`). The key only needs to be unknown to those who cannot read the
// model: no one can make a probe pass for a known path by its hash anyway,
// since a probe's path is what it probes.
func NewVocabBuilderSeeded(seed uint64) *VocabBuilder {
	var key [vocabKeyLen]byte
	binary.LittleEndian.PutUint64(key[:], seedWord(seed, "vocabulary k0"))
	binary.LittleEndian.PutUint64(key[8:], seedWord(seed, "vocabulary k1"))
	return newVocabBuilder(key)
}

func newVocabBuilder(key [vocabKeyLen]byte) *VocabBuilder {
	b := &VocabBuilder{counts: make(map[uint64]vocabCount), key: key}
	b.k0, b.k1 = binary.LittleEndian.Uint64(b.key[:]), binary.LittleEndian.Uint64(b.key[8:])
	return b
}

// Add counts a web record's path: the clients that asked for it, and
// those served it (status 1xx-3xx).
func (b *VocabBuilder) Add(r *record.Record) {
	h := siphash.Hash(b.k0, b.k1, b.buf[:normalize(&b.buf, r.Target)])
	c := keyHash(r.Client)
	served := r.Status >= 100 && r.Status < 400
	e, ok := b.counts[h]
	if !ok {
		b.seen++
		if limit := cmp.Or(b.MaxEntries, DefaultVocabularyTrack); len(b.counts) >= limit {
			b.prune(limit / 2)
		}
	}
	if !ok || e.lastAsk != c {
		e.asked++
		e.lastAsk = c
	}
	if served && (e.clients == 0 || e.last != c) {
		e.clients++
		e.last = c
	}
	b.counts[h] = e
}

// prune forgets the paths served to the fewest clients until at most keep
// are left.
func (b *VocabBuilder) prune(keep int) {
	// The count at which at most keep paths have more: everything at or
	// below it goes (ties go together: a prune may leave fewer than keep).
	b.scratch = b.scratch[:0]
	for _, e := range b.counts {
		b.scratch = append(b.scratch, max(e.clients, e.asked))
	}
	slices.Sort(b.scratch)
	cut := b.scratch[len(b.scratch)-keep-1]
	for h, e := range b.counts {
		if max(e.clients, e.asked) <= cut {
			delete(b.counts, h)
		}
	}
}

// Vocabulary returns what was learnt.
func (b *VocabBuilder) Vocabulary() *Vocabulary {
	minC := cmp.Or(b.MinClients, DefaultVocabularyMin)
	maxP := min(cmp.Or(b.MaxPaths, DefaultVocabularyPaths), MaxVocabularyPaths)
	type kept struct {
		h uint64
		n uint32
	}
	var ks []kept
	minA := cmp.Or(b.MinAskers, DefaultVocabularyAskers)
	for h, e := range b.counts {
		if int(e.clients) >= minC || int(e.asked) >= minA {
			ks = append(ks, kept{h, max(e.clients, e.asked)})
		}
	}
	if len(ks) > maxP { // the most-served paths
		slices.SortFunc(ks, func(x, y kept) int {
			return cmp.Or(cmp.Compare(y.n, x.n), cmp.Compare(x.h, y.h))
		})
		ks = ks[:maxP]
	}
	set := make([]uint64, len(ks))
	for i, k := range ks {
		set[i] = k.h
	}
	slices.Sort(set)
	raw := make([]byte, 0, 8*len(set))
	for _, h := range set {
		raw = binary.LittleEndian.AppendUint64(raw, h)
	}
	return &Vocabulary{Normalize: VocabNormalize, Key: hex.EncodeToString(b.key[:]), MinClients: minC, MinAskers: minA,
		PathsSeen: b.seen, Size: len(set), Hashes: base64.StdEncoding.EncodeToString(raw),
		k0: b.k0, k1: b.k1, set: newVocabSet(set)}
}

// String summarises v for reports.
func (v *Vocabulary) String() string {
	return fmt.Sprintf("%d of %d paths (served to >= %d clients, or asked by >= %d)", v.Size, v.PathsSeen, v.MinClients, v.MinAskers)
}

// newVocabSet is the set of a vocabulary's hashes (the distinct-value set
// of the windows, sized once).
func newVocabSet(hs []uint64) u64set {
	var s u64set
	for _, h := range hs {
		s.Add(h)
	}
	return s
}
