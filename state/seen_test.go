package state_test

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/socx/sharkfin/state"
	"github.com/socx/sharkfin/state/statetest"
	bolt "go.etcd.io/bbolt"
)

// seenEntry is one destination as Store.Seen reports it.
type seenEntry struct {
	Key         string
	First, Last int64
}

// seenAll returns every destination Seen reports, in its order, and the
// damaged records it skipped.
func seenAll(t *testing.T, s *state.Store) ([]seenEntry, int) {
	t.Helper()
	var out []seenEntry
	damaged, err := s.Seen(func(key string, first, last int64) {
		out = append(out, seenEntry{key, first, last})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out, damaged
}

// hour is the start of hour h of the tests' timeline, in Unix seconds.
func hour(h int64) int64 { return 1_700_000_000 + 3600*h }

// domainWindow is a domain history update of the window starting at hour h.
func domainWindow(h int64) state.HistoryUpdate {
	return state.HistoryUpdate{Kind: state.KindDomain, Key: "window.example", WindowStart: time.Unix(hour(h), 0), Hits: 1}
}

// updateFile changes the closed state file at path directly with bbolt,
// in one write transaction.
func updateFile(t *testing.T, path string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
}

// Seen updates are stored by Apply, read back in key order with their
// windows, and replaced (not merged) by a later update of the same key.
func TestSeen_ApplyStoresAndReplaces(t *testing.T) {
	s := statetest.New(t)
	long := strings.Repeat("d", 1024) // the longest key there may be
	last, err := s.Apply(&state.Commit{Seen: []state.SeenUpdate{
		{Key: "example.org", First: hour(1), Last: hour(5)},
		{Key: "192.0.2.1", First: hour(2), Last: hour(2)},
		{Key: long, First: hour(3), Last: hour(4)},
		{Key: "a.example", First: 0, Last: hour(3)},
	}})
	if err != nil || last != 0 {
		t.Fatalf("Apply of seen updates = %d, %v; want 0, nil", last, err)
	}
	want := []seenEntry{
		{"192.0.2.1", hour(2), hour(2)},
		{"a.example", 0, hour(3)},
		{long, hour(3), hour(4)},
		{"example.org", hour(1), hour(5)},
	}
	if got, damaged := seenAll(t, s.Store); !reflect.DeepEqual(got, want) || damaged != 0 {
		t.Fatalf("Seen = %v, %d damaged\nwant %v", got, damaged, want)
	}

	first, lastSeen, ok, err := s.SeenOf("example.org")
	if err != nil || !ok || !first.Equal(time.Unix(hour(1), 0)) || !lastSeen.Equal(time.Unix(hour(5), 0)) {
		t.Fatalf("SeenOf(example.org) = %v, %v, %v, %v", first, lastSeen, ok, err)
	}
	if first.Location() != time.UTC || lastSeen.Location() != time.UTC {
		t.Errorf("SeenOf times in %v and %v, want UTC", first.Location(), lastSeen.Location())
	}
	if f, l, ok, err := s.SeenOf("unknown.example"); ok || err != nil || !f.IsZero() || !l.IsZero() {
		t.Errorf("SeenOf of an unknown key = %v, %v, %v, %v", f, l, ok, err)
	}

	// An update replaces what was stored, First included; of two updates
	// of a key in one commit, the later is stored.
	if _, err := s.Apply(&state.Commit{Seen: []state.SeenUpdate{
		{Key: "example.org", First: hour(6), Last: hour(7)},
		{Key: "example.org", First: hour(4), Last: hour(9)},
	}}); err != nil {
		t.Fatal(err)
	}
	want[3] = seenEntry{"example.org", hour(4), hour(9)}
	s.Reopen()
	if got, damaged := seenAll(t, s.Store); !reflect.DeepEqual(got, want) || damaged != 0 {
		t.Fatalf("Seen after a replacing update and a reopen = %v, %d damaged\nwant %v", got, damaged, want)
	}
	if f, l, ok, err := s.SeenOf("example.org"); err != nil || !ok || f.Unix() != hour(4) || l.Unix() != hour(9) {
		t.Errorf("SeenOf after the update = %v, %v, %v, %v", f, l, ok, err)
	}
}

// A commit holding only Seen updates is not empty: it is written (one
// commit more), where an empty commit writes nothing.
func TestApply_OnlySeenIsApplied(t *testing.T) {
	s := statetest.New(t)
	if _, err := s.Apply(&state.Commit{}); err != nil {
		t.Fatal(err)
	}
	before := s.Stats().Commits
	if _, err := s.Apply(&state.Commit{Seen: []state.SeenUpdate{{Key: "only.example", First: hour(1), Last: hour(1)}}}); err != nil {
		t.Fatal(err)
	}
	if got := s.Stats().Commits; got != before+1 {
		t.Errorf("commits %d after a Seen-only Apply, want %d", got, before+1)
	}
	if _, _, ok, err := s.SeenOf("only.example"); !ok || err != nil {
		t.Errorf("SeenOf after a Seen-only commit = %v, %v", ok, err)
	}
}

// An invalid Seen update fails the whole commit: nothing of it is stored,
// neither its other Seen updates nor its checkpoints, windows, events,
// deletes or history, and the next commit numbers its events on.
func TestSeen_InvalidUpdateFailsTheCommit(t *testing.T) {
	tests := []struct {
		name string
		bad  state.SeenUpdate
	}{
		{"empty key", state.SeenUpdate{Key: "", First: hour(1), Last: hour(1)}},
		{"key longer than 1024 bytes", state.SeenUpdate{Key: strings.Repeat("k", 1025), First: hour(1), Last: hour(1)}},
		{"last before first", state.SeenUpdate{Key: "bad.example", First: hour(2), Last: hour(1)}},
		{"negative first", state.SeenUpdate{Key: "bad.example", First: -1, Last: hour(1)}},
		{"both negative", state.SeenUpdate{Key: "bad.example", First: -7200, Last: -3600}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := statetest.New(t)
			base := commitLines(0, 30)
			base.Seen = []state.SeenUpdate{{Key: "kept.example", First: hour(0), Last: hour(0)}}
			last, err := s.Apply(base)
			if err != nil {
				t.Fatal(err)
			}
			before := takeSnapshot(t, s.Store)
			seenBefore, _ := seenAll(t, s.Store)

			bad := commitLines(30, 60)
			bad.DeleteThrough = 2
			bad.History = append(bad.History, domainWindow(1))
			bad.Seen = []state.SeenUpdate{
				{Key: "a.example", First: hour(1), Last: hour(1)},
				{Key: "kept.example", First: hour(0), Last: hour(1)},
				tt.bad,
				{Key: "z.example", First: hour(1), Last: hour(1)},
			}
			if _, err := s.Apply(bad); err == nil || !strings.Contains(err.Error(), "seen") {
				t.Fatalf("Apply with a bad seen update = %v, want an error about it", err)
			}
			if bad.Deleted != 0 {
				t.Errorf("a failed Apply reports %d events deleted", bad.Deleted)
			}
			if after := takeSnapshot(t, s.Store); !reflect.DeepEqual(before, after) {
				t.Errorf("a failed Apply changed the store:\nbefore %+v\nafter  %+v", before, after)
			}
			if got, _ := seenAll(t, s.Store); !reflect.DeepEqual(got, seenBefore) {
				t.Errorf("a failed Apply changed the seen destinations: %v, want %v", got, seenBefore)
			}

			good := commitLines(30, 60)
			good.Seen = bad.Seen[:2]
			got, err := s.Apply(good)
			if err != nil {
				t.Fatal(err)
			}
			if want := last + uint64(len(good.Events)); got != want {
				t.Errorf("after a failed Apply the next events end at %d, want %d", got, want)
			}
			verifyWorkload(t, s.Store)
			want := []seenEntry{{"a.example", hour(1), hour(1)}, {"kept.example", hour(0), hour(1)}}
			if got, _ := seenAll(t, s.Store); !reflect.DeepEqual(got, want) {
				t.Errorf("Seen after the good commit = %v, want %v", got, want)
			}
		})
	}
}

// A commit that fails for another reason, before or after its Seen
// updates are written in the transaction, stores none of them.
func TestSeen_AtomicWithTheRestOfTheCommit(t *testing.T) {
	tests := []struct {
		name  string
		spoil func(c *state.Commit)
	}{
		{"unknown history kind", func(c *state.Commit) { c.History[len(c.History)-1].Kind = "mac" }},
		{"negative hits", func(c *state.Commit) { c.History[0].Hits = -1 }},
		{"history key too long", func(c *state.Commit) { c.History[1].Key = strings.Repeat("h", 1025) }},
		{"empty event", func(c *state.Commit) { c.Events[0] = nil }},
		{"empty window key", func(c *state.Commit) { c.Windows[""] = []byte("x") }},
		{"negative offset", func(c *state.Commit) { c.Checkpoints[0].Offset = -1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := statetest.New(t)
			if _, err := s.Apply(commitLines(0, 30)); err != nil {
				t.Fatal(err)
			}
			before := takeSnapshot(t, s.Store)
			bad := commitLines(30, 60)
			bad.History = append(bad.History, domainWindow(1))
			bad.Seen = []state.SeenUpdate{
				{Key: "a.example", First: hour(1), Last: hour(1)},
				{Key: "b.example", First: hour(0), Last: hour(1)},
			}
			tt.spoil(bad)
			if _, err := s.Apply(bad); err == nil {
				t.Fatal("Apply of a spoiled commit succeeded")
			}
			if got, damaged := seenAll(t, s.Store); len(got) != 0 || damaged != 0 {
				t.Errorf("a failed Apply stored seen destinations: %v (%d damaged)", got, damaged)
			}
			if _, _, ok, err := s.SeenOf("a.example"); ok || err != nil {
				t.Errorf("SeenOf after a failed Apply = %v, %v", ok, err)
			}
			if after := takeSnapshot(t, s.Store); !reflect.DeepEqual(before, after) {
				t.Errorf("a failed Apply changed the store:\nbefore %+v\nafter  %+v", before, after)
			}
		})
	}
}

// Maintain forgets the destinations last seen before the newest domain
// window applied less Options.SeenRetention, and keeps the others; the
// horizon moves only with domain windows.
func TestSeen_Retention(t *testing.T) {
	s := statetest.NewWithOptions(t, state.Options{NoSync: true, SeenRetention: 48 * time.Hour})
	if _, err := s.Apply(&state.Commit{
		Seen: []state.SeenUpdate{
			{Key: "a.example", First: hour(0), Last: hour(10)},
			{Key: "b.example", First: hour(0), Last: hour(51)},
			{Key: "c.example", First: hour(52), Last: hour(52)}, // on the horizon: kept
			{Key: "d.example", First: hour(0), Last: hour(60)},
			{Key: "e.example", First: hour(0), Last: hour(200)}, // ahead of the windows
		},
		// A client window does not set the domain horizon.
		History: []state.HistoryUpdate{{Kind: state.KindIP, Key: "192.0.2.1", WindowStart: time.Unix(hour(100), 0), Hits: 1}},
	}); err != nil {
		t.Fatal(err)
	}
	all := []string{"a.example", "b.example", "c.example", "d.example", "e.example"}
	keys := func() []string {
		t.Helper()
		got, damaged := seenAll(t, s.Store)
		if damaged != 0 {
			t.Errorf("%d damaged records", damaged)
		}
		var out []string
		for _, e := range got {
			out = append(out, e.Key)
		}
		return out
	}
	maintain := func() int {
		t.Helper()
		w, err := s.Maintain()
		if err != nil {
			t.Fatal(err)
		}
		return w.SeenFreed
	}

	if n := maintain(); n != 0 {
		t.Errorf("no domain window applied yet: Maintain forgot %d destinations", n)
	}
	if got := keys(); !reflect.DeepEqual(got, all) {
		t.Fatalf("Seen = %v, want %v", got, all)
	}

	applyHistory(t, s, domainWindow(100)) // horizon hour 52
	applyHistory(t, s, domainWindow(1))   // a late window does not move it back
	if n := maintain(); n != 2 {
		t.Errorf("Maintain forgot %d destinations, want 2 (a and b)", n)
	}
	want := []string{"c.example", "d.example", "e.example"}
	if got := keys(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Seen after Maintain = %v, want %v", got, want)
	}
	if n := maintain(); n != 0 {
		t.Errorf("a second Maintain forgot %d more", n)
	}
	s.Reopen()
	if got := keys(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Seen after a reopen = %v, want %v", got, want)
	}
	if _, _, ok, err := s.SeenOf("a.example"); ok || err != nil {
		t.Errorf("SeenOf of a forgotten destination = %v, %v", ok, err)
	}

	// The horizon moves to hour 102: c goes; d, seen again in the
	// commit that moves it, stays; so does e. A client window far ahead
	// changes nothing.
	if _, err := s.Apply(&state.Commit{
		History: []state.HistoryUpdate{domainWindow(150),
			{Kind: state.KindIP, Key: "192.0.2.1", WindowStart: time.Unix(hour(1000), 0), Hits: 1}},
		Seen: []state.SeenUpdate{{Key: "d.example", First: hour(0), Last: hour(120)}},
	}); err != nil {
		t.Fatal(err)
	}
	if n := maintain(); n != 1 {
		t.Errorf("Maintain forgot %d destinations, want 1 (c)", n)
	}
	want = []string{"d.example", "e.example"}
	if got := keys(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Seen after the horizon moved = %v, want %v", got, want)
	}
	s.Reopen()
	if got := keys(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Seen after a second reopen = %v, want %v", got, want)
	}
}

// Without Options.SeenRetention a destination is remembered for
// DefaultSeenRetention (90 days) unseen.
func TestSeen_DefaultRetention(t *testing.T) {
	s := statetest.New(t)
	day := func(d int64) int64 { return hour(24 * d) }
	if _, err := s.Apply(&state.Commit{
		History: []state.HistoryUpdate{domainWindow(24 * 100)},
		Seen: []state.SeenUpdate{
			{Key: "gone.example", First: 0, Last: day(9)},
			{Key: "edge.example", First: 0, Last: day(10)},
			{Key: "kept.example", First: 0, Last: day(11)},
		},
	}); err != nil {
		t.Fatal(err)
	}
	w, err := s.Maintain()
	if err != nil || w.SeenFreed != 1 {
		t.Fatalf("Maintain = %+v, %v; want 1 destination forgotten", w, err)
	}
	want := []seenEntry{{"edge.example", 0, day(10)}, {"kept.example", 0, day(11)}}
	if got, _ := seenAll(t, s.Store); !reflect.DeepEqual(got, want) {
		t.Errorf("Seen = %v, want %v", got, want)
	}
}

// A file of an older sharkfin has no seen.domain bucket: a snapshot of it
// reads no destinations without error, and Open adds the bucket.
func TestSeen_FileWithoutTheBucket(t *testing.T) {
	path := t.TempDir() + "/state.db"
	s := statetest.NewWithOptions(t, state.Options{Path: path, NoSync: true, SeenRetention: time.Hour})
	if _, err := s.Apply(&state.Commit{History: []state.HistoryUpdate{domainWindow(10)},
		Seen: []state.SeenUpdate{{Key: "old.example", First: hour(1), Last: hour(1)}}}); err != nil {
		t.Fatal(err)
	}
	s.MustClose()
	updateFile(t, path, func(tx *bolt.Tx) error { return tx.DeleteBucket([]byte("seen.domain")) })

	ro, err := state.OpenReadOnly(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got, damaged := seenAll(t, ro); len(got) != 0 || damaged != 0 {
		t.Errorf("snapshot without the bucket: Seen = %v, %d damaged", got, damaged)
	}
	if f, l, ok, err := ro.SeenOf("old.example"); ok || err != nil || !f.IsZero() || !l.IsZero() {
		t.Errorf("snapshot without the bucket: SeenOf = %v, %v, %v, %v", f, l, ok, err)
	}
	if h, ok, err := ro.History(state.KindDomain, "window.example"); err != nil || !ok || h.Hits != 1 {
		t.Errorf("snapshot without the bucket: History = %+v, %v, %v", h, ok, err)
	}
	if err := ro.Close(); err != nil {
		t.Fatal(err)
	}

	s.Reopen()
	if got, damaged := seenAll(t, s.Store); len(got) != 0 || damaged != 0 {
		t.Errorf("reopened: Seen = %v, %d damaged", got, damaged)
	}
	if w, err := s.Maintain(); err != nil || w.SeenFreed != 0 {
		t.Errorf("Maintain on the recreated bucket = %+v, %v", w, err)
	}
	if _, err := s.Apply(&state.Commit{Seen: []state.SeenUpdate{{Key: "new.example", First: hour(10), Last: hour(10)}}}); err != nil {
		t.Fatal(err)
	}
	s.Reopen()
	if got, _ := seenAll(t, s.Store); !reflect.DeepEqual(got, []seenEntry{{"new.example", hour(10), hour(10)}}) {
		t.Errorf("Seen after Open recreated the bucket = %v", got)
	}
	s.MustClose()
	viewFile(t, path, func(tx *bolt.Tx) {
		if tx.Bucket([]byte("seen.domain")) == nil {
			t.Error("Open did not recreate the seen.domain bucket")
		}
	})
}

// A damaged record (wrong length or version) is skipped and counted by
// Seen, an error for SeenOf, and deleted by Maintain.
func TestSeen_DamagedRecord(t *testing.T) {
	s := statetest.NewWithOptions(t, state.Options{NoSync: true, SeenRetention: 48 * time.Hour})
	var ups []state.SeenUpdate
	for _, k := range []string{"a.example", "b.example", "c.example", "d.example", "e.example"} {
		ups = append(ups, state.SeenUpdate{Key: k, First: hour(90), Last: hour(100)})
	}
	if _, err := s.Apply(&state.Commit{History: []state.HistoryUpdate{domainWindow(100)}, Seen: ups}); err != nil {
		t.Fatal(err)
	}
	path := s.Path()
	s.MustClose()
	updateFile(t, path, func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("seen.domain"))
		good := slices.Clone(b.Get([]byte("a.example"))) // bbolt's memory: not to be handed back to Put
		if len(good) != 17 {
			return fmt.Errorf("a seen record of %d bytes, this test expects 17", len(good))
		}
		wrongVersion := append([]byte{good[0] + 1}, good[1:]...)
		for k, v := range map[string][]byte{
			"b.example": good[:5],                // too short
			"c.example": append(good[:17:17], 0), // too long
			"d.example": wrongVersion,            // right length, unknown version
			"e.example": good,                    // intact
		} {
			if err := b.Put([]byte(k), v); err != nil {
				return err
			}
		}
		return nil
	})
	s.Reopen()

	want := []seenEntry{{"a.example", hour(90), hour(100)}, {"e.example", hour(90), hour(100)}}
	if got, damaged := seenAll(t, s.Store); !reflect.DeepEqual(got, want) || damaged != 3 {
		t.Fatalf("Seen = %v, %d damaged; want %v, 3", got, damaged, want)
	}
	if _, _, ok, err := s.SeenOf("b.example"); err == nil || ok {
		t.Errorf("SeenOf of a damaged record = %v, %v; want an error", ok, err)
	}

	w, err := s.Maintain()
	if err != nil || w.SeenFreed != 3 {
		t.Fatalf("Maintain = %+v, %v; want the 3 damaged records freed", w, err)
	}
	if got, damaged := seenAll(t, s.Store); !reflect.DeepEqual(got, want) || damaged != 0 {
		t.Fatalf("Seen after Maintain = %v, %d damaged; want %v, 0", got, damaged, want)
	}
	if _, _, ok, err := s.SeenOf("b.example"); ok || err != nil {
		t.Errorf("SeenOf of a deleted damaged record = %v, %v", ok, err)
	}
}
