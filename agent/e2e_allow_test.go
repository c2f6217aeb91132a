package agent_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// healthLines is an uptime monitor's traffic: GET /health every second
// from ip, for the minutes from base (the bundled web model flags such a
// window: 60 hits of one path in a minute is nobody's browsing).
// healthLines: each source is an address and its user agent.
func healthLines(base time.Time, minutes int, sources ...[2]string) string {
	var b strings.Builder
	for s := range minutes * 60 {
		ts := base.Add(time.Duration(s) * time.Second).Format("02/Jan/2006:15:04:05 -0700")
		for _, src := range sources {
			fmt.Fprintf(&b, "%s - - [%s] \"GET /health HTTP/1.1\" 200 2 \"-\" \"%s\"\n", src[0], ts, src[1])
		}
	}
	return b.String()
}

// TestAgent_AllowlistedMonitorNeverFlagged: an allowlisted monitor hitting
// /health every second is never flagged (its windows are scored and
// counted in sharkfin_allowlisted_windows_total); the same traffic from
// another address is flagged in every window. A SIGHUP that takes the
// monitor off the list makes its next windows flagged too.
func TestAgent_AllowlistedMonitorNeverFlagged(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "access.log")
	base := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	// .7 is listed by address; .9 by its user agent (a monitor whose
	// addresses change); .8 sends the same lines as .7 and is listed by
	// neither.
	lines := healthLines(base, 5, [2]string{"198.51.100.7", "curl/8.5"}, [2]string{"198.51.100.8", "curl/8.5"},
		[2]string{"198.51.100.9", "Mozilla/5.0 UptimeRobot/2.0"})
	if err := os.WriteFile(logPath, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := e2eConfig{Inputs: []e2eInput{{Name: "web", Path: logPath, Allow: []string{"198.51.100.7/32", "2001:db8::/32"},
		AllowAgents: []string{"UptimeRobot/"}}}}
	h := newAgent(t, dir, cfg)
	h.startReady()
	events := newEventLog(h)
	windows := func(ip string) (flagged, total int) {
		for _, p := range events.ipScores() {
			if p.ev.SrcIP == ip {
				total++
				if p.ev.Anomalous {
					flagged++
					if p.ev.Reason == "" || len(p.ev.Explain) == 0 { // no severity: the example model has no calibration
						t.Errorf("a flagged window without its verdict: %+v", p.ev)
					}
				} else if p.ev.Reason != "" || p.ev.Severity != nil || len(p.ev.Explain) > 0 {
					t.Errorf("a window not flagged carries a verdict: %+v", p.ev)
				}
			}
		}
		return flagged, total
	}
	if !waitFor(30*time.Second, func() bool {
		events.refresh()
		_, a := windows("198.51.100.7")
		_, b := windows("198.51.100.8")
		_, c := windows("198.51.100.9")
		return a == 5 && b == 5 && c == 5
	}) {
		t.Fatalf("not every window scored within 30s")
	}
	if f, _ := windows("198.51.100.7"); f != 0 {
		t.Errorf("the allowlisted monitor was flagged in %d windows", f)
	}
	if f, _ := windows("198.51.100.9"); f != 0 {
		t.Errorf("the monitor allowlisted by its user agent was flagged in %d windows", f)
	}
	if f, _ := windows("198.51.100.8"); f != 5 {
		t.Errorf("the same traffic from another address flagged in %d of 5 windows", f)
	}
	if n := h.sample("sharkfin_allowlisted_windows_total", "input", "web"); n != 10 {
		t.Errorf("allowlisted windows %v, want 10", n)
	}
	// Off the list (SIGHUP): the monitor's next windows are flagged.
	cfg.Inputs[0].Allow = nil
	cfg.Metrics = h.metrics
	writeConfig(t, dir, cfg)
	h.signal(syscall.SIGHUP)
	// READY=1 again once the reload is done (RELOADING=1 before it).
	if r := h.current(); r.notify.WaitCount("READY=1", 2, r.done, 10*time.Second) != nil {
		t.Fatal("no READY=1 after the reload within 10s")
	}
	f, err := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(healthLines(base.Add(5*time.Minute), 2, [2]string{"198.51.100.7", "curl/8.5"})); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if !waitFor(30*time.Second, func() bool {
		events.refresh()
		_, a := windows("198.51.100.7")
		return a == 7
	}) {
		t.Fatal("the monitor's windows after the reload were not scored within 30s")
	}
	if f, _ := windows("198.51.100.7"); f != 2 {
		t.Errorf("after it left the list, the monitor was flagged in %d of its 2 new windows", f)
	}
}
