package state_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/socx/sharkfin/state"
	"github.com/socx/sharkfin/state/statetest"
	bolt "go.etcd.io/bbolt"
)

// writeValidDB makes a state file at path with enough history records
// ("k-0000".."k-1999") to span many pages, and returns its bytes.
func writeValidDB(t *testing.T, path string) []byte {
	t.Helper()
	s := statetest.NewWithOptions(t, state.Options{Path: path, NoSync: true})
	c := commitLines(0, 500)
	for i := range 2000 {
		c.History = append(c.History, state.HistoryUpdate{
			Kind: state.KindDomain, Key: fmt.Sprintf("k-%04d", i), WindowStart: minute(int64(i)), Hits: 1,
		})
	}
	if _, err := s.Apply(c); err != nil {
		t.Fatal(err)
	}
	maintainAll(t, s) // the domains become keys of the index
	s.MustClose()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// truncateData cuts a state file to a third of its data: the file may end
// in the room bbolt grew it by (zeros), which a cut must go past.
func truncateData(v []byte) []byte {
	return v[:len(bytes.TrimRight(v, "\x00"))/3]
}

func TestOpen_MovesCorruptFileAside(t *testing.T) {
	tests := []struct {
		name  string
		spoil func(valid []byte) []byte
	}{
		{"garbage", func([]byte) []byte {
			b := make([]byte, 64<<10)
			rng := rand.New(rand.NewPCG(3, 4))
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			return b
		}},
		{"shorter than a page", func([]byte) []byte { return []byte("not a database\n") }},
		{"truncated", truncateData},
		{"both meta pages zeroed", func(v []byte) []byte {
			clear(v[:2*os.Getpagesize()])
			return v
		}},
		{"pages zeroed", func(v []byte) []byte {
			// Valid meta pages, zeroed tree pages: the writable open
			// rebuilds the free list by walking the tree in a goroutine of
			// bbolt's, where this is a crash unless checked first.
			clear(v[2*os.Getpagesize():])
			return v
		}},
		{"keys out of order", func(v []byte) []byte {
			// Rename a key in place to one that sorts after its
			// neighbours: the pages stay readable, the B-tree is wrong.
			n := bytes.Count(v, []byte("k-1000"))
			if n == 0 {
				t.Fatal("key k-1000 not found in the file")
			}
			return bytes.ReplaceAll(v, []byte("k-1000"), []byte("k-9999"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.db")
			bad := tt.spoil(writeValidDB(t, path))
			if err := os.WriteFile(path, bad, 0o600); err != nil {
				t.Fatal(err)
			}

			logs := &countHandler{}
			before := time.Now().Unix()
			s := statetest.NewWithOptions(t, state.Options{Path: path, NoSync: true, Logger: slog.New(logs)})

			moved := s.Recovered()
			if !strings.HasPrefix(moved, path+".corrupt-") {
				t.Fatalf("Recovered() = %q, want %s.corrupt-<unix time>", moved, path)
			}
			var ts int64
			if _, err := fmt.Sscanf(strings.TrimPrefix(moved, path+".corrupt-"), "%d", &ts); err != nil || ts < before || ts > time.Now().Unix() {
				t.Errorf("moved to %s: not the current Unix time", moved)
			}
			if got, err := os.ReadFile(moved); err != nil || !bytes.Equal(got, bad) {
				t.Errorf("moved file differs from the corrupt one (%v)", err)
			}
			if logs.errors.Load() != 1 {
				t.Errorf("%d error records naming moved_to, want 1", logs.errors.Load())
			}

			// The new store starts empty and works.
			if n := verifyWorkload(t, s.Store); n != 0 {
				t.Errorf("fresh store has %d lines", n)
			}
			if _, err := s.Apply(commitLines(0, 10)); err != nil {
				t.Fatal(err)
			}
			s.Reopen()
			if s.Recovered() != "" {
				t.Errorf("Recovered() = %q on the next, healthy open", s.Recovered())
			}
			verifyWorkload(t, s.Store)
		})
	}
}

func TestOpen_SecondRecoveryGetsItsOwnName(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	var names []string
	for range 2 {
		if err := os.WriteFile(path, []byte("garbage"), 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := state.Open(state.Options{Path: path, NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, s.Recovered())
		s.Close()
	}
	if names[0] == names[1] {
		t.Errorf("two recoveries moved to the same name %s", names[0])
	}
	for _, n := range names {
		if _, err := os.Stat(n); err != nil {
			t.Error(err)
		}
	}
}

func TestOpen_AccessErrorsAreNotCorruption(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.db")
	if err := os.Mkdir(path, 0o700); err != nil { // a directory where the file should be
		t.Fatal(err)
	}
	if s, err := state.Open(state.Options{Path: path}); err == nil {
		s.Close()
		t.Fatal("Open of a directory succeeded")
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 || entries[0].Name() != "state.db" {
		t.Errorf("directory after a failed Open: %v %v", entries, err)
	}
}

func TestOpen_NewerSchemaIsRefused(t *testing.T) {
	// This package cannot write a newer schema: forge one with bbolt.
	path := filepath.Join(t.TempDir(), "state.db")
	writeSchema(t, path, state.SchemaVersion+1)
	_, err := state.Open(state.Options{Path: path, NoSync: true})
	if !errors.Is(err, state.ErrSchema) {
		t.Fatalf("Open = %v, want ErrSchema", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the file was moved: %v", err)
	}
	if _, err := state.OpenReadOnly(path, time.Second); !errors.Is(err, state.ErrSchema) {
		t.Errorf("OpenReadOnly = %v, want ErrSchema", err)
	}
}

// writeSchema creates a state file and sets its schema version to v.
func writeSchema(t *testing.T, path string, v uint32) {
	t.Helper()
	s, err := state.Open(state.Options{Path: path, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("meta")).Put([]byte("schema"), binary.BigEndian.AppendUint32(nil, v))
	}); err != nil {
		t.Fatal(err)
	}
}

// A read-only open (sharkfin state) of a file whose root page is damaged
// fails with an error; it does not crash on the damaged page.
func TestOpenReadOnly_DamagedRootPage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	v := writeValidDB(t, path)
	ps := int(binary.LittleEndian.Uint32(v[16+8:])) // the meta's page size
	for m := range 2 {
		root := binary.LittleEndian.Uint64(v[m*ps+32:])
		binary.LittleEndian.PutUint16(v[int(root)*ps+8:], 0x77) // bogus page flags
	}
	if err := os.WriteFile(path, v, 0o600); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("OpenReadOnly panicked: %v", r)
		}
	}()
	s, err := state.OpenReadOnly(path, 2*time.Second)
	if err == nil {
		s.Close()
		t.Fatal("OpenReadOnly of a damaged file succeeded")
	}
}
