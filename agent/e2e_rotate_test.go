package agent_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const logrotateBin = "/usr/sbin/logrotate"

// logrotate rotates with the real logrotate: -f forces every run.
type logrotate struct {
	t     testing.TB
	conf  string
	state string
	runs  int
}

func newLogrotate(t testing.TB, dir, logPath, directives string) *logrotate {
	t.Helper()
	if _, err := os.Stat(logrotateBin); err != nil {
		t.Skipf("logrotate not installed (%v): apt-get install logrotate", err)
	}
	conf := filepath.Join(dir, "logrotate.conf")
	body := fmt.Sprintf("%s {\n    missingok\n%s\n}\n", logPath, indent(directives))
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return &logrotate{t: t, conf: conf, state: filepath.Join(dir, "logrotate.state")}
}

func indent(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i, l := range lines {
		lines[i] = "    " + strings.TrimSpace(l)
	}
	return strings.Join(lines, "\n")
}

func (r *logrotate) rotate() {
	r.t.Helper()
	out, err := exec.Command(logrotateBin, "-f", "-s", r.state, r.conf).CombinedOutput()
	if err != nil {
		r.t.Fatalf("logrotate -f -s %s %s: %v\n%s", r.state, r.conf, err, out)
	}
	r.runs++
}

// rotateCase is one way of rotating.
type rotateCase struct {
	name       string
	glob       string // base-name glob of the input
	directives string // logrotate directives
	// copytruncate keeps the writer's descriptor; the other modes reopen.
	copytruncate bool
	rotations    int
	spacing      time.Duration // writing between rotations
	// lateLines are written to the old descriptor after the rotation,
	// before the writer reopens (a server told late).
	lateLines int
	// settle holds the writer after a rotation until the agent has read
	// every line written, those left in the old file included (see the
	// test's comment).
	settle bool
	// frozen stops the agent (SIGSTOP) while lateLines are written and
	// logrotate copies and truncates, then continues it: those lines are
	// then only in the copy, past what the agent had read of the file.
	frozen bool
	// stopped rotates while the agent is stopped, with stoppedLines
	// written before and after the rotation.
	stopped      bool
	stoppedLines int
}

// TestAgent_LogrotateModes follows a log rotated by the real logrotate in
// its create, copytruncate, compress+delaycompress and dateext modes, once
// while the agent is stopped (with a small and with a large backlog in the
// rotated file), and 50 times during fast writing, with inotify and with
// polling. Every line must be counted exactly once, per (ip, window).
//
// copytruncate: logrotate's own race (lines written between its copy and
// its truncate are in neither file) is avoided, not measured: the writer
// is paused while logrotate runs.
//
// The synthetic clock advances 10ms per line at 10,000 lines/s, 100 times
// faster than the wall clock, so the brief reordering across the old and
// the new file at a rotation (the tailer reads the old file's last lines
// up to a poll interval after the new file's first ones), which the
// default 5s lateness absorbs in production, is 100 times longer in event
// time here. The agent runs with a 60s lateness: 600ms of wall-clock
// reordering. With the other tests' 1s (10ms of wall clock) a loaded
// 2-core machine made lines late. The last line is then written two
// minutes of event time after the others (traffic.closer), so that the
// watermark closes their windows: by idle time they would close only after
// a minute of quiet. A line of a rotated file read once the data is past
// the lateness is late, so the writer waits on the agent's count of lines
// read (sharkfin_lines_read_total, of one run: the agent started once or,
// stopped for a rotation, after a stop that read every line), not on the
// wall clock: after a rotation that leaves lines in the old file for the
// tailer to find (settle; the 50 fast rotations reopen at once and do not
// wait), and before the last 4m of event time, written at the test's
// rate, which close the windows up to the last rotation by the watermark.
// Those are counted exactly before the closer is written.
func TestAgent_LogrotateModes(t *testing.T) {
	sharkfinBinary(t)
	if _, err := os.Stat(logrotateBin); err != nil {
		t.Skipf("logrotate not installed (%v): apt-get install logrotate", err)
	}
	cases := []rotateCase{
		{name: "create", glob: "access.log", directives: "create 0644\nrotate 100\nnocompress",
			rotations: 3, spacing: 300 * time.Millisecond, lateLines: 200, settle: true},
		{name: "copytruncate", glob: "access.log*", directives: "copytruncate\nrotate 100\nnocompress",
			copytruncate: true, rotations: 3, spacing: 300 * time.Millisecond, settle: true},
		// Lines the agent had not read when the file was copied and
		// truncated: it must find them in the copy.
		{name: "copytruncate-unread", glob: "access.log*", directives: "copytruncate\nrotate 100\nnocompress",
			copytruncate: true, rotations: 3, spacing: 300 * time.Millisecond, lateLines: 200, frozen: true, settle: true},
		{name: "compress-delaycompress", glob: "access.log*", directives: "create 0644\nrotate 100\ncompress\ndelaycompress",
			rotations: 3, spacing: 300 * time.Millisecond, lateLines: 200, settle: true},
		{name: "dateext", glob: "access.log", directives: "create 0644\nrotate 100\nnocompress\ndateext\ndateformat -%Y%m%d-%H%M%S",
			rotations: 3, spacing: 1100 * time.Millisecond, lateLines: 200, settle: true},
		{name: "while-stopped", glob: "access.log*", directives: "create 0644\nrotate 100\nnocompress",
			rotations: 1, spacing: 300 * time.Millisecond, lateLines: 200, stopped: true, stoppedLines: 3000},
		// More unread lines in the rotated file than one read of the
		// tailer (1 MiB): it must still be read before the new file.
		{name: "while-stopped-backlog", glob: "access.log*", directives: "create 0644\nrotate 100\nnocompress",
			rotations: 1, spacing: 300 * time.Millisecond, lateLines: 200, stopped: true, stoppedLines: 20000},
		{name: "50-fast", glob: "access.log*", directives: "create 0644\nrotate 100\nnocompress",
			rotations: 50, spacing: 60 * time.Millisecond},
	}
	for _, tc := range cases {
		for _, poll := range []bool{false, true} {
			name := tc.name + "/inotify"
			if poll {
				name = tc.name + "/poll"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				testRotation(t, tc, poll)
			})
		}
	}
}

