package state

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestSnapshotConsistent_DetectsConcurrentCommits copies a file slowly
// while a writer in this process commits back to back (without fsync, so
// commits are fast and overlap every copy). Each copy snapshotConsistent
// accepts must be a consistent database; the rejected ones that really are
// inconsistent show that the check is needed.
func TestSnapshotConsistent_DetectsConcurrentCommits(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.db")
	s, err := Open(Options{Path: path, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	// Each commit rewrites every window with its own generation number,
	// so a copy mixing pages of two commits shows mixed generations.
	const keys = 400
	commit := func(gen int) error {
		c := &Commit{Windows: make(map[string][]byte, keys)}
		for k := range keys {
			c.Windows[fmt.Sprintf("w/%03d", k)] = bytes.Repeat([]byte(fmt.Sprintf("%08d", gen)), 25)
		}
		_, err := s.Apply(c)
		return err
	}
	if err := commit(0); err != nil {
		t.Fatal(err)
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for gen := 1; ; gen++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := commit(gen); err != nil {
				t.Error(err)
				return
			}
		}
	}()

	src, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	tmp, err := os.Create(filepath.Join(dir, "copy.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer tmp.Close()

	accepted, rejected, rejectedBad := 0, 0, 0
	deadline := time.Now().Add(time.Second)
	for i := 0; i < 200 && time.Now().Before(deadline); i++ {
		n, err := slowCopy(src, tmp, i%4)
		if err != nil {
			t.Fatal(err)
		}
		ok, err := snapshotConsistent(src, tmp, n)
		if err != nil {
			t.Fatal(err)
		}
		bad := inconsistent(t, tmp.Name())
		switch {
		case ok && bad != "":
			t.Errorf("copy %d accepted but inconsistent: %s", i, bad)
			accepted++
		case ok:
			accepted++
		default:
			rejected++
			if bad != "" {
				rejectedBad++
			}
		}
	}
	close(stop)
	wg.Wait()
	t.Logf("copies accepted %d, rejected %d (of which really inconsistent: %d)", accepted, rejected, rejectedBad)
}

// slowCopy copies src over dst from the start in 16 KiB chunks, pausing
// pause*100µs after each, as a reader on a busy disk would.
func slowCopy(src, dst *os.File, pause int) (int64, error) {
	if err := dst.Truncate(0); err != nil {
		return 0, err
	}
	buf := make([]byte, 16<<10)
	var off int64
	for {
		n, err := src.ReadAt(buf, off)
		if n > 0 {
			if _, werr := dst.WriteAt(buf[:n], off); werr != nil {
				return 0, werr
			}
			off += int64(n)
		}
		if err == io.EOF {
			return off, nil
		}
		if err != nil {
			return 0, err
		}
		time.Sleep(time.Duration(pause) * 100 * time.Microsecond)
	}
}

// inconsistent opens a copied file and returns what is wrong with it, or "".
func inconsistent(t *testing.T, path string) (problem string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := f.Stat()
	err = precheck(f, fi.Size())
	f.Close()
	if err != nil {
		return err.Error()
	}
	db, err := openBolt(path, &bolt.Options{ReadOnly: true})
	if err != nil {
		return err.Error()
	}
	defer db.Close()
	if err := verify(db, false); err != nil {
		return err.Error()
	}
	gens := map[string]bool{}
	if err := db.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketWindows)).ForEach(func(k, v []byte) error {
			gens[string(v[:8])] = true
			return nil
		})
	}); err != nil {
		return err.Error()
	}
	if len(gens) != 1 {
		return fmt.Sprintf("windows of %d different commits", len(gens))
	}
	return ""
}
