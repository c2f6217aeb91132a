package state_test

import (
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
	a1 := state.HorizonUpdate{Key: 1, Last: hour(1), Values: [state.HorizonValues]float32{1, 2, 3, 4}}
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

// A damaged record (wrong length or version, or a key not of 8 bytes) is
// skipped and counted by Horizons; the intact ones are read.
func TestHorizons_DamagedRecord(t *testing.T) {
	s := statetest.New(t)
	var ups []state.HorizonUpdate
	for k := range uint64(6) {
		ups = append(ups, state.HorizonUpdate{Key: k, Last: hour(int64(k)), Values: [state.HorizonValues]float32{float32(k), 1, 2, 3}})
	}
	if _, err := s.Apply(&state.Commit{Horizons: map[string][]state.HorizonUpdate{"web": ups}}); err != nil {
		t.Fatal(err)
	}
	path := s.Path()
	s.MustClose()
	key := func(k uint64) []byte { return binary.BigEndian.AppendUint64(nil, k) }
	updateFile(t, path, func(tx *bolt.Tx) error {
		top := tx.Bucket([]byte("horizon"))
		if top == nil {
			return fmt.Errorf("no horizon bucket")
		}
		b := top.Bucket([]byte("web"))
		if b == nil {
			return fmt.Errorf("no horizon bucket of input web")
		}
		good := slices.Clone(b.Get(key(0))) // bbolt's memory: not to be handed back to Put
		if len(good) != 25 {
			return fmt.Errorf("a horizon record of %d bytes, this test expects 25", len(good))
		}
		wrongVersion := append([]byte{good[0] + 1}, good[1:]...)
		for k, v := range map[uint64][]byte{
			1: good[:9],                // too short
			2: append(good[:25:25], 0), // too long
			3: wrongVersion,            // right length, unknown version
			4: nil,                     // empty
		} {
			if err := b.Put(key(k), v); err != nil {
				return err
			}
		}
		return b.Put([]byte("short"), good) // a key not of 8 bytes
	})
	s.Reopen()
	got, damaged := horizonsAll(t, s.Store, "web")
	want := []state.HorizonUpdate{ups[0], ups[5]}
	if !reflect.DeepEqual(got, want) || damaged != 5 {
		t.Fatalf("Horizons = %+v, %d damaged; want %+v, 5", got, damaged, want)
	}
	// Deleting a damaged record is an ordinary delete.
	if _, err := s.Apply(&state.Commit{Horizons: map[string][]state.HorizonUpdate{"web": {{Key: 1, Delete: true}, {Key: 2, Delete: true}}}}); err != nil {
		t.Fatal(err)
	}
	if got, damaged := horizonsAll(t, s.Store, "web"); !reflect.DeepEqual(got, want) || damaged != 3 {
		t.Fatalf("Horizons after deleting two damaged records = %+v, %d damaged; want %+v, 3", got, damaged, want)
	}
}
