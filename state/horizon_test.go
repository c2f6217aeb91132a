package state_test

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"slices"
	"testing"

	"github.com/socx/sharkfin/state"
	"github.com/socx/sharkfin/state/statetest"
	bolt "go.etcd.io/bbolt"
)

// horizonsAll returns every entry Horizons reports for input, in its
// order, and the damaged records it skipped.
func horizonsAll(t *testing.T, s *state.Store, input string) ([]state.HorizonUpdate, int) {
	t.Helper()
	var out []state.HorizonUpdate
	damaged, err := s.Horizons(input, func(u *state.HorizonUpdate) { out = append(out, *u) })
	if err != nil {
		t.Fatal(err)
	}
	return out, damaged
}

func checkHorizons(t *testing.T, s *state.Store, input string, want []state.HorizonUpdate) {
	t.Helper()
	got, damaged := horizonsAll(t, s, input)
	if !reflect.DeepEqual(got, want) || damaged != 0 {
		t.Errorf("Horizons(%s) = %+v, %d damaged\nwant %+v", input, got, damaged, want)
	}
}

// Horizon updates are stored by Apply per input, read back in key order,
// replaced by a later put, removed by a delete (of a stored key or not),
// and survive a reopen; KeepHorizons drops the inputs not kept.
func TestHorizons_ApplyReadDeleteKeep(t *testing.T) {
	s := statetest.New(t)
	a1 := state.HorizonUpdate{Key: 1, Last: hour(1), Values: [state.HorizonValues]float32{1, 2, 3, 4, 5, 6}, Recent: [state.HorizonRecent]uint16{7, math.MaxUint16, 1, 0}}
	a2 := state.HorizonUpdate{Key: math.MaxUint64, Last: hour(2), Values: [state.HorizonValues]float32{0.5, 0, float32(math.Exp(-0.5)), math.SmallestNonzeroFloat32}}
	a3 := state.HorizonUpdate{Key: 1 << 56, Last: 0, Values: [state.HorizonValues]float32{0, 0, 0, 1e30}}
	b1 := state.HorizonUpdate{Key: 1, Last: hour(3), Values: [state.HorizonValues]float32{9, 8, 7, 6}}

	// A commit of only horizons is not empty: it is written.
	before := s.Stats().Commits
	last, err := s.Apply(&state.Commit{Horizons: map[string][]state.HorizonUpdate{
		"a": {a2, a1, a3}, // any order
		"b": {b1},
	}})
	if err != nil || last != 0 {
		t.Fatalf("Apply of horizon updates = %d, %v; want 0, nil", last, err)
	}
	if got := s.Stats().Commits; got != before+1 {
		t.Errorf("commits %d after a horizons-only Apply, want %d", got, before+1)
	}
	checkHorizons(t, s.Store, "a", []state.HorizonUpdate{a1, a3, a2}) // key order
	checkHorizons(t, s.Store, "b", []state.HorizonUpdate{b1})         // same key, other input
	checkHorizons(t, s.Store, "c", nil)                               // no such input

	// A put replaces; deletes remove, a delete of an unknown key is no
	// error; the other input is untouched.
	a1.Values, a1.Last = [state.HorizonValues]float32{10, 20, 30, 40}, hour(5)
	if _, err := s.Apply(&state.Commit{Horizons: map[string][]state.HorizonUpdate{
		"a": {a1, {Key: a3.Key, Delete: true}, {Key: 12345, Delete: true}},
	}}); err != nil {
		t.Fatal(err)
	}
	checkHorizons(t, s.Store, "a", []state.HorizonUpdate{a1, a2})
	checkHorizons(t, s.Store, "b", []state.HorizonUpdate{b1})
	s.Reopen()
	checkHorizons(t, s.Store, "a", []state.HorizonUpdate{a1, a2})
	checkHorizons(t, s.Store, "b", []state.HorizonUpdate{b1})

	// A put and a delete of one key in one commit: the last wins.
	if _, err := s.Apply(&state.Commit{Horizons: map[string][]state.HorizonUpdate{
		"a": {{Key: a2.Key, Delete: true}},
		"b": {{Key: 77, Last: hour(6)}, {Key: 77, Delete: true}},
	}}); err != nil {
		t.Fatal(err)
	}
	checkHorizons(t, s.Store, "a", []state.HorizonUpdate{a1})
	checkHorizons(t, s.Store, "b", []state.HorizonUpdate{b1})

	// An input taken out of the configuration.
	if err := s.KeepHorizons([]string{"a"}); err != nil {
		t.Fatal(err)
	}
	checkHorizons(t, s.Store, "a", []state.HorizonUpdate{a1})
	checkHorizons(t, s.Store, "b", nil)
	s.Reopen()
	checkHorizons(t, s.Store, "a", []state.HorizonUpdate{a1})
	checkHorizons(t, s.Store, "b", nil)
	// Back again, it starts empty.
	if _, err := s.Apply(&state.Commit{Horizons: map[string][]state.HorizonUpdate{"b": {b1}}}); err != nil {
		t.Fatal(err)
	}
	checkHorizons(t, s.Store, "b", []state.HorizonUpdate{b1})
	if err := s.KeepHorizons(nil); err != nil {
		t.Fatal(err)
	}
	checkHorizons(t, s.Store, "a", nil)
	checkHorizons(t, s.Store, "b", nil)
}

