package packaging

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/socx/sharkfin/internal/e2etest"
	"github.com/socx/sharkfin/internal/forwardtest"
)

// TestDeb_UpgradeKeepsStateAndOutbox is an operator's upgrade: the
// previous build (oldCommit, state schema 2) runs from its package with
// Fluentd down, so its state holds offsets, counters and undelivered
// events; it is stopped, the new package is installed over it, and the new
// agent resumes: every line counted once, every closed window's events
// delivered (duplicates only as identical retries of one event_id). The
// edited configuration survives the upgrade. Then a downgrade to the old
// package: the old agent refuses the upgraded (schema 3) state file and
// leaves it as it was.
func TestDeb_UpgradeKeepsStateAndOutbox(t *testing.T) {
	needRoot(t, "unshare", "dpkg", "chroot", "setpriv")
	newDeb, _ := newPackages(t)
	logs, cfgDir, pkgs := t.TempDir(), t.TempDir(), t.TempDir()
	r := newScratchRoot(t, map[string]string{"/srv/pkgs": pkgs, "/srv/logs": logs, "/srv/cfg": cfgDir})
	oldDeb := oldPackage(t)
	for _, p := range []string{oldDeb, newDeb} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(pkgs, filepath.Base(p)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	inside := func(p string) string { return "/srv/pkgs/" + filepath.Base(p) }
	receiverBin, err := forwardtest.Build(repoRoot(t), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}

	// The log: readable through group adm only, as Debian's web logs are.
	if err := os.Chmod(logs, 0o750); err != nil {
		t.Fatal(err)
	}
	adm := admGID(t)
	if err := os.Chown(logs, 0, adm); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(logs, "access.log")
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	if err := os.Chown(logPath, 0, adm); err != nil {
		t.Fatal(err)
	}

	fluentd, metrics := e2etest.FreeAddr(t), e2etest.FreeAddr(t)
	config := fmt.Sprintf(`# edited by the operator
inputs:
  - name: web
    path: /srv/logs/access.log
    format: combined
    start_at: beginning
state: { path: /var/lib/sharkfin/state.db }
detect:
  window: 60s
  lateness: 5s
  models: { web: /etc/sharkfin/models/web.json }
  emit: all
output:
  fluentd: { address: "%s", timeout: 2s }
metrics: { listen: "%s" }
`, fluentd, metrics)
	if err := os.WriteFile(filepath.Join(cfgDir, "sharkfin.yaml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}

	// The previous release, installed and configured.
	r.run("dpkg", "-i", inside(oldDeb))
	r.run("cp", "/srv/cfg/sharkfin.yaml", "/etc/sharkfin/sharkfin.yaml")

	truth := map[winKey]int{}
	base := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	write := func(fromWin, toWin int) int {
		w := bufio.NewWriter(lf)
		n := 0
		for win := fromWin; win < toWin; win++ {
			for ip := range 20 {
				for j := range 1 + ip%3 {
					ts := base.Add(time.Duration(win)*time.Minute + time.Duration(ip+j)*time.Second)
					addr := fmt.Sprintf("198.51.100.%d", ip+1)
					fmt.Fprintf(w, "%s - - [%s] \"GET /p/%d HTTP/1.1\" 200 512 \"-\" \"test\"\n", addr, ts.Format("02/Jan/2006:15:04:05 -0700"), j)
					truth[winKey{addr, ts.Truncate(time.Minute).Format(time.RFC3339)}]++
					n++
				}
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// Phase 1: windows 0-4 closed by a line of window 5; Fluentd is down.
	n1 := write(0, 6)
	closed1 := 5 * 20
	old := startAgent(t, r)
	waitMetrics(t, old, metrics, 60*time.Second, func(m map[string]float64) bool {
		return m["sharkfin_lines_read_total"] == float64(n1) && m["sharkfin_events_queued_total"] >= float64(closed1)
	})
	if m, _ := e2etest.ScrapeMetrics(context.Background(), metrics); m["sharkfin_events_delivered_total"] != 0 {
		t.Fatalf("events delivered with Fluentd down: %v", m["sharkfin_events_delivered_total"])
	}
	old.stop(t)

	// Phase 2: the upgrade. Configuration and state kept.
	r.run("dpkg", "-i", inside(newDeb))
	if v := strings.TrimSpace(r.run("dpkg-query", "-W", "-f=${Version}", "sharkfin")); v != newVersion+"-1" {
		t.Fatalf("installed version %s after the upgrade, want %s-1", v, newVersion)
	}
	if got := r.read("/etc/sharkfin/sharkfin.yaml"); got != config {
		t.Fatalf("the upgrade replaced the edited configuration:\n%s", got)
	}
	entries := filepath.Join(t.TempDir(), "entries.jsonl")
	forwardtest.Start(t, receiverBin, fluentd, entries)
	agent := startAgent(t, r)
	n2 := write(6, 10)
	// A line of window 12 closes windows 5-9 (window 5 holds phase 1's last line).
	n2 += write(12, 13)
	want := map[winKey]int{}
	for k, v := range truth {
		if k.window < base.Add(10*time.Minute).Format(time.RFC3339) {
			want[k] = v
		}
	}
	var got map[winKey]int
	deadline := time.Now().Add(90 * time.Second)
	for {
		var dups int
		got, dups = readScores(t, entries)
		if len(got) >= len(want) || time.Now().After(deadline) {
			t.Logf("%d ip-windows delivered (%d identical retries), %d lines after the upgrade", len(got), dups, n2)
			break
		}
		select {
		case <-agent.exited:
			t.Fatalf("the upgraded agent exited: %s", agent.stderr.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
	for k := range got {
		if k.window >= base.Add(10*time.Minute).Format(time.RFC3339) {
			delete(got, k) // the sentinel's window may close on stop
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("per-IP per-window hits after the upgrade differ from the lines written: %s", diffCounts(got, want))
	}
	agent.stop(t)

	// Phase 3: a downgrade across the schema change is refused, and the
	// state file is left as it was.
	sum := func() [32]byte {
		b, err := os.ReadFile(r.upperPath("/var/lib/sharkfin/state.db"))
		if err != nil {
			t.Fatal(err)
		}
		return sha256.Sum256(b)
	}
	before := sum()
	r.run("dpkg", "-i", inside(oldDeb))
	cmd := r.command("setpriv", "--reuid=sharkfin", "--regid=sharkfin", "--init-groups",
		"sharkfin", "run", "-c", "/etc/sharkfin/sharkfin.yaml")
	done := make(chan struct{})
	var refusal []byte
	var runErr error
	go func() { refusal, runErr = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("the old agent ran on a newer state file instead of refusing it")
	}
	var ee *exec.ExitError
	if !errors.As(runErr, &ee) || ee.ExitCode() == 0 || !strings.Contains(string(refusal), "unsupported state schema: file has version 3, this sharkfin reads up to 2") {
		t.Fatalf("downgraded agent: %v\n%s", runErr, refusal)
	}
	if sum() != before {
		t.Error("the refused downgrade changed the state file")
	}
	t.Logf("downgrade refused: %s", strings.TrimSpace(lastLine(string(refusal))))
}

type winKey struct{ ip, window string }

// readScores returns the hits of every delivered ip_score event by IP and
// window, failing on two different events with one event_id.
func readScores(t testing.TB, path string) (map[winKey]int, int) {
	t.Helper()
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[winKey]int{}, 0
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := map[winKey]int{}
	seen := map[string]string{}
	dups := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		e, err := forwardtest.DecodeEntry(sc.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if e.Record["type"] != "ip_score" {
			continue
		}
		id, _ := e.Record["event_id"].(string)
		body := fmt.Sprint(e.Record)
		if prev, ok := seen[id]; ok {
			if prev != body {
				t.Fatalf("event_id %s delivered twice with different contents:\n%s\n%s", id, prev, body)
			}
			dups++
			continue
		}
		seen[id] = body
		feats, _ := e.Record["features"].(map[string]any)
		hits, _ := feats["hits"].(int64)
		k := winKey{fmt.Sprint(e.Record["src_ip"]), fmt.Sprint(e.Record["window_start"])}
		if _, ok := got[k]; ok {
			t.Fatalf("two events for %v with different event_ids", k)
		}
		got[k] = int(hits)
	}
	return got, dups
}

func diffCounts(got, want map[winKey]int) string {
	var b strings.Builder
	n := 0
	for k, w := range want {
		if g, ok := got[k]; !ok || g != w {
			if n < 10 {
				fmt.Fprintf(&b, "\n  %v: got %d (delivered %v), want %d", k, g, ok, w)
			}
			n++
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			if n < 10 {
				fmt.Fprintf(&b, "\n  %v: got %d, never written", k, g)
			}
			n++
		}
	}
	return fmt.Sprintf("%d keys differ (of %d written, %d delivered)%s", n, len(want), len(got), b.String())
}

// runningAgent is the packaged agent run in the scratch root as the
// sharkfin user.
type runningAgent struct {
	cmd    *exec.Cmd
	stderr *forwardtest.LockedBuffer
	exited chan struct{}
}

func startAgent(t testing.TB, r *scratchRoot) *runningAgent {
	t.Helper()
	cmd := r.command("setpriv", "--reuid=sharkfin", "--regid=sharkfin", "--init-groups",
		"sharkfin", "run", "-c", "/etc/sharkfin/sharkfin.yaml")
	// The command execs its way to the agent (unshare, sh, chroot,
	// setpriv): one process, killed if this test binary dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	a := &runningAgent{cmd: cmd, stderr: &forwardtest.LockedBuffer{}, exited: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			a.stderr.WriteLine(sc.Text())
		}
		_ = cmd.Wait()
		close(a.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-a.exited:
		default:
			_ = cmd.Process.Kill()
			<-a.exited
		}
	})
	return a
}

// stop sends SIGTERM and waits for a clean exit (5 s, the README's word).
func (a *runningAgent) stop(t testing.TB) {
	t.Helper()
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-a.exited:
	case <-time.After(5 * time.Second):
		t.Fatalf("agent still running 5 s after SIGTERM:\n%s", a.stderr.String())
	}
	if code := a.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("agent exited %d after SIGTERM:\n%s", code, a.stderr.String())
	}
}

// waitMetrics polls the agent's /metrics until cond holds (or fails the
// test after limit, or when the agent exits).
func waitMetrics(t testing.TB, a *runningAgent, addr string, limit time.Duration, cond func(map[string]float64) bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	var m map[string]float64
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		m, _ = e2etest.ScrapeMetrics(ctx, addr)
		cancel()
		if m != nil && cond(m) {
			return
		}
		select {
		case <-a.exited:
			t.Fatalf("agent exited:\n%s", a.stderr.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatalf("metrics not reached after %s: lines_read %v, events_queued %v\n%s", limit,
		m["sharkfin_lines_read_total"], m["sharkfin_events_queued_total"], a.stderr.String())
}

func admGID(t testing.TB) int {
	t.Helper()
	out, err := exec.Command("getent", "group", "adm").Output()
	if err != nil {
		t.Skip("no adm group on this machine")
	}
	var gid int
	parts := strings.Split(strings.TrimSpace(string(out)), ":")
	if len(parts) < 3 {
		t.Fatalf("getent group adm: %q", out)
	}
	if _, err := fmt.Sscan(parts[2], &gid); err != nil {
		t.Fatal(err)
	}
	return gid
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
