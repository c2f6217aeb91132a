package tailer

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The rotation suite runs the real logrotate against a real writer process
// and checks, per sequence number, that every line on disk was delivered
// exactly once. Set TAILER_STRESS=1 for bigger runs.

func needLogrotate(tb testing.TB) string {
	tb.Helper()
	p, err := exec.LookPath("logrotate")
	if err != nil {
		for _, c := range []string{"/usr/sbin/logrotate", "/sbin/logrotate"} {
			if _, err := os.Stat(c); err == nil {
				return c
			}
		}
		tb.Skip("logrotate not installed (apt-get install -y logrotate)")
	}
	return p
}

func stress() bool { return os.Getenv("TAILER_STRESS") != "" }

// rotator runs logrotate with a configuration written into dir.
type rotator struct {
	bin, conf, state string
}

// newRotator keeps keep rotated files: none is deleted, so what is on disk
// is what was written (logrotate's run time grows with keep).
func newRotator(tb testing.TB, dir, log, directives string, keep int) *rotator {
	tb.Helper()
	r := &rotator{
		bin:   needLogrotate(tb),
		conf:  filepath.Join(dir, "conf", "logrotate.conf"),
		state: filepath.Join(dir, "conf", "state"),
	}
	if err := os.MkdirAll(filepath.Dir(r.conf), 0o755); err != nil {
		tb.Fatal(err)
	}
	conf := fmt.Sprintf("%q {\n\trotate %d\n\tmissingok\n%s\n}\n", log, keep, directives)
	// logrotate refuses configuration files writable by group or others.
	if err := os.WriteFile(r.conf, []byte(conf), 0o644); err != nil {
		tb.Fatal(err)
	}
	return r
}

func (r *rotator) rotate(tb testing.TB) {
	tb.Helper()
	out, err := exec.Command(r.bin, "-f", "-s", r.state, r.conf).CombinedOutput()
	if err != nil {
		tb.Fatalf("logrotate: %v\n%s", err, out)
	}
}

// writer is a child process appending sequence lines.
type writer struct {
	cmd  *exec.Cmd
	out  strings.Builder
	done chan error
}

// stop ends a writer started with count 0 and returns how many lines it
// wrote.
func (w *writer) stop(tb testing.TB) int {
	tb.Helper()
	if err := w.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		tb.Fatal(err)
	}
	w.wait(tb)
	n, err := strconv.Atoi(strings.TrimSpace(w.out.String()))
	if err != nil {
		tb.Fatalf("writer output %q: %v", w.out.String(), err)
	}
	return n
}

func startWriter(tb testing.TB, path string, first, count, rate int) *writer {
	tb.Helper()
	exe, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s,%d,%d,%d", envWriter, path, first, count, rate))
	cmd.Stderr = os.Stderr
	w := &writer{cmd: cmd, done: make(chan error, 1)}
	cmd.Stdout = &w.out
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() { w.done <- cmd.Wait() }()
	tb.Cleanup(func() {
		select {
		case <-w.done:
		default:
			_ = cmd.Process.Kill()
			<-w.done
		}
	})
	return w
}

func (w *writer) running() bool {
	select {
	case err := <-w.done:
		w.done <- err
		return false
	default:
		return true
	}
}

func (w *writer) wait(tb testing.TB) {
	tb.Helper()
	select {
	case err := <-w.done:
		w.done <- err
		if err != nil {
			tb.Fatalf("writer: %v", err)
		}
	case <-time.After(60 * time.Second):
		tb.Fatal("writer did not finish")
	}
}

// onDisk counts the sequence lines in every log file under dir, gzip
// files included: the ground truth of what a tailer can deliver.
func onDisk(tb testing.TB, dir string) map[int]int {
	tb.Helper()
	m, _ := onDiskTorn(tb, dir)
	return m
}

// onDiskTorn is onDisk that also returns the torn last lines of the
// files: bytes after the last '\n' of a rotated copy, a line copytruncate
// copied while the writer was writing it (its rest was truncated away).
// The tailer delivers them when it lets the copy go, as they are.
func onDiskTorn(tb testing.TB, dir string) (map[int]int, map[string]bool) {
	tb.Helper()
	m := make(map[int]int)
	torn := make(map[string]bool)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Base(filepath.Dir(p)) == "conf" {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		var r io.Reader = f
		if strings.HasSuffix(p, ".gz") {
			gz, err := gzip.NewReader(f)
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			r = gz
		}
		br := bufio.NewReader(r)
		for {
			line, err := br.ReadString('\n')
			if err == io.EOF {
				// A last line without its newline is a line cut by
				// copytruncate's copy (the writer was mid-line): it is
				// not on disk whole, so it is not a line written there.
				if line != "" {
					torn[line] = true
				}
				return nil
			}
			if err != nil {
				return err
			}
			n, err := parseSeq(strings.TrimSuffix(line, "\n"))
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			m[n]++
		}
	})
	if err != nil {
		tb.Fatal(err)
	}
	return m, torn
}

