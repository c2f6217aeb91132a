package agent_test

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/socx/sharkfin/internal/e2etest"
)

// e2eWatchdog is the watchdog interval (WatchdogSec) the tests give the
// agent: it pings every quarter of it.
const e2eWatchdog = 400 * time.Millisecond

// watchdogEnv is what systemd sets for a service with WatchdogSec: the
// interval, and WATCHDOG_PID, which a test cannot know before the start;
// left empty, the agent takes the interval as its own.
func watchdogEnv() []string {
	return []string{"WATCHDOG_USEC=" + strconv.FormatInt(e2eWatchdog.Microseconds(), 10), "WATCHDOG_PID="}
}

// pings returns when each WATCHDOG=1 of run r was received.
func pings(r *agentRun) []time.Time {
	var at []time.Time
	for _, m := range r.notify.Messages() {
		if slices.Contains(m.States, "WATCHDOG=1") {
			at = append(at, m.At)
		}
	}
	return at
}

// lastPing returns when the latest WATCHDOG=1 of run r was received (zero
// time if none was).
func lastPing(r *agentRun) time.Time {
	if p := pings(r); len(p) > 0 {
		return p[len(p)-1]
	}
	return time.Time{}
}

// monotonicUsec is CLOCK_MONOTONIC in microseconds, the clock of
// MONOTONIC_USEC.
func monotonicUsec(t testing.TB) int64 {
	t.Helper()
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		t.Fatal(err)
	}
	return ts.Nano() / 1000
}

// syncNotify sends a marker to the notification socket of an ended run and
// waits for it: every notification the run sent is read by then.
func syncNotify(t testing.TB, n *e2etest.Notify) {
	t.Helper()
	conn, err := net.Dial("unixgram", n.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("E2E_SYNC=1")); err != nil {
		t.Fatal(err)
	}
	if err := n.Wait("E2E_SYNC=1", nil, 5*time.Second); err != nil {
		t.Fatal(err)
	}
}