// A put of a negative window fails the whole commit: nothing of it is
// stored, its other horizons nor its seen updates.
func TestHorizons_InvalidUpdateFailsTheCommit(t *testing.T) {
	s := statetest.New(t)
	_, err := s.Apply(&state.Commit{
		Seen: []state.SeenUpdate{{Key: "x.example", First: hour(1), Last: hour(1)}},
		Horizons: map[string][]state.HorizonUpdate{
			"a": {{Key: 1, Last: hour(1)}},
			"b": {{Key: 2, Last: -60}},
		},
	})
	if err == nil {
		t.Fatal("Apply of a negative window: no error")
	}
	checkHorizons(t, s.Store, "a", nil)
	checkHorizons(t, s.Store, "b", nil)
	if _, _, ok, err := s.SeenOf("x.example"); ok || err != nil {
		t.Errorf("SeenOf after a failed commit = %v, %v; want nothing", ok, err)
	}
}

// A damaged delta record (wrong version, truncated, empty) is skipped and
// counted by Horizons; the other records are read.
func TestHorizons_DamagedRecord(t *testing.T) {
	s := statetest.New(t)
	commits := [][]state.HorizonUpdate{
		{{Key: 1, Last: hour(1), Values: [state.HorizonValues]float32{1, 1, 1, 1}}},
		{{Key: 2, Last: hour(2), Values: [state.HorizonValues]float32{2, 2, 2, 2}}},
		{{Key: 3, Last: hour(3), Values: [state.HorizonValues]float32{3, 3, 3, 3}}},
		{{Key: 4, Last: hour(4), Values: [state.HorizonValues]float32{4, 4, 4, 4}}},
	}
	for _, c := range commits {
		if _, err := s.Apply(&state.Commit{Horizons: map[string][]state.HorizonUpdate{"web": c}}); err != nil {
			t.Fatal(err)
		}
	}
	path := s.Path()
	s.MustClose()
	updateFile(t, path, func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("horizon")).Bucket([]byte("web"))
		var keys [][]byte
		c := b.Cursor()
		for k, _ := c.Seek([]byte("d")); k != nil && k[0] == 'd'; k, _ = c.Next() {
			keys = append(keys, slices.Clone(k))
		}
		if len(keys) != 4 {
			return fmt.Errorf("%d delta records, want 4", len(keys))
		}
		good := slices.Clone(b.Get(keys[0]))
		for i, v := range [][]byte{append([]byte{good[0] + 1}, good[1:]...), good[:len(good)-1], {}} {
			if err := b.Put(keys[i+1], v); err != nil {
				return err
			}
		}
		return nil
	})
	s.Reopen()
	got, damaged := horizonsAll(t, s.Store, "web")
	if want := commits[0]; !reflect.DeepEqual(got, want) || damaged != 3 {
		t.Fatalf("Horizons = %+v, %d damaged; want %+v, 3", got, damaged, want)
	}
}

// Deltas are folded into the table once they outgrow it: many commits of
// random clients leave a table and fewer deltas than twice its size, and
// read back as the model map says.
func TestHorizons_FoldKeepsTheBucketBounded(t *testing.T) {
	s := statetest.New(t)
	model := map[uint64]state.HorizonUpdate{}
	r := uint64(1)
	next := func() uint64 { r = r*6364136223846793005 + 1442695040888963407; return r >> 33 }
	for c := range 400 {
		var us []state.HorizonUpdate
		for range 200 {
			k := next() % 5000
			if next()%5 == 0 {
				us = append(us, state.HorizonUpdate{Key: k, Delete: true})
				delete(model, k)
				continue
			}
			u := state.HorizonUpdate{Key: k, Last: hour(int64(c)), Values: [state.HorizonValues]float32{float32(c), float32(k), 1, 2}}
			us = append(us, u)
			model[k] = u
		}
		if _, err := s.Apply(&state.Commit{Horizons: map[string][]state.HorizonUpdate{"web": us}}); err != nil {
			t.Fatal(err)
		}
	}
	got, damaged := horizonsAll(t, s.Store, "web")
	want := make([]state.HorizonUpdate, 0, len(model))
	for _, u := range model {
		want = append(want, u)
	}
	slices.SortFunc(want, func(a, b state.HorizonUpdate) int { return cmp.Compare(a.Key, b.Key) })
	if damaged != 0 || !reflect.DeepEqual(got, want) {
		t.Fatalf("after 400 commits: %d entries, %d damaged; want %d", len(got), damaged, len(want))
	}
	path := s.Path()
	s.MustClose()
	var table, deltas, chunks, largest int
	viewFile(t, path, func(tx *bolt.Tx) {
		b := tx.Bucket([]byte("horizon")).Bucket([]byte("web"))
		if b.Get([]byte("t")) != nil {
			t.Error("a legacy one-value table was written")
		}
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			largest = max(largest, len(v))
			switch k[0] {
			case 'T':
				table += len(v)
				chunks++
			case 'd':
				deltas += len(v)
			}
		}
	})
	// 400 commits of ~5.8 KB: 2.3 MB of deltas unless folded.
	if table == 0 || deltas > max(2*table, 256<<10) {
		t.Errorf("table %d bytes, deltas %d bytes: not folded (want deltas <= max(2 x table, 256 KiB))", table, deltas)
	}
	// No record takes more than one page (a run of pages the file may
	// not have free: see horizon.go).
	if largest > 2000 {
		t.Errorf("a record of %d bytes, want at most 2,000", largest)
	}
	t.Logf("%d entries: table %d bytes in %d chunks, deltas %d bytes; largest record %d bytes", len(got), table, chunks, deltas, largest)
}

