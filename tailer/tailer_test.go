package tailer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// linesEqual waits until the collector holds want, then checks that
// nothing else arrives.
func linesEqual(tb testing.TB, c *collector, want ...string) {
	tb.Helper()
	waitFor(tb, 3*time.Second, "lines", func() bool { return c.count() >= len(want) })
	time.Sleep(150 * time.Millisecond)
	if got := c.snapshot(); !slices.Equal(got, want) {
		tb.Fatalf("delivered %q, want %q", abbreviate(got), abbreviate(want))
	}
}

func abbreviate(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		if len(l) > 40 {
			l = l[:40] + "..."
		}
		out[i] = l
	}
	return out
}

func TestTailer_Follow(t *testing.T) {
	cases := []struct {
		name string
		run  func(t *testing.T, poll bool, dir string)
	}{
		{"partial_line_waits", func(t *testing.T, poll bool, dir string) {
			log := filepath.Join(dir, "a.log")
			appendFile(t, log, "one\ntw")
			r := startTailer(t, testConfig(poll, log), nil, nil)
			linesEqual(t, r.c, "one")
			appendFile(t, log, "o") // the writer pauses mid-line
			time.Sleep(200 * time.Millisecond)
			appendFile(t, log, "\nthree\n")
			linesEqual(t, r.c, "one", "two", "three")
		}},
		{"long_lines_skipped", func(t *testing.T, poll bool, dir string) {
			log := filepath.Join(dir, "a.log")
			appendFile(t, log, "short1\n"+strings.Repeat("x", 150)+"\nshort2\n")
			cfg := testConfig(poll, log)
			cfg.MaxLineBytes = 100
			r := startTailer(t, cfg, nil, nil)
			linesEqual(t, r.c, "short1", "short2")
			// A line bigger than the read buffer, written in pieces.
			for range 6 {
				appendFile(t, log, strings.Repeat("y", 512<<10))
				time.Sleep(20 * time.Millisecond)
			}
			appendFile(t, log, "\nshort3\n")
			linesEqual(t, r.c, "short1", "short2", "short3")
			if st := r.t.Stats(); st.Totals.TooLong != 2 {
				t.Errorf("TooLong = %d, want 2", st.Totals.TooLong)
			}
		}},
		{"binary_passed_through", func(t *testing.T, poll bool, dir string) {
			log := filepath.Join(dir, "a.log")
			junk := "\x00\xff\xfe bin\x01"
			invalid := "caf\xc3\x28 \xed\xa0\x80"
			appendFile(t, log, junk+"\n"+invalid+"\n\n")
			r := startTailer(t, testConfig(poll, log), nil, nil)
			linesEqual(t, r.c, junk, invalid, "")
		}},
		{"start_at_end", func(t *testing.T, poll bool, dir string) {
			log := filepath.Join(dir, "a.log")
			appendFile(t, log, "old1\nold2\nhalf")
			cfg := testConfig(poll, log)
			cfg.StartAt = StartAtEnd
			r := startTailer(t, cfg, nil, nil) // returns once Ready: the start position is taken
			appendFile(t, log, " line\nnew\n")
			linesEqual(t, r.c, "half line", "new")
		}},
		{"file_appears_later", func(t *testing.T, poll bool, dir string) {
			cfg := testConfig(poll, filepath.Join(dir, "*.log"))
			cfg.StartAt = StartAtEnd           // not for files that appear later
			r := startTailer(t, cfg, nil, nil) // returns once Ready: the directory is watched
			appendFile(t, filepath.Join(dir, "b.log"), "b1\nb2\n")
			linesEqual(t, r.c, "b1", "b2")
		}},
		{"excluded_never_read", func(t *testing.T, poll bool, dir string) {
			appendFile(t, filepath.Join(dir, "a.log.1.gz"), "gz\n")
			appendFile(t, filepath.Join(dir, "a.log"), "a\n")
			r := startTailer(t, testConfig(poll, filepath.Join(dir, "a.log*")), nil, nil)
			linesEqual(t, r.c, "a")
		}},
		{"deleted_drained_then_dropped", func(t *testing.T, poll bool, dir string) {
			log := filepath.Join(dir, "a.log")
			f, err := os.OpenFile(log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			f.WriteString("1\n")
			r := startTailer(t, testConfig(poll, log), nil, nil)
			linesEqual(t, r.c, "1")
			if err := os.Remove(log); err != nil {
				t.Fatal(err)
			}
			f.WriteString("2\n") // the writer has not noticed yet
			time.Sleep(100 * time.Millisecond)
			f.WriteString("3\n")
			linesEqual(t, r.c, "1", "2", "3")
			waitFor(t, 3*time.Second, "file dropped", func() bool {
				return len(r.c.checkpoints()) == 0
			})
		}},
		{"symlink_followed", func(t *testing.T, poll bool, dir string) {
			real := filepath.Join(dir, "real")
			os.Mkdir(real, 0o755)
			target := filepath.Join(real, "target.log")
			appendFile(t, target, "t1\n")
			link := filepath.Join(dir, "link.log")
			if err := os.Symlink(target, link); err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			var paths []string
			c := &collector{onBatch: func(b *Batch) {
				mu.Lock()
				paths = append(paths, b.Path)
				mu.Unlock()
			}}
			startTailer(t, testConfig(poll, link), nil, c)
			linesEqual(t, c, "t1")
			appendFile(t, target, "t2\n")
			linesEqual(t, c, "t1", "t2")
			// The target rotates; the link keeps its name.
			if err := os.Rename(target, target+".1"); err != nil {
				t.Fatal(err)
			}
			appendFile(t, target, "n1\n")
			linesEqual(t, c, "t1", "t2", "n1")
			mu.Lock()
			defer mu.Unlock()
			for _, p := range paths {
				if p != link {
					t.Errorf("batch path %s, want %s", p, link)
				}
			}
		}},
		{"path_replaced_by_directory", func(t *testing.T, poll bool, dir string) {
			a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
			appendFile(t, a, "a1\n")
			appendFile(t, b, "b1\n")
			r := startTailer(t, testConfig(poll, filepath.Join(dir, "*.log")), nil, nil)
			waitFor(t, 2*time.Second, "first lines", func() bool { return r.c.count() == 2 })
			os.Remove(a)
			if err := os.Mkdir(a, 0o755); err != nil {
				t.Fatal(err)
			}
			appendFile(t, b, "b2\n")
			waitFor(t, 3*time.Second, "b2 and an error for a.log", func() bool {
				return r.c.count() == 3 && errorsOf(r.t.Stats(), a) > 0
			})
			time.Sleep(500 * time.Millisecond) // rescans: the error is not logged again, nothing breaks
			appendFile(t, b, "b3\n")
			waitFor(t, 2*time.Second, "b3", func() bool { return r.c.count() == 4 })
		}},
		{"truncated_in_place", func(t *testing.T, poll bool, dir string) {
			log := filepath.Join(dir, "a.log")
			appendFile(t, log, "first line\nsecond line\n")
			r := startTailer(t, testConfig(poll, log), nil, nil)
			linesEqual(t, r.c, "first line", "second line")
			if err := os.Truncate(log, 0); err != nil {
				t.Fatal(err)
			}
			appendFile(t, log, "x\n")
			linesEqual(t, r.c, "first line", "second line", "x")
			if st := r.t.Stats(); st.Totals.Truncations != 1 {
				t.Errorf("Truncations = %d, want 1", st.Totals.Truncations)
			}
		}},
		{"truncated_and_regrown_before_looked_at", func(t *testing.T, poll bool, dir string) {
			log := filepath.Join(dir, "a.log")
			appendFile(t, log, "aaaa\nbbbb\n")
			cfg := testConfig(poll, log)
			cfg.PollInterval = time.Second
			r := startTailer(t, cfg, nil, nil)
			linesEqual(t, r.c, "aaaa", "bbbb")
			// Rewritten longer than before within one poll interval: only
			// the leading bytes show it.
			if err := os.WriteFile(log, []byte("cccc\ndddd\neeee\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 3*time.Second, "rewritten lines", func() bool { return r.c.count() >= 5 })
			linesEqual(t, r.c, "aaaa", "bbbb", "cccc", "dddd", "eeee")
		}},
		{"pause_resume", func(t *testing.T, poll bool, dir string) {
			log := filepath.Join(dir, "a.log")
			appendFile(t, log, "1\n")
			r := startTailer(t, testConfig(poll, log), nil, nil)
			linesEqual(t, r.c, "1")
			r.t.Pause()
			appendFile(t, log, "2\n")
			time.Sleep(300 * time.Millisecond)
			if n := r.c.count(); n != 1 {
				t.Fatalf("delivered %d lines while paused", n)
			}
			r.t.Resume()
			linesEqual(t, r.c, "1", "2")
		}},
	}
	for _, m := range modes() {
		for _, tc := range cases {
			t.Run(m.name+"/"+tc.name, func(t *testing.T) {
				tc.run(t, m.poll, t.TempDir())
			})
		}
	}
}

func errorsOf(st Stats, path string) uint64 {
	for _, f := range st.Files {
		if f.Path == path {
			return f.Errors
		}
	}
	return 0
}

func TestTailer_RunContract(t *testing.T) {
	dir := t.TempDir()
	tl, err := New(testConfig(false, filepath.Join(dir, "*.log")), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tl.Run(ctx, make(chan *Batch)) }()
	select {
	case <-tl.Ready():
	case <-time.After(3 * time.Second):
		t.Fatal("Run not ready")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run on cancel = %v, want nil", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Run did not return on cancel")
	}
	if err := tl.Run(context.Background(), nil); err == nil {
		t.Error("second Run succeeded")
	}
}

func TestConfig_Validate(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"defaults", Config{Name: "web", Paths: []string{"/var/log/*.log"}}, true},
		{"no_paths", Config{Name: "web"}, false},
		{"bad_glob", Config{Name: "web", Paths: []string{"/var/log/[.log"}}, false},
		{"bad_start_at", Config{Name: "web", Paths: []string{"a"}, StartAt: "middle"}, false},
		{"bad_exclude", Config{Name: "web", Paths: []string{"a"}, Exclude: []string{"["}}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg, nil, nil)
			if (err == nil) != tc.ok {
				t.Errorf("New error = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

// The tailer reads ahead: readAhead batches may be out at once, each in
// its own memory, and one more waits until the first is released.
func TestTailer_ReadsAhead(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.log")
	var data []byte
	n := 0
	for len(data) < (readAhead+1)*minReadBuffer+minReadBuffer/2 { // readAhead+2 batches
		data = seqLine(data, n)
		n++
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(false, path)
	cfg.StartAt = "beginning"
	tl, err := New(cfg, nil, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := make(chan *Batch)
	done := make(chan error, 1)
	go func() { done <- tl.Run(ctx, out) }()
	defer func() { cancel(); <-done }()
	recv := func(what string, wait time.Duration) *Batch {
		t.Helper()
		select {
		case b := <-out:
			return b
		case <-time.After(wait):
			if wait >= time.Second {
				t.Fatalf("no %s batch within %s", what, wait)
			}
			return nil
		}
	}
	var outs []*Batch
	var copied []string
	for i := range readAhead {
		b := recv(fmt.Sprintf("batch %d", i), 5*time.Second)
		if i == 0 {
			for _, l := range b.Lines {
				copied = append(copied, string(l))
			}
		}
		outs = append(outs, b)
	}
	if extra := recv("one more", 300*time.Millisecond); extra != nil {
		t.Fatalf("batch %d (%d lines) came while %d were out", readAhead+1, len(extra.Lines), readAhead)
	}
	first := outs[0]
	for i, l := range first.Lines { // the later reads used other memory
		if string(l) != copied[i] {
			t.Fatalf("line %d of the first batch changed to %q while it was out", i, l)
		}
	}
	seen := map[int]int{}
	for _, b := range outs {
		for _, l := range b.Lines {
			seq, err := parseSeq(string(l))
			if err != nil {
				t.Fatal(err)
			}
			seen[seq]++
		}
	}
	first.Done()
	next := recv("the one after", 5*time.Second)
	for _, b := range outs[1:] {
		b.Done()
	}
	for _, l := range next.Lines {
		seq, _ := parseSeq(string(l))
		seen[seq]++
	}
	next.Done()
	for len(seen) < n { // the rest, however slowly a loaded machine reads it
		b := recv("further", 5*time.Second)
		for _, l := range b.Lines {
			seq, _ := parseSeq(string(l))
			seen[seq]++
		}
		b.Done()
	}
	for i := range n {
		if seen[i] != 1 {
			t.Fatalf("line %d delivered %d times, want once (%d lines)", i, seen[i], n)
		}
	}
}

// The stats keep the paths followed (and failing), not every name a file
// ever had: thirty rotations to new names (dateext) leave the current file
// only, their counts in the totals. A paused tailer still shows how many
// bytes wait in each file.
func TestTailer_StatsBoundedAndLag(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "a.log")
	appendFile(t, log, "0\n")
	r := startTailer(t, testConfig(false, log), nil, nil)
	waitFor(t, 3*time.Second, "first line", func() bool { return r.c.count() == 1 })

	r.t.Pause()
	appendFile(t, log, strings.Repeat("x", 999)+"\n")
	waitFor(t, 3*time.Second, "the lag of the paused file", func() bool {
		for _, f := range r.t.Stats().Files {
			if f.Path == log && f.Followed && f.Size-f.Offset == 1000 {
				return true
			}
		}
		return false
	})
	r.t.Resume()
	waitFor(t, 3*time.Second, "the line written while paused", func() bool { return r.c.count() == 2 })

	for i := range 30 {
		if err := os.Rename(log, fmt.Sprintf("%s-%03d", log, i)); err != nil {
			t.Fatal(err)
		}
		appendFile(t, log, fmt.Sprintf("%d\n", i+1))
		waitFor(t, 3*time.Second, "the new file's line", func() bool { return r.c.count() == i+3 })
	}
	waitFor(t, 5*time.Second, "the rotated names to leave the stats", func() bool {
		st := r.t.Stats()
		return len(st.Files) == 1 && st.Files[0].Path == log && st.Totals.Lines == 32 && st.Totals.Rotations == 30
	})
	st := r.t.Stats()
	if f := st.Files[0]; !f.Followed || f.Size != f.Offset {
		t.Errorf("current file %+v: want followed and read to its end", f)
	}
}

// CaughtUp holds only while every line the tailer knows of was read and
// counted: not while a batch is out (sent, not released), nor while a
// batch waits to be sent, and again once the last is released.
func TestTailer_CaughtUp(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.log")
	var data []byte
	for i := range 10 {
		data = seqLine(data, i)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	tl, err := New(testConfig(false, path), nil, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if tl.CaughtUp() {
		t.Fatal("caught up before Run")
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan *Batch)
	done := make(chan error, 1)
	go func() { done <- tl.Run(ctx, out) }()
	defer func() { cancel(); <-done }()
	recv := func() *Batch {
		t.Helper()
		select {
		case b := <-out:
			return b
		case <-time.After(5 * time.Second):
			t.Fatal("no batch within 5s")
			return nil
		}
	}
	b := recv()
	// The batch is out until Done: lines read, not yet counted. The run
	// loop has nothing else to do, so CaughtUp stays false however long.
	if tl.CaughtUp() {
		t.Fatal("caught up while a batch of 10 lines is out")
	}
	b.Done()
	waitFor(t, 5*time.Second, "caught up after the only batch was released", tl.CaughtUp)

	// New lines: not caught up from when the tailer sees them until their
	// batch is released. The batch is not received here, so the tailer
	// holds it unsent.
	appendFile(t, path, string(seqLine(nil, 10)))
	waitFor(t, 5*time.Second, "the appended line seen", func() bool { return !tl.CaughtUp() })
	b = recv()
	if len(b.Lines) != 1 || tl.CaughtUp() {
		t.Fatalf("second batch of %d lines, caught up %v", len(b.Lines), tl.CaughtUp())
	}
	b.Done()
	waitFor(t, 5*time.Second, "caught up after the second batch was released", tl.CaughtUp)

	// A partial last line is not a line: once the tailer has seen it (a
	// rescan records the file's size), it is caught up with it waiting.
	appendFile(t, path, "partial")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the partial line seen", func() bool {
		st := tl.Stats()
		return len(st.Files) == 1 && st.Files[0].Size == fi.Size()
	})
	waitFor(t, 5*time.Second, "caught up with only a partial line waiting", tl.CaughtUp)
	select {
	case b := <-out:
		t.Fatalf("a batch of %d lines for a partial line", len(b.Lines))
	default:
	}
}