// verdict compares delivered lines with what was written and is on disk.
type verdict struct {
	written, onDisk          int
	missing, dup, extra      int // extra: delivered, not on disk (copytruncate)
	lostByRotate, firstError int
}

func judge(tb testing.TB, written int, disk, got map[int]int) verdict {
	tb.Helper()
	v := verdict{written: written, onDisk: len(disk)}
	for seq := 0; seq < written; seq++ {
		d, g := disk[seq], got[seq]
		if d > 1 {
			tb.Errorf("line %d is %d times on disk", seq, d)
		}
		if d == 0 {
			v.lostByRotate++
		}
		switch {
		case d > 0 && g == 0:
			if v.missing < 5 {
				tb.Logf("line %d on disk, not delivered", seq)
			}
			v.missing++
		case g > 1:
			if v.dup < 5 {
				tb.Logf("line %d delivered %d times", seq, g)
			}
			v.dup++
		case d == 0 && g == 1:
			v.extra++
		}
	}
	if v.missing > 0 {
		tb.Logf("runs on disk, not delivered: %s", seqRuns(written, func(seq int) bool { return disk[seq] > 0 && got[seq] == 0 }))
	}
	if v.dup > 0 {
		tb.Logf("runs delivered more than once: %s", seqRuns(written, func(seq int) bool { return got[seq] > 1 }))
	}
	for seq := range got {
		if seq < 0 || seq >= written {
			tb.Errorf("delivered line %d was never written", seq)
		}
	}
	return v
}

// waitDelivered waits until every line on disk was delivered, then a
// little more to let duplicates show. Delivered lines that are not
// sequence lines must be torn lines on disk.
func waitDelivered(tb testing.TB, c *collector, disk map[int]int, torn map[string]bool, timeout time.Duration) map[int]int {
	tb.Helper()
	var got map[int]int
	deadline := time.Now().Add(timeout)
	for {
		got = seqCountsTorn(tb, c.snapshot(), torn, false)
		complete := true
		for seq := range disk {
			if got[seq] == 0 {
				complete = false
				break
			}
		}
		if complete || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	return seqCountsTorn(tb, c.snapshot(), torn, true)
}

type rotateCase struct {
	name       string
	directives string
	glob       string // relative to the directory; app.log when empty
	spacing    time.Duration
	rotations  int
	lines      int
	rate       int // lines per second
	// lossy rotations lose lines on disk by themselves, at most one run
	// of consecutive lines per rotation: copytruncate (written between
	// its copy and its truncate) and compress without delaycompress
	// (written to the renamed file after logrotate compressed and
	// deleted it, before the writer reopened). The tailer may still
	// deliver some of them; it must deliver every line on disk.
	lossy bool
}

func rotateCases() []rotateCase {
	scale := 1
	if stress() {
		scale = 10
	}
	const n, rate, every, rot = 8000, 10000, 100 * time.Millisecond, 4
	return []rotateCase{
		{name: "create", directives: "\tcreate", spacing: every, rotations: rot, lines: n * scale, rate: rate},
		{name: "create_glob_siblings", directives: "\tcreate", glob: "app.log*", spacing: every, rotations: rot, lines: n * scale, rate: rate},
		{name: "copytruncate", directives: "\tcopytruncate", spacing: every, rotations: rot, lines: n * scale, rate: rate, lossy: true},
		{name: "copytruncate_glob_siblings", directives: "\tcopytruncate\n\tcompress\n\tdelaycompress", glob: "app.log*", spacing: every, rotations: rot, lines: n * scale, rate: rate, lossy: true},
		{name: "compress_delaycompress", directives: "\tcreate\n\tcompress\n\tdelaycompress", glob: "app.log*", spacing: every, rotations: rot, lines: n * scale, rate: rate},
		{name: "compress", directives: "\tcreate\n\tcompress", glob: "app.log*", spacing: every, rotations: rot, lines: n * scale, rate: rate, lossy: true},
		{name: "dateext", directives: "\tcreate\n\tdateext\n\tdateformat -%s", glob: "app.log*", spacing: 1050 * time.Millisecond, rotations: 2, lines: 2400 * scale, rate: 1000},
		{name: "olddir", directives: "\tcreate\n\tolddir old\n\tcompress\n\tdelaycompress", spacing: every, rotations: rot, lines: n * scale, rate: rate},
	}
}

func modes() []struct {
	name string
	poll bool
} {
	return []struct {
		name string
		poll bool
	}{{"inotify", false}, {"poll", true}}
}

func TestTailer_Logrotate(t *testing.T) {
	needLogrotate(t)
	for _, m := range modes() {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range rotateCases() {
				t.Run(tc.name, func(t *testing.T) {
					runRotation(t, m.poll, tc)
				})
			}
		})
	}
}

