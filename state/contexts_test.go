package state_test

import (
	"encoding/binary"
	"errors"
	"maps"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/socx/sharkfin/state"
	"github.com/socx/sharkfin/state/statetest"
	bolt "go.etcd.io/bbolt"
)

func contexts(t *testing.T, s *statetest.Store) map[uint64]string {
	t.Helper()
	m, err := s.OutboxContexts()
	if err != nil {
		t.Fatal(err)
	}
	out := map[uint64]string{}
	for k, v := range m {
		out[k] = string(v)
	}
	return out
}

// Contexts are written with the events that use them, survive a reopen,
// stay while any event is left, and are dropped when the outbox empties,
// whether a sender's delete or a commit's DeleteThrough empties it.
func TestOutboxContexts_LiveWhileTheOutboxHoldsEvents(t *testing.T) {
	s := statetest.New(t)
	if _, err := s.Apply(&state.Commit{Events: [][]byte{[]byte("e1"), []byte("e2")},
		Contexts: map[uint64][]byte{1: []byte("web"), 2: []byte("proxy")}}); err != nil {
		t.Fatal(err)
	}
	// Storing a context again is fine; under another value it is not.
	if _, err := s.Apply(&state.Commit{Events: [][]byte{[]byte("e3")}, Contexts: map[uint64][]byte{1: []byte("web")}}); err != nil {
		t.Fatal(err)
	}
	_, err := s.Apply(&state.Commit{Events: [][]byte{[]byte("e4")}, Contexts: map[uint64][]byte{2: []byte("dns")}})
	if err == nil || !strings.Contains(err.Error(), "different value") {
		t.Fatalf("a clashing context: %v", err)
	}
	if n, _, _ := s.OutboxStats(); n != 3 {
		t.Fatalf("the failed commit left %d events, want 3", n)
	}
	s.Reopen()
	want := map[uint64]string{1: "web", 2: "proxy"}
	if got := contexts(t, s); !maps.Equal(got, want) {
		t.Fatalf("contexts %v, want %v", got, want)
	}
	if _, err := s.OutboxDelete(2); err != nil {
		t.Fatal(err)
	}
	if got := contexts(t, s); !maps.Equal(got, want) {
		t.Fatalf("one event left: contexts %v, want %v", got, want)
	}
	if _, err := s.OutboxDelete(3); err != nil {
		t.Fatal(err)
	}
	if got := contexts(t, s); len(got) != 0 {
		t.Fatalf("empty outbox: contexts %v", got)
	}
	// A commit that empties the outbox and adds events keeps its own.
	last, err := s.Apply(&state.Commit{Events: [][]byte{[]byte("e5")}, Contexts: map[uint64][]byte{3: []byte("dns")}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Apply(&state.Commit{DeleteThrough: last, Events: [][]byte{[]byte("e6")},
		Contexts: map[uint64][]byte{4: []byte("web2")}}); err != nil {
		t.Fatal(err)
	}
	if got, want := contexts(t, s), map[uint64]string{4: "web2"}; !maps.Equal(got, want) {
		t.Fatalf("after DeleteThrough: contexts %v, want %v", got, want)
	}
	s.MustCheck()
}

// A version 1 file opens, gains the contexts bucket and is marked
// version 2, which a sharkfin that reads only version 1 refuses (it would
// not know the packed events).
func TestOpen_UpgradesSchema1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	writeSchema(t, path, 1)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket([]byte("outbox.contexts")) }); err != nil {
		t.Fatal(err)
	}
	db.Close()
	ro, err := state.OpenReadOnly(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if m, err := ro.OutboxContexts(); err != nil || len(m) != 0 {
		t.Fatalf("read-only version 1: contexts %v, %v", m, err)
	}
	ro.Close()
	s, err := state.Open(state.Options{Path: path, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Apply(&state.Commit{Events: [][]byte{[]byte("e")}, Contexts: map[uint64][]byte{7: []byte("c")}}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	viewFile(t, path, func(tx *bolt.Tx) {
		if v := tx.Bucket([]byte("meta")).Get([]byte("schema")); binary.BigEndian.Uint32(v) != state.SchemaVersion || state.SchemaVersion != 3 {
			t.Errorf("schema %x after the upgrade, want %d", v, state.SchemaVersion)
		}
		if tx.Bucket([]byte("outbox.contexts")).Get(binary.BigEndian.AppendUint64(nil, 7)) == nil {
			t.Error("context not stored")
		}
	})
}

// A version 2 file (per-key totals and hourly chunks of per-window counts)
// opens as version 3: its totals are the index, as they were; its chunks
// are dropped and its segments start empty.
func TestOpen_UpgradesSchema2History(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	writeSchema(t, path, 2)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	// The schema 2 layout, as that release wrote it: totals 1 | first |
	// last-first | hits | bytes | windows | anomalies (uvarints), and a
	// chunk bucket keyed hour || key.
	totals := []byte{1}
	for _, v := range []uint64{1_700_000_040, 120, 42, 4200, 3, 1} {
		totals = binary.AppendUvarint(totals, v)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range []string{"history.ip.segments", "history.ip.unfolded"} {
			if err := tx.DeleteBucket([]byte(b)); err != nil {
				return err
			}
		}
		if err := tx.Bucket([]byte("history.ip")).Put([]byte("192.0.2.9"), totals); err != nil {
			return err
		}
		chunks, err := tx.CreateBucket([]byte("history.ip.windows"))
		if err != nil {
			return err
		}
		return chunks.Put(append(binary.BigEndian.AppendUint32(nil, 472_222), "192.0.2.9"...), []byte{1, 1, 0, 2, 100})
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	// A reader (sharkfin state) newer than the agent that wrote the file
	// says so, and leaves the upgrade to the agent.
	if ro, err := state.OpenReadOnly(path, time.Second); !errors.Is(err, state.ErrSchema) || !strings.Contains(err.Error(), "upgrade the agent") {
		if ro != nil {
			ro.Close()
		}
		t.Errorf("read-only open of a version 2 file = %v, want ErrSchema saying to upgrade the agent", err)
	}

	s, err := state.Open(state.Options{Path: path, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	h, ok, err := s.History(state.KindIP, "192.0.2.9")
	if err != nil || !ok || h.Hits != 42 || h.Bytes != 4200 || h.Windows != 3 || h.Anomalies != 1 ||
		h.FirstSeen.Unix() != 1_700_000_040 || h.LastSeen.Unix() != 1_700_000_160 || len(h.Recent) != 0 {
		t.Errorf("upgraded history = %+v, %v, %v", h, ok, err)
	}
	// New windows go to segments and add to the totals.
	if _, err := s.Apply(&state.Commit{History: []state.HistoryUpdate{{Kind: state.KindIP, Key: "192.0.2.9",
		WindowStart: time.Unix(1_700_000_220, 0), Hits: 1, Bytes: 1}}}); err != nil {
		t.Fatal(err)
	}
	if h, _, _ := s.History(state.KindIP, "192.0.2.9"); h.Hits != 43 || h.Windows != 4 || len(h.Recent) != 1 {
		t.Errorf("after a new window: %+v", h)
	}
	s.Close()
	viewFile(t, path, func(tx *bolt.Tx) {
		if v := tx.Bucket([]byte("meta")).Get([]byte("schema")); binary.BigEndian.Uint32(v) != 3 {
			t.Errorf("schema %x after the upgrade, want 3", v)
		}
		if tx.Bucket([]byte("history.ip.windows")) != nil || tx.Bucket([]byte("history.ip.segments")) == nil {
			t.Error("the upgrade kept the chunks or made no segments")
		}
	})
}

// viewFile reads the closed state file at path directly with bbolt, in a
// read-only transaction.
func viewFile(t *testing.T, path string, fn func(tx *bolt.Tx)) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.View(func(tx *bolt.Tx) error { fn(tx); return nil }); err != nil {
		t.Fatal(err)
	}
}
