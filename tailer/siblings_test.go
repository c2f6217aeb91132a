package tailer

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestIsRotatedName(t *testing.T) {
	for _, c := range []struct {
		base, name string
		want       bool
	}{
		{"app.log", "app.log.1", true},
		{"app.log", "app.log.2.gz", true},
		{"app.log", "app.log-20241206", true},
		{"app.log", "app.log-1733490000", true},
		{"app.log", "app.log_old", true},
		{"app.log", "app.1.log", true},                       // extension .log
		{"app.log", "app-20241206.log", true},                // extension .log, dateext
		{"app.log", "app-2024-12-06.log.gz", true},           // and compress
		{"app.log", "app-2024-12-06T10-00-00.000.log", true}, // lumberjack
		{"messages", "messages.1", true},
		{"messages", "messages-20241206", true},
		{"app.log", "app.log", false},
		{"app.log", "app.logs", false},
		{"app.log", "app-audit.log", false},
		{"app.log", "app.err.log", false},
		{"app.log", "app.err.log.1", false},
		{"app.log", "app2.log", false},
		{"app.log", "app.1.log2", false},
		{"app.log", "app.1x.log", true}, // a date with letters
		{"app.log", "app.1.log.pos", false},
		{"app.log", "app.1 .log", false},
		{"messages", "messages2", false},
	} {
		if got := isRotatedName(c.base, c.name); got != c.want {
			t.Errorf("isRotatedName(%q, %q) = %v, want %v", c.base, c.name, got, c.want)
		}
	}
}

// copyTruncate rotates path as logrotate's copytruncate does: its content
// copied to path.1, then emptied.
func copyTruncate(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".1", data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
}

// Files beside a followed one that share the start of its name are other
// logs, not generations it missed: app-audit.log (not followed, written
// meanwhile) is never read, and app.err.log's copy is read once, by
// app.err.log's own truncation, not by app.log's check for missed
// generations. Both followed files are rotated while the tailer is
// paused, so each check sees the other's copy.
func TestTailer_NeighboursAreNotGenerations(t *testing.T) {
	for _, poll := range []bool{false, true} {
		t.Run(fmt.Sprintf("poll=%v", poll), func(t *testing.T) {
			dir := t.TempDir()
			app := filepath.Join(dir, "app.log")
			errl := filepath.Join(dir, "app.err.log")
			audit := filepath.Join(dir, "app-audit.log")
			appendFile(t, app, "app 1\n")
			appendFile(t, errl, "err 1\nerr 2\n")
			appendFile(t, audit, "audit 1\n")
			r := startTailer(t, testConfig(poll, app, errl), nil, nil)
			waitFor(t, 5*time.Second, "the first lines", func() bool { return r.c.count() == 3 })

			r.t.Pause()
			appendFile(t, audit, "audit 2\n")
			copyTruncate(t, errl)
			copyTruncate(t, app)
			appendFile(t, app, "app 2\n")
			appendFile(t, errl, "err 3\n")
			r.t.Resume()
			// Missed generations are read before the file that missed
			// them: once the last lines are in, any would be too.
			waitFor(t, 5*time.Second, "the lines written after the rotations", func() bool {
				got := r.c.snapshot()
				return slices.Contains(got, "app 2") && slices.Contains(got, "err 3")
			})
			got := r.c.snapshot()
			slices.Sort(got)
			want := []string{"app 1", "app 2", "err 1", "err 2", "err 3"}
			if !slices.Equal(got, want) {
				t.Errorf("lines %q, want %q (each once, none from app-audit.log)", got, want)
			}
			if st := r.t.Stats().Totals; st.Missed != 0 {
				t.Errorf("%d missed generations counted, want 0", st.Missed)
			}
		})
	}
}

