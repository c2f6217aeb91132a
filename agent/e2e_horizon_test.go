package agent_test

import (
	"fmt"
	"math"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAgent_HorizonSumsSurviveKill: a trickle scanner, one 404 a minute
// for 40 minutes on a never-served path, piles up hour_4xx, day_4xx,
// hour_rare_errors and hour_new_rare_errors across its windows; a browser
// retrying one broken never-served URL every minute piles up
// hour_rare_errors but its hour_new_rare_errors only decays from its first
// window. A kill -9 half way neither loses the sums nor the paths the
// retrier failed on (the first window after the restart carries on from
// the stored ones, not from 1) nor adds a window twice (windows closed
// again after the restart are re-sent with the same values: eventLog
// checks it). Every window's sums equal the hand computation: sum over its
// past windows j of exp(-(k-j)*60/tau). The model has a path vocabulary
// (`sharkfin train` on the bundled sample), so the paths are rare.
func TestAgent_HorizonSumsSurviveKill(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "access.log")
	model := filepath.Join(dir, "web.json")
	if out, err := exec.Command(sharkfinBinary(t), "train", "--format", "combined", "--k", "3", "--seed", "1", "-o", model,
		filepath.Join("..", "examples", "logs", "web-train.log.gz")).CombinedOutput(); err != nil {
		t.Fatalf("train: %v\n%s", err, out)
	}
	const minutes, scanner, reader, retrier = 40, "203.0.113.50", "198.51.100.20", "198.51.100.30"
	base := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	lines := make([][]string, minutes)
	for m := range minutes {
		at := base.Add(time.Duration(m) * time.Minute)
		ts := func(s int) string { return at.Add(time.Duration(s) * time.Second).Format("02/Jan/2006:15:04:05 -0700") }
		lines[m] = []string{
			fmt.Sprintf("%s - - [%s] \"GET /index.html HTTP/1.1\" 200 5120 \"-\" \"Mozilla/5.0\"\n", reader, ts(3)),
			fmt.Sprintf("%s - - [%s] \"GET /.env.bak%d HTTP/1.1\" 404 196 \"-\" \"Mozilla/5.0\"\n", scanner, ts(10), m),
			fmt.Sprintf("%s - - [%s] \"GET /api/socket HTTP/1.1\" 405 120 \"-\" \"Mozilla/5.0\"\n", retrier, ts(20)),
			fmt.Sprintf("%s - - [%s] \"GET /about.html HTTP/1.1\" 200 2048 \"-\" \"Mozilla/5.0\"\n", reader, ts(40)),
		}
	}
	h := newAgent(t, dir, e2eConfig{Inputs: []e2eInput{{Name: "web", Path: logPath}}, Model: model})
	written := appendLines(t, logPath, lines[:minutes/2])
	h.startReady()
	h.killOnceCommitted("web", written)
	h.startReady()
	appendLines(t, logPath, lines[minutes/2:])
	events := newEventLog(h)
	got := map[int64]map[string]float64{}
	retried := map[int64]map[string]float64{}
	// The last window stays open (nothing comes after it).
	if !waitFor(60*time.Second, func() bool {
		events.refresh()
		for _, p := range events.ipScores() {
			switch p.ev.SrcIP {
			case scanner:
				got[p.ev.WindowStart.Unix()] = p.ev.Features
			case retrier:
				retried[p.ev.WindowStart.Unix()] = p.ev.Features
			}
		}
		return len(got) >= minutes-1 && len(retried) >= minutes-1
	}) {
		t.Fatalf("the scanner's and the retrier's windows scored within 60s: %d and %d, want %d", len(got), len(retried), minutes-1)
	}
	collided := map[string]int{}
	for k := range minutes - 1 {
		f, r := got[base.Add(time.Duration(k)*time.Minute).Unix()], retried[base.Add(time.Duration(k)*time.Minute).Unix()]
		if f == nil || r == nil {
			t.Fatalf("no event of the scanner's or the retrier's window %d", k)
		}
		var hour, day float64
		for j := 0; j <= k; j++ {
			hour += math.Exp(-float64((k-j)*60) / 3600)
			day += math.Exp(-float64((k-j)*60) / 86400)
		}
		for name, want := range map[string]float64{"hits_4xx": 1, "hour_4xx": hour, "day_4xx": day,
			"rare_errors": 1, "hour_rare_errors": hour} {
			if g := f[name]; math.Abs(g-want) > 1e-3 { // events carry three decimals
				t.Errorf("scanner window %d: %s = %v, want %v", k, name, g, want)
			}
		}
		// Every probe is new, unless its path's 16-bit tag (keyed by the
		// state's random key) is one of the four before it: about once in
		// 400 runs of this test one window's term is missing, and that
		// window, adding no new rare error, carries 0.
		for name, want := range map[string]float64{"hour_new_rare_errors": hour, "day_new_rare_errors": day} {
			if g := f[name]; g == 0 && k > 0 {
				collided[name]++
			} else if g > want+1e-3 || g < want-1-1e-3 {
				t.Errorf("scanner window %d: %s = %v, want %v (at most one window's term less)", k, name, g, want)
			}
		}
		// The retrier's one path is new in its first window only: later
		// windows, before and after the kill -9, remember it and carry 0.
		retrierNew := 0.0
		if k == 0 {
			retrierNew = 1
		}
		for name, want := range map[string]float64{"rare_errors": 1, "hour_rare_errors": hour, "hour_new_rare_errors": retrierNew} {
			if g := r[name]; math.Abs(g-want) > 1e-3 {
				t.Errorf("retrier window %d: %s = %v, want %v", k, name, g, want)
			}
		}
	}
	for name, n := range collided {
		if n > 1 {
			t.Errorf("scanner: %d windows with %s 0, want at most one (a tag collision)", n, name)
		}
	}
	// The reader never failed: no sums.
	for _, p := range events.ipScores() {
		if p.ev.SrcIP == reader && (p.ev.Features["hour_4xx"] != 0 || p.ev.Features["day_4xx"] != 0) {
			t.Errorf("the reader's window %s has sums %v", p.ev.WindowStart, p.ev.Features)
		}
	}
	// sharkfin state ip shows the stored sums, read while the agent runs.
	out, err := exec.Command(sharkfinBinary(t), "state", "-c", h.cfg, "ip", scanner).CombinedOutput()
	if err != nil {
		t.Fatalf("sharkfin state ip: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "input web: failures") || !strings.Contains(string(out), "hour_4xx ") {
		t.Errorf("sharkfin state ip %s shows no sums:\n%s", scanner, out)
	}
	if out, _ := exec.Command(sharkfinBinary(t), "state", "-c", h.cfg, "ip", reader).CombinedOutput(); strings.Contains(string(out), "failures") {
		t.Errorf("sharkfin state ip %s shows sums for a reader that never failed:\n%s", reader, out)
	}
	t.Logf("scanner: hour_4xx %.3f and day_4xx %.3f in its window %d, through a kill -9 after window %d",
		got[base.Add(time.Duration(minutes-2)*time.Minute).Unix()]["hour_4xx"],
		got[base.Add(time.Duration(minutes-2)*time.Minute).Unix()]["day_4xx"], minutes-2, minutes/2-2)
}
