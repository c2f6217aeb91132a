package state_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/socx/sharkfin/state"
	"github.com/socx/sharkfin/state/statetest"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// TestOpenReadOnly_BboltSharedLockBlocks records why OpenReadOnly copies:
// bbolt's own read-only open takes a shared flock, which the writer's
// exclusive one refuses.
func TestOpenReadOnly_BboltSharedLockBlocks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	startHelper(t, "hold", path)
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 100 * time.Millisecond})
	if err == nil {
		db.Close()
		t.Skip("this platform let a shared flock through an exclusive one")
	}
	if !errors.Is(err, berrors.ErrTimeout) {
		t.Fatalf("bbolt read-only open = %v, want its lock timeout", err)
	}
}

// TestOpenReadOnly_WhileWriterCommits takes snapshots while another
// process commits as fast as it can, and checks each for consistency.
func TestOpenReadOnly_WhileWriterCommits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	cmd, stop := startHelper(t, "crash", path) // commits back to back

	snapshots := 20
	if testing.Short() {
		snapshots = 5
	}
	var first, prev int64
	for i := range snapshots {
		s, err := state.OpenReadOnly(path, 5*time.Second)
		if err != nil {
			t.Fatalf("snapshot %d: %v", i, err)
		}
		if err := s.Check(); err != nil {
			t.Errorf("snapshot %d: %v", i, err)
		}
		n := verifyWorkload(t, s)
		if _, err := s.Apply(commitLines(n, n+1)); !errors.Is(err, state.ErrReadOnly) {
			t.Errorf("Apply on a snapshot = %v, want ErrReadOnly", err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if n < prev {
			t.Fatalf("snapshot %d has %d lines, an earlier one %d", i, n, prev)
		}
		if i == 0 {
			first = n
		}
		prev = n
		time.Sleep(5 * time.Millisecond)
	}
	stop.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("writer: %v", err)
	}
	if prev == first {
		t.Errorf("the writer made no progress while snapshots were taken (%d lines)", prev)
	}
	t.Logf("snapshots saw %d to %d lines", first, prev)
}

func TestOpenReadOnly_Idle(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // where the snapshot copy goes
	w := statetest.New(t)
	if _, err := w.Apply(commitLines(0, 120)); err != nil {
		t.Fatal(err)
	}
	want := takeSnapshot(t, w.Store)

	r, err := state.OpenReadOnly(w.Path(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
		t.Errorf("snapshot left %d files in TMPDIR", len(entries))
	}
	if got := takeSnapshot(t, r); !reflect.DeepEqual(got, want) {
		t.Errorf("snapshot differs from the store:\n got %+v\nwant %+v", got, want)
	}
	if st := r.Stats(); st.FileSize <= 0 || st.DataSize <= 0 {
		t.Errorf("snapshot stats %+v", st)
	}

	// The snapshot holds no lock: the writer can go on and reopen.
	w.Reopen()
	if _, err := w.Apply(commitLines(120, 130)); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"OutboxDelete": func() error { _, err := r.OutboxDelete(1); return err }(),
		"CachePut":     r.CachePut("c", "k", []byte("v"), 0),
		"Maintain":     func() error { _, err := r.Maintain(); return err }(),
	} {
		if !errors.Is(err, state.ErrReadOnly) {
			t.Errorf("%s on a snapshot = %v, want ErrReadOnly", name, err)
		}
	}
}

func TestOpenReadOnly_Missing(t *testing.T) {
	_, err := state.OpenReadOnly(filepath.Join(t.TempDir(), "none.db"), time.Second)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenReadOnly of a missing file = %v, want ErrNotExist", err)
	}
}

func TestOpenReadOnly_UsesWriterRetention(t *testing.T) {
	w := statetest.NewWithOptions(t, state.Options{NoSync: true, Retention: 10 * time.Minute})
	for _, m := range []int64{0, 5, 15, 20} {
		applyHistory(t, w, state.HistoryUpdate{Kind: state.KindIP, Key: "192.0.2.1", WindowStart: minute(m), Hits: 1})
	}
	r, err := state.OpenReadOnly(w.Path(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	h, ok, err := r.History(state.KindIP, "192.0.2.1")
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if len(h.Recent) != 2 || !h.Recent[0].Start.Equal(minute(15)) || h.Windows != 4 {
		t.Errorf("snapshot history %+v: want the windows of the last 10 minutes of 4", h)
	}
}

func TestOpenReadOnly_TruncatedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	valid := writeValidDB(t, path)
	if err := os.WriteFile(path, truncateData(valid), 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := state.OpenReadOnly(path, 2*time.Second)
	if err == nil || errors.Is(err, state.ErrBusy) || time.Since(start) > time.Second {
		t.Errorf("OpenReadOnly of a truncated file = %v after %v, want a prompt error naming the damage", err, time.Since(start))
	}
}