// runnerFor returns a runner for paths, started (files adopted) but not
// running: the test drives it.
func runnerFor(t *testing.T, paths ...string) *runner {
	t.Helper()
	tl, err := New(testConfig(true, paths...), nil, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	r := newRunner(tl)
	r.start()
	t.Cleanup(r.close)
	return r
}

func followedAt(r *runner, path string) (int64, bool) {
	for _, fl := range r.files {
		if fl.path == path && !fl.closed {
			return fl.offset, true
		}
	}
	return 0, false
}

// A truncation whose copy is not there yet is remembered; when the copy
// shows up while the emptied file already has new content, the check that
// finds it leaves it to the first content's check, which must still know
// where the truncated generation was left.
func TestRunner_RetiredCopyAfterFirstContent(t *testing.T) {
	dir := t.TempDir()
	app := filepath.Join(dir, "app.log")
	appendFile(t, app, "A1\nA2\n")
	r := runnerFor(t, app)
	fl := r.byPath[app]
	if fl == nil {
		t.Fatal("app.log not followed")
	}
	fl.offset = 3 // "A1\n" delivered
	old, err := os.ReadFile(app)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(app, 0); err != nil {
		t.Fatal(err)
	}
	r.truncated(fl) // no copy yet
	if err := os.WriteFile(app+".1", old, 0o644); err != nil {
		t.Fatal(err)
	}
	appendFile(t, app, "B1\n")
	r.recheck() // finds the copy, puts it down: app.log has content
	r.firstContent(fl)
	if off, ok := followedAt(r, app+".1"); !ok || off != 3 {
		t.Errorf("copy of the truncated generation followed=%v from %d, want from 3 (A2 not lost)", ok, off)
	}
}

// The memory of files let go is by inode number, which the file system
// gives to the next new file: a missed generation that got the number of
// a file let go is still read; the file let go itself is not read again.
func TestRunner_ReusedInodeOfDroppedFile(t *testing.T) {
	for _, reused := range []bool{true, false} {
		t.Run(fmt.Sprintf("reused=%v", reused), func(t *testing.T) {
			dir := t.TempDir()
			app := filepath.Join(dir, "app.log")
			appendFile(t, app, "A1\n")
			r := runnerFor(t, app)
			fl := r.byPath[app]
			fl.offset = 3
			// A generation rotated away unseen, whose inode number was a
			// file let go before.
			appendFile(t, app+".1", "X1\n")
			f, fi, err := open(app+".1", inode{})
			if err != nil {
				t.Fatal(err)
			}
			id, err := r.pr.identify(f, fi)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			if reused {
				id.Fingerprint ^= 1 // the file let go had other content
			}
			r.dropped.add(Checkpoint{Path: app + ".old", ID: id, Offset: 3})
			if err := os.Truncate(app, 0); err != nil {
				t.Fatal(err)
			}
			r.truncated(fl)
			off, ok := followedAt(r, app+".1")
			if reused && (!ok || off != 0) {
				t.Errorf("missed generation on a reused inode: followed=%v from %d, want from 0", ok, off)
			}
			if !reused && ok {
				t.Errorf("the file let go is read again (from %d)", off)
			}
		})
	}
}

// Starting on a directory of many files reads it a few times, not once
// per file (each file's sibling note used to list the directory anew).
func TestRunner_StartReadsDirectoryOnce(t *testing.T) {
	dir := t.TempDir()
	const n = 500
	for i := range n {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("pod-%04d.log", i)), []byte("x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := runnerFor(t, filepath.Join(dir, "*.log"))
	if len(r.files) != n {
		t.Fatalf("%d files followed, want %d", len(r.files), n)
	}
	if r.listings.misses > 4 {
		t.Errorf("the directory was read %d times for %d files, want a few", r.listings.misses, n)
	}
}

// A listing read in the clock tick of the directory's last change is not
// reused: a file created later in that tick (a copytruncate copy) leaves
// the directory's stamp as it was, and a reused listing would miss it and
// lose the lines the copy holds. The same tick is forged with Chtimes.
func TestRunner_FreshListingNotReused(t *testing.T) {
	dir := t.TempDir()
	app := filepath.Join(dir, "app.log")
	appendFile(t, app, "A1\nA2\n")
	r := runnerFor(t, app) // lists the directory, changed just now
	fl := r.byPath[app]
	fl.offset = 3 // "A1\n" delivered
	fi0, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile(app)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(app+".1", old, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(dir, fi0.ModTime(), fi0.ModTime()); err != nil {
		t.Fatal(err)
	}
	if fi1, _ := os.Stat(dir); fi1.Size() != fi0.Size() {
		t.Skipf("directory size changed (%d -> %d): the stamp cannot be forged here", fi0.Size(), fi1.Size())
	}
	if err := os.Truncate(app, 0); err != nil {
		t.Fatal(err)
	}
	appendFile(t, app, "B1\n")
	r.truncated(fl)
	if off, ok := followedAt(r, app+".1"); !ok || off != 3 {
		t.Errorf("copy followed=%v from %d, want from 3 (A2 not lost)", ok, off)
	}
}

// A missed generation that starts like another followed file's short
// current generation (a header line, all that file holds yet) is still
// read: a few shared bytes do not make a copy.
func TestRunner_ShortNeighbourDoesNotHideMissedGeneration(t *testing.T) {
	dir := t.TempDir()
	app := filepath.Join(dir, "app.log")
	other := filepath.Join(dir, "other.log")
	const hdr = "ts,level,msg\n"
	appendFile(t, app, hdr+"A1\n")
	appendFile(t, other, hdr)
	r := runnerFor(t, app, other)
	fl := r.byPath[app]
	fl.offset = int64(len(hdr) + 3) // all read
	// Two copytruncates between looks: generation 1 to app.log.2, and
	// generation 2, never seen, to app.log.1.
	old, err := os.ReadFile(app)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(app+".2", old, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(app+".1", []byte(hdr+"A2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(app, 0); err != nil {
		t.Fatal(err)
	}
	r.truncated(fl)
	if off, ok := followedAt(r, app+".1"); !ok || off != 0 {
		t.Errorf("missed generation app.log.1 followed=%v from %d, want from 0 (A2)", ok, off)
	}
}

// A restart finds a checkpointed file renamed while the agent was down,
// under a rotated name that keeps the extension (lumberjack), or under a
// name that follows no scheme but starts like it: by inode, and resumes
// it where it was left.
func TestRunner_ResumeRenamed(t *testing.T) {
	for _, name := range []string{"app-2024-12-06T10-00-00.000.log", "app_backup.log", "app.log.1"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			app := filepath.Join(dir, "app.log")
			appendFile(t, app, "a\nb\n")
			first := runnerFor(t, app)
			fl := first.byPath[app]
			fl.offset = 4
			ck := fl.checkpoint()
			appendFile(t, app, "c\n")
			if err := os.Rename(app, filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
			appendFile(t, app, "d\n")
			tl, err := New(testConfig(true, app), []Checkpoint{ck}, testLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			r := newRunner(tl)
			r.start()
			t.Cleanup(r.close)
			if off, ok := followedAt(r, filepath.Join(dir, name)); !ok || off != 4 {
				t.Errorf("renamed file followed=%v from %d, want from 4 (c not lost)", ok, off)
			}
		})
	}
}