// TestTailer_LogrotateMany rotates 50 times, back to back, while a writer
// writes fast: many rotations happen between two looks of the tailer (in
// polling mode, several per poll interval), so generations are rotated
// away before the tailer saw them and must be found among the siblings.
func TestTailer_LogrotateMany(t *testing.T) {
	needLogrotate(t)
	rate := 15000
	if stress() {
		rate = 100000
	}
	for _, m := range modes() {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range []rotateCase{
				{name: "create", directives: "\tcreate", glob: "app.log*", rotations: 50, rate: rate},
				{name: "copytruncate", directives: "\tcopytruncate", rotations: 50, rate: rate, lossy: true},
			} {
				t.Run(tc.name, func(t *testing.T) {
					runRotation(t, m.poll, tc)
				})
			}
		})
	}
}

func runRotation(t *testing.T, poll bool, tc rotateCase) {
	dir := t.TempDir()
	log := filepath.Join(dir, "app.log")
	if err := os.Mkdir(filepath.Join(dir, "old"), 0o755); err != nil {
		t.Fatal(err)
	}
	rot := newRotator(t, dir, log, tc.directives, tc.rotations+2)
	glob := tc.glob
	if glob == "" {
		glob = "app.log"
	}
	cfg := testConfig(poll, filepath.Join(dir, glob))
	cfg.RescanInterval = time.Second
	if err := os.WriteFile(log, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	run := startTailer(t, cfg, nil, nil)
	w := startWriter(t, log, 0, tc.lines, tc.rate)
	rotations := 0
	for rotations < tc.rotations && w.running() {
		time.Sleep(tc.spacing)
		rot.rotate(t)
		rotations++
	}
	written := tc.lines
	if written == 0 {
		written = w.stop(t)
	} else {
		w.wait(t)
	}
	disk, torn := onDiskTorn(t, dir)
	got := waitDelivered(t, run.c, disk, torn, 15*time.Second)
	v := judge(t, written, disk, got)
	st := run.t.Stats()
	t.Logf("%d rotations: written %d, on disk %d, lost by the rotation itself %d in %d runs (of which delivered anyway %d); tailer missed %d, duplicated %d; truncations %d, rotations seen %d",
		rotations, v.written, v.onDisk, v.lostByRotate, lostRuns(written, disk), v.extra, v.missing, v.dup, st.Totals.Truncations, st.Totals.Rotations)
	if v.missing != 0 || v.dup != 0 {
		t.Errorf("tailer missed %d and duplicated %d lines", v.missing, v.dup)
		if os.Getenv("TAILER_TEST_LOG") != "" {
			out, _ := exec.Command("sh", "-c", `cd `+dir+` && for f in $(ls -tr app.log* old/* 2>/dev/null); do printf '%s %s %s..%s\n' "$f" "$(stat -c '%i %s %.9Y' $f)" "$(head -c9 $f)" "$(tail -n1 $f | head -c9)"; done`).CombinedOutput()
			t.Logf("files (name inode size mtime first..last):\n%s", out)
		}
	}
	if !tc.lossy && v.lostByRotate != 0 {
		t.Errorf("%d lines missing on disk with a rotation that loses none: the writer or the test is broken", v.lostByRotate)
	}
	// A lossy rotation's window is short: one run of consecutive lines
	// per rotation at most.
	if runs := lostRuns(written, disk); tc.lossy && runs > rotations {
		t.Errorf("lines lost on disk in %d separate runs, more than the %d rotations explain", runs, rotations)
	}
	if rotations < tc.rotations {
		t.Logf("writer finished after %d of %d rotations", rotations, tc.rotations)
	}
}

// seqRuns lists the runs of sequence numbers below written for which in
// holds, as "first-last" ranges (at most 20).
func seqRuns(written int, in func(seq int) bool) string {
	var b strings.Builder
	n := 0
	for seq := 0; seq < written; seq++ {
		if !in(seq) {
			continue
		}
		end := seq
		for end+1 < written && in(end+1) {
			end++
		}
		if n++; n > 20 {
			b.WriteString(" ...")
			break
		}
		fmt.Fprintf(&b, " %d-%d", seq, end)
		seq = end
	}
	return b.String()
}

// lostRuns counts the runs of consecutive sequence numbers missing on disk.
func lostRuns(written int, disk map[int]int) int {
	runs := 0
	for seq := 0; seq < written; seq++ {
		if disk[seq] == 0 && (seq == 0 || disk[seq-1] > 0) {
			runs++
		}
	}
	return runs
}
