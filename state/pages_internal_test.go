package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// pagesTestDB writes a store with every kind of bucket and nested
// buckets, inline and not, in commits of keys windows, events, history
// entries and horizons each, and returns its bytes.
func pagesTestDB(t testing.TB, path string, commits, keys int) []byte {
	t.Helper()
	s, err := Open(Options{Path: path, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	for c := range commits {
		cm := &Commit{Windows: map[string][]byte{}, Horizons: map[string][]HorizonUpdate{"web": nil}}
		for i := range keys {
			cm.Windows[fmt.Sprintf("w-%d-%d", c, i)] = make([]byte, 100+i*40)
			cm.Events = append(cm.Events, []byte(strings.Repeat("e", 50+i*20)))
			cm.History = append(cm.History, HistoryUpdate{Kind: KindIP, Key: fmt.Sprintf("10.0.%d.%d", c, i), WindowStart: time.Unix(int64(60*c), 0), Hits: 1})
			cm.Horizons["web"] = append(cm.Horizons["web"], HorizonUpdate{Key: uint64(c*1000 + i), Last: 60, Values: [HorizonValues]float32{1, 2, 3, 4}})
		}
		if _, err := s.Apply(cm); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Maintain(); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Damage in a page that bbolt's writable open walks (it rebuilds the free
// list, NoFreelistSync, when the last commit did not write it, as after a
// crash) is found by checkPages first: Open moves the file aside instead of
// the process crashing in bbolt's walk. In 40 pages the tree reaches, at
// random, in turn: the id, the overflow count, the element count, an
// element's offset, one more bit in the flags; 100 random bytes past the
// meta pages; and in a closed file, whose free list bbolt reads as it is,
// the free list's count, an id in it and its flags.
func TestCheckPages_DamageNeverReachesBbolt(t *testing.T) {
	dir := t.TempDir()
	synced := pagesTestDB(t, filepath.Join(dir, "valid.db"), 20, 50)
	valid := unsyncedDB(t, filepath.Join(dir, "valid.db"))
	m, err := readMeta(bytesReaderAt(valid), int64(len(valid)))
	if err != nil {
		t.Fatal(err)
	}
	if m.freelist != noFreelist {
		t.Fatal("the free list is written: bbolt would not walk the tree")
	}
	if err := checkPages(bytesReaderAt(valid), m); err != nil {
		t.Fatalf("checkPages on a valid file: %v", err)
	}
	c := pageChecker{r: bytesReaderAt(valid), m: m, seen: make([]uint64, (m.hwm+63)/64)}
	if _, err := c.page(m.root, nil, nil, 0); err != nil {
		t.Fatal(err)
	}
	ps := int(m.pageSize)
	var pages []int
	for id := uint64(2); id < m.hwm; id++ {
		if c.seen[id/64]&(1<<(id%64)) != 0 && decodeHeader(valid[int(id)*ps:]).id == id {
			pages = append(pages, int(id)) // reached, and not an overflow page
		}
	}
	rng := rand.New(rand.NewPCG(5, 6))
	rng.Shuffle(len(pages), func(i, j int) { pages[i], pages[j] = pages[j], pages[i] })
	var spoils []func(b []byte)
	for _, id := range pages[:min(len(pages), 40)] {
		at := id * ps
		spoils = append(spoils,
			func(b []byte) { b[at] ^= 0x5a },                  // the page's id
			func(b []byte) { b[at+12]++ },                     // its overflow count
			func(b []byte) { b[at+10] ^= 0xff; b[at+11]++ },   // its element count
			func(b []byte) { b[at+pageHeaderSize+4] ^= 0x80 }, // an element's offset
			func(b []byte) { b[at+9] ^= 1 },                   // a bit more in its flags
		)
	}
	for range 100 {
		at := 2*ps + rng.IntN(len(valid)-2*ps)
		x := byte(1 + rng.IntN(255))
		spoils = append(spoils, func(b []byte) { b[at] ^= x })
	}
	// The free list of a closed file, which bbolt reads as it is.
	sm, err := readMeta(bytesReaderAt(synced), int64(len(synced)))
	if err != nil || sm.freelist == noFreelist {
		t.Fatalf("closed without the free list written (%v)", err)
	}
	fl := int(sm.freelist) * ps
	ne := binary.NativeEndian
	var files [][]byte
	for _, spoil := range spoils {
		b := bytes.Clone(valid)
		spoil(b)
		files = append(files, b)
	}
	for _, spoil := range []func(b []byte){
		func(b []byte) { ne.PutUint16(b[fl+10:], 0xffff); ne.PutUint64(b[fl+16:], 1<<40) }, // its count
		func(b []byte) { ne.PutUint64(b[fl+16:], 1<<33) },                                  // a free id
		func(b []byte) { b[fl+8] ^= 0x10 },                                                 // its flags
	} {
		b := bytes.Clone(synced)
		spoil(b)
		files = append(files, b)
	}
	moved := 0
	for i, b := range files {
		path := filepath.Join(dir, fmt.Sprintf("s%d.db", i))
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Open(Options{Path: path, NoSync: true})
		if err != nil {
			t.Fatalf("spoil %d: %v", i, err)
		}
		if s.Recovered() != "" {
			moved++
		}
		if err := s.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
			t.Fatal(err)
		}
	}
	t.Logf("%d damaged files: %d moved aside, the rest opened (damage in a value or a free page)", len(files), moved)
	if moved < len(files)/2 {
		t.Errorf("only %d of %d damaged files moved aside", moved, len(files))
	}
}

type bytesReaderAt []byte

func (b bytesReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= int64(len(b)) {
		return 0, fmt.Errorf("read at %d of %d bytes", off, len(b))
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, fmt.Errorf("short read at %d", off)
	}
	return n, nil
}

// A writable Store closed leaves the free list written, so that bbolt
// opened with its defaults (as an earlier sharkfin opens the file, to
// refuse it) writes nothing; the next Open and commits work as before.
func TestClose_WritesTheFreeList(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	valid := pagesTestDB(t, path, 20, 50)
	m, err := readMeta(bytesReaderAt(valid), int64(len(valid)))
	if err != nil {
		t.Fatal(err)
	}
	if m.freelist == noFreelist {
		t.Fatal("closed without the free list written")
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(after, valid) {
		t.Error("bbolt's default open changed the file")
	}
	s, err := Open(Options{Path: path, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Apply(&Commit{Windows: map[string][]byte{"k": []byte("v")}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// unsyncedDB turns the closed store at path, whose free list is written,
// into one whose newest commit did not write it (as after a crash of the
// agent, which does not write it but at Close), and returns its bytes.
func unsyncedDB(t testing.TB, path string) []byte {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{NoFreelistSync: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte(bucketMeta)).Put([]byte("zz-test"), []byte("x")) }); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A state file can hold anything. checkPages must fail cleanly on junk,
// never panic; and a file it passes must survive bbolt's writable open,
// which walks it to rebuild the free list (where a damaged page would
// crash the process). Seeds: a small store, with its free list
// written and not.
func FuzzCheckPages(f *testing.F) {
	path := filepath.Join(f.TempDir(), "seed.db")
	synced := pagesTestDB(f, path, 1, 3)
	// Cut to the pages in use: bbolt grows the file ahead of need, and the
	// fuzzer wants small inputs.
	for _, b := range [][]byte{synced, unsyncedDB(f, path)} {
		m, err := readMeta(bytesReaderAt(b), int64(len(b)))
		if err != nil {
			f.Fatal(err)
		}
		f.Logf("seed: %d bytes, %d in use", len(b), m.dataSize())
		f.Add(b[:m.dataSize()])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := precheckMeta(bytesReaderAt(b), int64(len(b)))
		if err != nil || len(b) == 0 {
			return
		}
		if err := checkPages(bytesReaderAt(b), m); err != nil {
			if !errors.Is(err, errCorrupt) {
				t.Fatalf("checkPages failed on the file's content without errCorrupt: %v", err)
			}
			return
		}
		// The writable open that rebuilds the free list, and no more
		// (Open would also grow, check and write the file: 100 times
		// slower to fuzz).
		p := filepath.Join(t.TempDir(), "f.db")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		db, err := openBolt(p, &bolt.Options{NoFreelistSync: true, NoSync: true, NoGrowSync: true, FreelistType: bolt.FreelistMapType})
		if err != nil {
			return // an error, not a crash, is what is asked here
		}
		db.Close()
	})
}