// TestAgent_NotifyLifecycleAndWatchdog runs the agent as systemd would with
// WatchdogSec: READY=1 first; WATCHDOG=1 every quarter of the interval from
// then on; SIGHUP sends RELOADING=1 with MONOTONIC_USEC (read from
// CLOCK_MONOTONIC between the signal and the answer), then READY=1; SIGTERM
// sends STOPPING=1, the last notification, and the agent exits 0.
func TestAgent_NotifyLifecycleAndWatchdog(t *testing.T) {
	const (
		skip = 2  // pings left out of the measure: the first commits may hold them back (see Agent.watchdog)
		n    = 15 // pings measured: 3 s
	)
	dir := t.TempDir()
	logPath := filepath.Join(dir, "access.log")
	h := newAgent(t, dir, e2eConfig{Inputs: []e2eInput{{Name: "web", Path: logPath}}})
	h.env = watchdogEnv()
	writeLog(t, logPath, newTraffic("web", 8, 11, 10*time.Millisecond), 2000)
	r := h.startReady()

	if err := r.notify.WaitCount("WATCHDOG=1", skip+1+n, r.done, 2*(skip+n)*e2eWatchdog+10*time.Second); err != nil {
		t.Fatalf("watchdog: %v (%d pings)", err, r.notify.Count("WATCHDOG=1"))
	}
	msgs := r.notify.Messages()
	if !slices.Equal(msgs[0].States, []string{"READY=1"}) {
		t.Errorf("first notification %q, want READY=1 (no ping before the agent is ready)", msgs[0].States)
	}
	p := pings(r)[skip : skip+1+n]
	var maxGap time.Duration
	for i := 1; i < len(p); i++ {
		maxGap = max(maxGap, p[i].Sub(p[i-1]))
	}
	// One ping every e2eWatchdog/4 on average: far fewer would let systemd
	// kill the agent, far more would be pings not paced by the interval.
	period := p[n].Sub(p[0]) / n
	if period < e2eWatchdog/8 || period > e2eWatchdog*3/8 {
		t.Errorf("WATCHDOG=1 every %s on average over %d pings, want about %s (between %s and %s)",
			period, n, e2eWatchdog/4, e2eWatchdog/8, e2eWatchdog*3/8)
	}
	if maxGap >= 2*e2eWatchdog {
		t.Errorf("a gap of %s between two pings, want less than %s", maxGap, 2*e2eWatchdog)
	}

	before := len(r.notify.Messages())
	hupAt := monotonicUsec(t)
	h.signal(syscall.SIGHUP)
	if err := r.notify.WaitCount("READY=1", 2, r.done, 10*time.Second); err != nil {
		t.Fatalf("after SIGHUP: %v", err)
	}
	readyAt := monotonicUsec(t)
	var order []string // the reload's notifications, pings left out
	for _, m := range r.notify.Messages()[before:] {
		if slices.Equal(m.States, []string{"WATCHDOG=1"}) {
			continue
		}
		order = append(order, strings.Join(m.States, "\\n"))
		if m.States[0] != "RELOADING=1" {
			continue
		}
		if len(m.States) != 2 || !strings.HasPrefix(m.States[1], "MONOTONIC_USEC=") {
			t.Errorf("RELOADING=1 notification %q, want RELOADING=1\\nMONOTONIC_USEC=...", m.States)
			continue
		}
		us, err := strconv.ParseInt(strings.TrimPrefix(m.States[1], "MONOTONIC_USEC="), 10, 64)
		if err != nil || us < hupAt || us > readyAt {
			t.Errorf("%s: want CLOCK_MONOTONIC µs between the SIGHUP (%d) and READY=1 (%d)", m.States[1], hupAt, readyAt)
		}
	}
	if len(order) != 2 || !strings.HasPrefix(order[0], "RELOADING=1") || order[1] != "READY=1" {
		t.Errorf("notifications after SIGHUP %q, want RELOADING=1 (with MONOTONIC_USEC), then READY=1", order)
	}
	pinged := r.notify.Count("WATCHDOG=1")
	if err := r.notify.WaitCount("WATCHDOG=1", pinged+3, r.done, 10*time.Second); err != nil {
		t.Errorf("watchdog after the reload: %v", err)
	}

	h.stop(5 * time.Second)
	syncNotify(t, r.notify)
	msgs = r.notify.Messages()
	last := msgs[len(msgs)-2] // before the marker
	if c := r.notify.Count("STOPPING=1"); c != 1 || !slices.Equal(last.States, []string{"STOPPING=1"}) {
		t.Errorf("STOPPING=1 sent %d times, the last notification is %q; want it once, last", c, last.States)
	}
	t.Logf("watchdog %s: a ping every %s on average over %d, longest gap %s; %d notifications in all",
		e2eWatchdog, period.Round(time.Millisecond), n, maxGap.Round(time.Millisecond), len(msgs)-1)
}

// mountImage mounts a new 64 MiB ext4 image on dir (created) until the
// test ends, for fsfreeze to hang its writes. It skips the test when it
// cannot: not root, or no mount, loop device or fsfreeze.
func mountImage(t *testing.T, dir string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: mounts an ext4 image and freezes it with fsfreeze")
	}
	for _, tool := range []string{"mkfs.ext4", "mount", "umount", "fsfreeze"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s: %v", tool, err)
		}
	}
	img := dir + ".img"
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(img)
	if err == nil {
		err = f.Truncate(64 << 20)
		f.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", img).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v: %s", err, out)
	}
	if out, err := exec.Command("mount", "-o", "loop", img, dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount an ext4 image (no loop devices?): %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
			_ = exec.Command("umount", "-l", dir).Run()
		}
	})
}

