package state_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/socx/sharkfin/state"
	"github.com/socx/sharkfin/state/statetest"
	bolt "go.etcd.io/bbolt"
)

// A damaged checkpoint is skipped and reported, naming its file and
// input; the others are read, and the store opens (one bad record once
// kept the agent from starting). The next commit of its file rewrites it.
func TestCheckpoints_DamagedRecordSkipped(t *testing.T) {
	s := statetest.New(t)
	for i := uint64(1); i <= 3; i++ {
		if _, err := s.Apply(&state.Commit{Checkpoints: []state.Checkpoint{{Path: "/var/log/a.log", Dev: 1, Ino: i, Offset: 10, Input: "web"}}}); err != nil {
			t.Fatal(err)
		}
	}
	path := s.Path()
	s.MustClose()
	updateFile(t, path, func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("checkpoints"))
		k, _ := b.Cursor().First()
		return b.Put(slices.Clone(k), []byte{1, 0, 0})
	})
	s.Reopen()
	cks, damaged, err := s.Checkpoints()
	if err != nil || len(cks) != 2 || cks[0].Ino != 2 || len(damaged) != 1 || !strings.Contains(damaged[0].Error(), `input "web": checkpoint 1:1`) {
		t.Fatalf("Checkpoints: %+v, damaged %v, %v; want inodes 2 and 3, and 1:1 of web damaged", cks, damaged, err)
	}
	if _, err := s.Apply(&state.Commit{Checkpoints: []state.Checkpoint{{Path: "/var/log/a.log", Dev: 1, Ino: 1, Offset: 20, Input: "web"}}}); err != nil {
		t.Fatal(err)
	}
	if cks, damaged, err := s.Checkpoints(); err != nil || len(cks) != 3 || len(damaged) != 0 || cks[0].Offset != 20 {
		t.Errorf("after a commit of its file: %+v, damaged %v, %v; want 3, the first at offset 20", cks, damaged, err)
	}

	// Records no commit rewrites (a damaged key; a file or input gone)
	// are removed by DropDamagedCheckpoints, and only they.
	s.MustClose()
	updateFile(t, path, func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("checkpoints"))
		if err := b.Put([]byte{0, 0, 1}, []byte{1}); err != nil {
			return err
		}
		k, _ := b.Cursor().First() // a real one: {0,0,1} sorts after them
		return b.Put(slices.Clone(k), []byte{9, 9})
	})
	s.Reopen()
	if _, damaged, _ := s.Checkpoints(); len(damaged) != 2 {
		t.Fatalf("damaged %v, want 2", damaged)
	}
	if n, err := s.DropDamagedCheckpoints(); n != 2 || err != nil {
		t.Fatalf("DropDamagedCheckpoints: %d, %v; want 2", n, err)
	}
	s.Reopen()
	if cks, damaged, err := s.Checkpoints(); err != nil || len(cks) != 2 || len(damaged) != 0 {
		t.Errorf("after the drop: %+v, damaged %v, %v; want the 2 good ones", cks, damaged, err)
	}
}
