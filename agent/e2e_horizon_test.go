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
// for 40 minutes, piles up hour_4xx and day_4xx across its windows; a
// kill -9 half way neither loses the sums (the first window after the
// restart carries on from the stored ones, not from 1) nor adds a window
// twice (windows closed again after the restart are re-sent with the same
// values: eventLog checks it). Every window's sums equal the hand
// computation: sum over its past windows j of exp(-(k-j)*60/tau).
func TestAgent_HorizonSumsSurviveKill(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "access.log")
	const minutes, scanner, reader = 40, "203.0.113.50", "198.51.100.20"
	base := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	lines := make([][]string, minutes)
	for m := range minutes {
		at := base.Add(time.Duration(m) * time.Minute)
		ts := func(s int) string { return at.Add(time.Duration(s) * time.Second).Format("02/Jan/2006:15:04:05 -0700") }
		lines[m] = []string{
			fmt.Sprintf("%s - - [%s] \"GET /index.html HTTP/1.1\" 200 5120 \"-\" \"Mozilla/5.0\"\n", reader, ts(3)),
			fmt.Sprintf("%s - - [%s] \"GET /.env.bak%d HTTP/1.1\" 404 196 \"-\" \"Mozilla/5.0\"\n", scanner, ts(10), m),
			fmt.Sprintf("%s - - [%s] \"GET /about.html HTTP/1.1\" 200 2048 \"-\" \"Mozilla/5.0\"\n", reader, ts(40)),
		}
	}
	h := newAgent(t, dir, e2eConfig{Inputs: []e2eInput{{Name: "web", Path: logPath}}})
	written := appendLines(t, logPath, lines[:minutes/2])
	h.startReady()
	h.killOnceCommitted("web", written)
	h.startReady()
	appendLines(t, logPath, lines[minutes/2:])
	events := newEventLog(h)
	got := map[int64]map[string]float64{}
	// The last window stays open (nothing comes after it).
	if !waitFor(60*time.Second, func() bool {
		events.refresh()
		for _, p := range events.ipScores() {
			if p.ev.SrcIP == scanner {
				got[p.ev.WindowStart.Unix()] = p.ev.Features
			}
		}
		return len(got) >= minutes-1
	}) {
		t.Fatalf("the scanner's windows scored within 60s: %d, want %d", len(got), minutes-1)
	}
	for k := range minutes - 1 {
		f := got[base.Add(time.Duration(k)*time.Minute).Unix()]
		if f == nil {
			t.Fatalf("no event of the scanner's window %d", k)
		}
		var hour, day float64
		for j := 0; j <= k; j++ {
			hour += math.Exp(-float64((k-j)*60) / 3600)
			day += math.Exp(-float64((k-j)*60) / 86400)
		}
		for name, want := range map[string]float64{"hits_4xx": 1, "hour_4xx": hour, "day_4xx": day} {
			if g := f[name]; math.Abs(g-want) > 1e-3 { // events carry three decimals
				t.Errorf("window %d: %s = %v, want %v", k, name, g, want)
			}
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
