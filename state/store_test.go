package state_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/socx/sharkfin/state"
	"github.com/socx/sharkfin/state/statetest"
)

func TestOpen_CreatesPrivateFileAndDirs(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "var", "lib", "sharkfin")
	s := statetest.NewWithOptions(t, state.Options{Path: filepath.Join(dir, "state.db"), NoSync: true})

	for path, want := range map[string]os.FileMode{dir: 0o700 | os.ModeDir, s.Path(): 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode(), want)
		}
	}
	if s.Recovered() != "" {
		t.Errorf("Recovered() = %q for a new file", s.Recovered())
	}
}

func TestOpen_TightensFileMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil { // past the umask
		t.Fatal(err)
	}
	statetest.NewWithOptions(t, state.Options{Path: path, NoSync: true})
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
}

func TestOpen_NoPath(t *testing.T) {
	if _, err := state.Open(state.Options{}); err == nil {
		t.Fatal("Open without a path succeeded")
	}
}

func TestOpen_LockedInProcess(t *testing.T) {
	s := statetest.New(t)
	start := time.Now()
	s2, err := state.Open(state.Options{Path: s.Path(), Timeout: 100 * time.Millisecond})
	if err == nil {
		s2.Close()
		t.Fatal("second Open of the same file in one process succeeded")
	}
	if !errors.Is(err, state.ErrLocked) {
		t.Fatalf("err = %v, want ErrLocked", err)
	}
	if d := time.Since(start); d < 100*time.Millisecond || d > time.Second {
		t.Errorf("failed after %v, want about the 100ms timeout", d)
	}
}

// TestOpen_LockedByProcess holds the file in a child process, as a running
// agent would, and checks that Open fails fast, naming the child.
func TestOpen_LockedByProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	cmd, stop := startHelper(t, "hold", path)

	const timeout = 300 * time.Millisecond
	start := time.Now()
	s, err := state.Open(state.Options{Path: path, Timeout: timeout})
	elapsed := time.Since(start)
	if err == nil {
		s.Close()
		t.Fatal("Open succeeded while another process holds the file")
	}
	if !errors.Is(err, state.ErrLocked) {
		t.Fatalf("err = %v, want ErrLocked", err)
	}
	if elapsed < timeout || elapsed > timeout+time.Second {
		t.Errorf("failed after %v, want about %v", elapsed, timeout)
	}
	for _, want := range []string{path, fmt.Sprintf("pid %d", cmd.Process.Pid)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}

	stop.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v", err)
	}
	s, err = state.Open(state.Options{Path: path, NoSync: true})
	if err != nil {
		t.Fatalf("Open after the holder exited: %v", err)
	}
	s.Close()
}

// TestStore_CrashResumesExactly kills a writing process at random moments
// and checks after each kill that the file holds exactly the effect of a
// whole number of commits: the checkpoint, the windows, the outbox and the
// history all agree on the same line count.
func TestStore_CrashResumesExactly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	rounds := 6
	if testing.Short() {
		rounds = 3
	}
	var prev int64
	for round := range rounds {
		cmd, _ := startHelper(t, "crash", path)
		time.Sleep(time.Duration(rand.IntN(40)) * time.Millisecond)
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()

		s := statetest.NewWithOptions(t, state.Options{Path: path})
		n := verifyWorkload(t, s.Store)
		s.MustClose()
		t.Logf("round %d: %d lines committed", round, n)
		if n <= prev {
			t.Fatalf("round %d: %d lines committed, %d before: no progress or lost commits", round, n, prev)
		}
		prev = n
	}
}

func TestStore_Stats(t *testing.T) {
	for _, noSync := range []bool{false, true} {
		t.Run(fmt.Sprintf("NoSync=%v", noSync), func(t *testing.T) {
			s := statetest.NewWithOptions(t, state.Options{NoSync: noSync})
			for n := range int64(5) {
				if _, err := s.Apply(commitLines(n*10, n*10+10)); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := s.Apply(&state.Commit{Events: [][]byte{{}}}); err == nil {
				t.Fatal("empty event accepted")
			}
			st := s.Stats()
			wantSyncs := uint64(10)
			if noSync {
				wantSyncs = 0
			}
			if st.Commits != 5 || st.Failed != 1 || st.Syncs != wantSyncs {
				t.Errorf("Commits %d Failed %d Syncs %d, want 5 1 %d", st.Commits, st.Failed, st.Syncs, wantSyncs)
			}
			if st.CommitTime <= 0 || st.LastCommit <= 0 || st.MaxCommit < st.LastCommit || st.MaxCommit > st.CommitTime {
				t.Errorf("commit times total %v last %v max %v", st.CommitTime, st.LastCommit, st.MaxCommit)
			}
			if st.FileSize < st.DataSize || st.DataSize <= 0 {
				t.Errorf("FileSize %d DataSize %d", st.FileSize, st.DataSize)
			}
		})
	}
}

// countHandler counts log records at error level that carry moved_to.
type countHandler struct{ errors atomic.Int32 }

func (h *countHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *countHandler) WithGroup(string) slog.Handler            { return h }
func (h *countHandler) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if r.Level == slog.LevelError && a.Key == "moved_to" {
			h.errors.Add(1)
		}
		return true
	})
	return nil
}
