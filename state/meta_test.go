package state

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestReadMeta_MatchesBolt compares readMeta with what bbolt itself reports
// for a file after some commits, with either meta page damaged.
func TestReadMeta_MatchesBolt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 7 {
		if err := db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("b"))
			if err != nil {
				return err
			}
			return b.Put([]byte{byte(i)}, make([]byte, 3000))
		}); err != nil {
			t.Fatal(err)
		}
	}
	var txid int
	var size int64
	db.View(func(tx *bolt.Tx) error {
		txid, size = tx.ID(), tx.Size()
		return nil
	})
	db.Close()

	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ps := os.Getpagesize()
	tests := []struct {
		name     string
		damage   func(b []byte)
		wantTxid int
	}{
		{"intact", func([]byte) {}, txid},
		{"newest meta damaged", func(b []byte) { b[(txid%2)*ps+pageHeaderSize+20] ^= 0xff }, txid - 1},
		{"meta 0 damaged", func(b []byte) { b[pageHeaderSize] ^= 0xff }, txid - 1 + txid%2}, // meta 1 holds the odd txid,
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := append([]byte(nil), raw...)
			tt.damage(b)
			f := filepath.Join(t.TempDir(), "y.db")
			if err := os.WriteFile(f, b, 0o600); err != nil {
				t.Fatal(err)
			}
			fh, err := os.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			defer fh.Close()
			m, err := readMeta(fh, int64(len(b)))
			if err != nil {
				t.Fatal(err)
			}
			if int(m.txid) != tt.wantTxid || int(m.pageSize) != ps {
				t.Errorf("readMeta: txid %d page size %d, want %d %d", m.txid, m.pageSize, tt.wantTxid, ps)
			}
			// bbolt picks the same meta.
			db, err := bolt.Open(f, 0o600, &bolt.Options{ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			db.View(func(tx *bolt.Tx) error {
				if tx.ID() != int(m.txid) {
					t.Errorf("bbolt uses txid %d, readMeta %d", tx.ID(), m.txid)
				}
				if tt.name == "intact" && tx.Size() != m.dataSize() || m.dataSize() > size {
					t.Errorf("bbolt size %d, readMeta %d", tx.Size(), m.dataSize())
				}
				return nil
			})
		})
	}
}

func TestReadMeta_NotBolt(t *testing.T) {
	f := filepath.Join(t.TempDir(), "x")
	if err := os.WriteFile(f, make([]byte, 64<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	fh, err := os.Open(f)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	if _, err := readMeta(fh, 64<<10); !errors.Is(err, errNoMeta) {
		t.Errorf("readMeta of zeros = %v, want errNoMeta", err)
	}
}

// TestOpenBolt_FaultBecomesError hands bbolt a truncated file past the
// pre-check: reading pages beyond the end of the file raises SIGBUS, which
// must come back as errCorrupt instead of killing the process.
func TestOpenBolt_FaultBecomesError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	s, err := Open(Options{Path: path, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	c := &Commit{Windows: map[string][]byte{}}
	for i := range 300 {
		c.Windows[string(rune('a'+i%26))+string(rune(i))] = make([]byte, 1000)
	}
	if _, err := s.Apply(c); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := os.Truncate(path, int64(4*os.Getpagesize())); err != nil {
		t.Fatal(err)
	}

	// Read-only, as checkFirst opens it: a writable open would rebuild
	// the free list (NoFreelistSync) in a goroutine of bbolt's, where the
	// fault is a crash.
	db, err := openBolt(path, &bolt.Options{ReadOnly: true})
	if err == nil {
		err = verify(db, false)
		db.Close()
	}
	if !errors.Is(err, errCorrupt) {
		t.Fatalf("open and verify of a truncated file = %v, want errCorrupt", err)
	}
	t.Log(err)
}