// freeze freezes the file system mounted on dir (fsfreeze -f): writes to
// it, fsync included, block until thaw, which the test's cleanup calls too.
func freeze(t *testing.T, dir string) (thaw func()) {
	t.Helper()
	if out, err := exec.Command("fsfreeze", "-f", dir).CombinedOutput(); err != nil {
		t.Skipf("fsfreeze -f %s: %v: %s", dir, err, out)
	}
	var once sync.Once
	// A test that hangs or panics past its deadline runs no cleanup: a
	// timer thaws the disk anyway, so no frozen mount outlives the run.
	safety := time.AfterFunc(time.Minute, func() {
		once.Do(func() { _ = exec.Command("fsfreeze", "-u", dir).Run() })
	})
	thaw = func() {
		safety.Stop()
		once.Do(func() {
			if out, err := exec.Command("fsfreeze", "-u", dir).CombinedOutput(); err != nil {
				t.Errorf("fsfreeze -u %s: %v: %s", dir, err, out)
			}
		})
	}
	// Registered after the harness: runs before its cleanup kills the
	// agent, which cannot end while it waits on the frozen disk.
	t.Cleanup(thaw)
	return thaw
}

// TestAgent_WatchdogStopsWhileCommitsHang freezes the file system of the
// agent's state while lines are written to its log: the commit hangs, and
// the pings must stop (no WATCHDOG=1 for more than twice the interval), so
// that systemd would restart the agent; thawed, the pings resume and
// SIGTERM stops the agent cleanly. Twice: with 1 ms of event time a line,
// no window closes and the main loop counts on, so the pings stop because
// the commit is not written (the agent logs that it withholds them); with
// 1 s a line, a window of 8 clients closes every 60 lines, in commits of
// detect.close_batch 4 keys, and the loop waits for those commits, sending
// nothing.
func TestAgent_WatchdogStopsWhileCommitsHang(t *testing.T) {
	for _, tc := range []struct {
		name       string
		step       time.Duration // event time a line
		closeBatch int
		withheld   bool // the agent must say it withholds the pings
	}{
		{"loop counts on", time.Millisecond, 0, true},
		{"loop waits", time.Second, 4, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const rate = 500.0 // lines a second
			dir := t.TempDir()
			mountImage(t, filepath.Join(dir, "state"))
			logPath := filepath.Join(dir, "access.log")
			h := newAgent(t, dir, e2eConfig{Inputs: []e2eInput{{Name: "web", Path: logPath}}, CloseBatch: tc.closeBatch})
			h.env = watchdogEnv()
			g := newTraffic("web", 8, 12, tc.step)
			lf := openLog(t, logPath)
			r := h.startReady()
			pinging := func(n int) func() bool {
				return func() bool { h.requireAlive(); return r.notify.Count("WATCHDOG=1") >= n }
			}
			if !writeUntil(lf, g, rate, 20*time.Second, pinging(3)) {
				t.Fatalf("%d pings in 20s while lines were written, want 3", r.notify.Count("WATCHDOG=1"))
			}

			thaw := freeze(t, filepath.Join(dir, "state"))
			frozenAt := time.Now()
			silent := func() bool { h.requireAlive(); return time.Since(lastPing(r)) > 2*e2eWatchdog }
			if !writeUntil(lf, g, rate, 20*time.Second, silent) {
				t.Fatalf("pings went on for 20s with the state's file system frozen (last %s ago)", time.Since(lastPing(r)))
			}
			stopped := lastPing(r)
			// Lines keep coming: no ping either.
			writeFor(lf, g, rate, 3*e2eWatchdog)
			h.requireAlive()
			if p := lastPing(r); !p.Equal(stopped) {
				t.Fatalf("a ping %s after the pings had stopped, the file system still frozen", p.Sub(stopped))
			}
			silence := time.Since(stopped)

			thaw()
			thawedAt := time.Now()
			if !writeUntil(lf, g, rate, 20*time.Second, pinging(r.notify.Count("WATCHDOG=1")+3)) {
				t.Fatalf("no pings in 20s after the thaw")
			}
			resumed := time.Since(thawedAt)
			h.stop(10 * time.Second)
			log := h.stderrText()
			if tc.withheld && (!strings.Contains(log, "watchdog pings withheld") || !strings.Contains(log, "watchdog pings resumed")) {
				t.Errorf("the agent did not log that it withheld the pings and resumed them")
			}
			t.Logf("frozen: last ping %s after the freeze, silence of %s observed; thawed: 3 pings within %s; %d lines",
				stopped.Sub(frozenAt).Round(time.Millisecond), silence.Round(time.Millisecond), resumed.Round(time.Millisecond), g.seq)
		})
	}
}