// A table written by an older agent as one value ("t") is read; beside it,
// chunks ("T...") are stale (only an older agent writes "t", after a newer
// one wrote the chunks) and are ignored. The next fold replaces both with
// chunks.
func TestHorizons_LegacyTable(t *testing.T) {
	s := statetest.New(t)
	entry := func(k uint64, v float32) state.HorizonUpdate {
		return state.HorizonUpdate{Key: k, Last: hour(int64(k)), Values: [state.HorizonValues]float32{v, v, v, v}}
	}
	// Chunks of a newer agent: keys 1..3.
	if _, err := s.Apply(&state.Commit{Horizons: map[string][]state.HorizonUpdate{"web": {entry(1, 1), entry(2, 1), entry(3, 1)}}}); err != nil {
		t.Fatal(err)
	}
	path := s.Path()
	s.MustClose()
	// An older agent folded since: a table of keys 2 and 4, as one value,
	// with the record format both share; a stale chunk stays beside it.
	legacy := appendEntries(entry(2, 7), entry(4, 7))
	updateFile(t, path, func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("horizon")).Bucket([]byte("web"))
		var deltas [][]byte
		c := b.Cursor()
		for k, _ := c.Seek([]byte("d")); k != nil && k[0] == 'd'; k, _ = c.Next() {
			deltas = append(deltas, slices.Clone(k))
		}
		for _, k := range deltas { // folded by the older agent
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		if err := b.Put(binary.BigEndian.AppendUint64([]byte("T"), 0), appendEntries(entry(1, 1), entry(3, 1))); err != nil {
			return err
		}
		return b.Put([]byte("t"), legacy)
	})
	s.Reopen()
	checkHorizons(t, s.Store, "web", []state.HorizonUpdate{entry(2, 7), entry(4, 7)})

	// Enough deltas to fold: the legacy table and the stale chunk go.
	var us []state.HorizonUpdate
	for k := range uint64(8000) {
		us = append(us, entry(100+k, 2))
	}
	if _, err := s.Apply(&state.Commit{Horizons: map[string][]state.HorizonUpdate{"web": us}}); err != nil {
		t.Fatal(err)
	}
	want := append([]state.HorizonUpdate{entry(2, 7), entry(4, 7)}, us...)
	checkHorizons(t, s.Store, "web", want)
	s.MustClose()
	viewFile(t, path, func(tx *bolt.Tx) {
		b := tx.Bucket([]byte("horizon")).Bucket([]byte("web"))
		if b.Get([]byte("t")) != nil {
			t.Error("the legacy table is still there after a fold")
		}
		if k, _ := b.Cursor().Seek([]byte("d")); k != nil && k[0] == 'd' {
			t.Error("deltas left after a fold")
		}
	})
}

// appendEntries encodes entries as one horizon record of version 1, as
// earlier agents wrote them: four sums, no recent paths.
func appendEntries(us ...state.HorizonUpdate) []byte {
	b := []byte{1}
	for _, u := range us {
		if u.Values[4] != 0 || u.Values[5] != 0 || u.Recent != ([state.HorizonRecent]uint16{}) {
			panic("version 1 has four sums and no recent paths")
		}
		b = binary.BigEndian.AppendUint64(b, u.Key)
		b = append(b, 0)
		b = binary.BigEndian.AppendUint64(b, uint64(u.Last))
		for _, v := range u.Values[:4] {
			b = binary.BigEndian.AppendUint32(b, math.Float32bits(v))
		}
	}
	return b
}
