package agent_test

import (
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestAgent_ExactlyOnceAcrossSIGKILL kills the agent with SIGKILL at random
// moments (seeded; every other kill waits for the agent to print events
// first) while it follows a log that is written at a steady rate and
// rotated (rename and create) now and then, sometimes while the agent is
// down. After the last restart every (ip, window) must have been
// counted exactly once: the hits of the events, de-duplicated by event_id,
// equal the lines written. Events printed and then re-sent because the
// kill came before the outbox delete are duplicates by event_id with
// identical content (at-least-once delivery); each window has one event_id.
// detect.close_batch is 16 (of 64 sources), so a window closes over several
// commits and kills land part way through closes too.
//
// The clock runs 400 times the wall clock's speed (10ms of event time a
// line at 40,000 lines/s). At a rotation the tailer may read the old
// file's last lines after the new file's first ones; a 1s lateness would
// allow 2.5ms of wall-clock reordering for that, which a loaded machine
// exceeds. The agent runs with a 2m lateness (300ms of wall clock) and the
// last line comes 3m of event time after the others (traffic.closer), so
// that the watermark, not a quiet input, closes the last windows. The
// closer makes every line read after it late, so it is written only once
// the agent has read every rotated file: no rotation in the last
// quietLines lines (5m of event time), and the windows up to the last
// rotation counted exactly.
func TestAgent_ExactlyOnceAcrossSIGKILL(t *testing.T) {
	lines, kills, rate := 500_000, 20, 40_000.0
	if longE2E() {
		lines, kills, rate = 1_500_000, 40, 50_000
	}
	seed := e2eSeed(t, 1)
	rng := rand.New(rand.NewPCG(seed, 2))
	dir := t.TempDir()
	t.Cleanup(func() { // SHARKFIN_E2E_KEEP=DIR keeps a failed run's logs, events and state
		if keep := os.Getenv("SHARKFIN_E2E_KEEP"); t.Failed() && keep != "" {
			_ = exec.Command("cp", "-r", dir, keep).Run()
		}
	})
	logPath := filepath.Join(dir, "access.log")
	const lateness = 2 * time.Minute
	h := newAgent(t, dir, e2eConfig{Inputs: []e2eInput{{Name: "web", Path: logPath + "*"}}, CloseBatch: 16, Lateness: lateness.String()})
	events := newEventLog(h)
	g := newTraffic("web", 64, seed, 10*time.Millisecond)
	lf := openLog(t, logPath)

	killAt := make([]int, kills)
	for i := range killAt {
		killAt[i] = lines/20 + rng.IntN(lines*9/10)
	}
	slices.Sort(killAt)
	rotateEvery := lines / 10
	const quietLines = 30_000
	nextRotation := func(from int) int {
		if r := from + rotateEvery/2 + rng.IntN(rotateEvery); r <= lines-quietLines {
			return r
		}
		return lines // none in the quiet lines: the writer stops there
	}

	h.startReady()
	p := newPacer(rate)
	start := time.Now()
	deadline := start.Add(time.Duration(float64(lines)/rate*float64(time.Second)) + time.Minute)
	var (
		buf                []byte
		written, rotations int
		killed             int
		downAt             time.Time
		maxDown            time.Duration
		restartAt          time.Time
		rotatedWhileDown   int
		armed              time.Time
		armedSize          int64
	)
	rot := nextRotation(0)
	for written < lines || killed < len(killAt) {
		if time.Now().After(deadline) {
			t.Fatalf("writing took too long: %d of %d lines, %d of %d kills", written, lines, killed, len(killAt))
		}
		h.requireAlive()
		if n := p.due(lines - written); n > 0 {
			n = min(n, rot-written)
			if killed < len(killAt) && written < killAt[killed] {
				n = min(n, killAt[killed]-written)
			}
			buf = g.lines(buf[:0], n)
			lf.write(buf)
			written += n
		}
		if written >= rot && written < lines {
			lf.shiftRotate()
			rotations++
			if !h.running() {
				rotatedWhileDown++
			}
			rot = nextRotation(written)
		}
		due := killed < len(killAt) && written >= killAt[killed] && h.running()
		if due && killed%2 == 1 {
			// Every other kill waits for the agent to print events, to
			// land between the print and the outbox delete now and then.
			if armed.IsZero() {
				armed, armedSize = time.Now(), fileSize(h.current().stdout)
			}
			due = fileSize(h.current().stdout) > armedSize || time.Since(armed) > time.Second
		}
		if due {
			h.kill()
			killed++
			armed = time.Time{}
			downAt = time.Now()
			restartAt = downAt.Add(time.Duration(rng.IntN(150)) * time.Millisecond)
		}
		if !h.running() && !time.Now().Before(restartAt) {
			maxDown = max(maxDown, time.Since(downAt))
			h.start()
		}
		if armed.IsZero() {
			time.Sleep(2 * time.Millisecond)
		} else {
			time.Sleep(100 * time.Microsecond)
		}
	}
	writing := time.Since(start)
	if !h.running() {
		h.start()
	}
	// Every rotated file's lines are in windows that start before the
	// quiet lines, which the data's own watermark closes (their end is 4m
	// before the last line's time, the lateness 2m).
	lastRotated := g.now().Add(-quietLines * g.step).Unix()
	read := truth{}
	for k, n := range g.truth {
		if k.Start <= lastRotated {
			read[k] = n
		}
	}
	events.waitSubset(read, 90*time.Second)
	lf.write(g.closer(buf[:0], lateness+time.Minute))
	converge := events.waitCounts(g.truth, 90*time.Second)
	// Anything printed after the counts matched is an extra event.
	time.Sleep(1500 * time.Millisecond)
	h.requireAlive()
	events.requireCounts(g.truth)
	h.stop(5 * time.Second)
	events.requireCounts(g.truth)
	events.requireOnePerWindow()
	t.Logf("SIGKILL: %d lines (%d windows x %d ips, %d cells), %d rotations (%d while the agent was down), %d kills, %d runs; "+
		"writing %s at %.0f lines/s, counts exact %s after the last line; longest downtime %s",
		written, len(windowsOf(g.truth)), len(g.ips), len(g.truth), rotations, rotatedWhileDown, killed, len(h.runs),
		writing.Round(time.Millisecond), rate, converge.Round(time.Millisecond), maxDown.Round(time.Millisecond))
	midClose := strings.Count(h.stderrText(), "resuming windows part way through closing")
	t.Logf("SIGKILL: %d distinct ip_score events; %d duplicates by event_id (printed, then re-sent after a kill), all identical; %d lines cut by a kill; %d restarts part way through a window's close",
		len(events.ipScores()), events.dups, events.torn, midClose)
}

// fileSize is the size of path, 0 if it cannot be had.
func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// windowsOf returns the distinct window starts of a truth.
func windowsOf(tr truth) map[int64]bool {
	out := map[int64]bool{}
	for k := range tr {
		out[k.Start] = true
	}
	return out
}