func testRotation(t *testing.T, tc rotateCase, poll bool) {
	const rate = 10_000.0
	const lateness = time.Minute
	dir := t.TempDir()
	logPath := filepath.Join(dir, "access.log")
	in := e2eInput{Name: "web", Path: filepath.Join(dir, tc.glob)}
	spacing := tc.spacing
	if poll {
		in.Poll, in.PollInterval = true, "50ms"
		// At most one rotation per two poll intervals: two rotations
		// between polls reorder generations (see the tailer's limits).
		spacing = max(spacing, 150*time.Millisecond)
	}
	lr := newLogrotate(t, dir, logPath, tc.directives)
	h := newAgent(t, dir, e2eConfig{Inputs: []e2eInput{in}, Lateness: lateness.String()})
	events := newEventLog(h)
	g := newTraffic("web", 16, 7, 10*time.Millisecond)
	lf := openLog(t, logPath)
	var buf []byte
	writeN := func(n int) {
		buf = g.lines(buf[:0], n)
		lf.write(buf)
	}

	// readAll waits until the running agent has read every line written
	// (base: the lines its run started after, all read by the one before),
	// and fails on a line read twice. A rotated file's last lines found
	// later than the production default lateness (5s) would be late there:
	// that fails too. slowest is the longest wait.
	base := 0
	var slowest time.Duration
	readAll := func() {
		t.Helper()
		want := float64(g.truth.total() - base)
		began := time.Now()
		read := func() float64 { return h.sample("sharkfin_lines_read_total", "input", "web") }
		if !waitFor(15*time.Second, func() bool { return read() >= want }) {
			t.Fatalf("the agent read %v of the %v lines written in 15s", read(), want)
		}
		took := time.Since(began)
		slowest = max(slowest, took)
		if n := read(); n > want {
			t.Fatalf("the agent read %v lines, %v written: lines read twice", n, want)
		}
		if took > 5*time.Second {
			t.Fatalf("the agent took %s to read the lines a rotation left, more than the default lateness", took)
		}
	}

	start := time.Now()
	h.startReady()
	writeFor(lf, g, rate, 300*time.Millisecond)
	var lastRotated int64
	for range tc.rotations {
		h.requireAlive()
		if tc.stopped {
			readAll()
			h.stop(5 * time.Second)
			base = g.truth.total()
			writeN(tc.stoppedLines)
		}
		if tc.frozen {
			h.signal(syscall.SIGSTOP)
			writeN(tc.lateLines)
		}
		lr.rotate()
		if tc.frozen {
			h.signal(syscall.SIGCONT)
		}
		if !tc.copytruncate {
			writeN(tc.lateLines)
			if tc.settle && !tc.stopped {
				readAll()
			}
			lf.reopen()
		} else if tc.settle {
			readAll()
		}
		if tc.stopped {
			writeN(tc.stoppedLines)
			h.startReady()
		}
		lastRotated = g.now().Unix() // the lines up to here may be in a rotated file
		writeFor(lf, g, rate, spacing)
	}
	// The closer makes every line read after it late, and so do the next
	// 4m of event time, so they are written once the agent has read every
	// line; they close the windows up to the last rotation by the
	// watermark (the lateness, a window and a minute to spare), which are
	// then counted exactly. Written at the test's rate, like the rest.
	readAll()
	writeFor(lf, g, rate, time.Duration(float64(lateness+3*time.Minute)/(rate*float64(g.step))*float64(time.Second)))
	read := truth{}
	for k, n := range g.truth {
		if k.Start <= lastRotated {
			read[k] = n
		}
	}
	events.waitSubset(read, 15*time.Second)
	written := g.seq + 1
	lf.write(g.closer(buf[:0], lateness+time.Minute))
	writing := time.Since(start)
	converge := events.waitCounts(g.truth, 15*time.Second)
	time.Sleep(time.Second)
	events.requireCounts(g.truth)
	h.stop(5 * time.Second)
	events.requireCounts(g.truth)
	events.requireOnePerWindow()
	files, _ := filepath.Glob(logPath + "*")
	t.Logf("%d lines, %d logrotate runs, %d files left (%s), %d cells: exact %s after the last line (writing %s; every line read at most %s after the writer paused)",
		written, lr.runs, len(files), sample(files), len(g.truth), converge.Round(time.Millisecond), writing.Round(time.Millisecond), slowest.Round(time.Millisecond))
}

// sample names a few base names of files.
func sample(files []string) string {
	var names []string
	for i, f := range files {
		if i == 4 {
			names = append(names, "...")
			break
		}
		names = append(names, filepath.Base(f))
	}
	return strings.Join(names, " ")
}
