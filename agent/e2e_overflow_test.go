package agent_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestAgent_ClientNamedOverflow: a log whose client field reads "overflow"
// gets ip_score events of its own, with ids of its own, and no overflow
// notice; the overflow row of a window past max_keys is flagged
// "overflow": true beside it, with another id.
func TestAgent_ClientNamedOverflow(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "access.log")
	var lines []byte
	line := func(at time.Time, client string) { lines = appendGet(lines, at, client) }
	w0 := e2eEpoch
	// Window 0 under the cap of 3 keys: overflow and one other client.
	line(w0.Add(time.Second), "overflow")
	line(w0.Add(2*time.Second), "192.0.2.1")
	line(w0.Add(3*time.Second), "overflow")
	// Window 1 past the cap: overflow, two clients, then two more.
	w1 := w0.Add(time.Minute)
	for i, c := range []string{"overflow", "192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "overflow"} {
		line(w1.Add(time.Duration(i)*time.Second), c)
	}
	line(w0.Add(3*time.Minute), "192.0.2.9") // event time moves on: both windows close
	if err := os.WriteFile(logPath, lines, 0o644); err != nil {
		t.Fatal(err)
	}
	h := newAgent(t, dir, e2eConfig{Inputs: []e2eInput{{Name: "web", Path: logPath}}, MaxKeys: 3})
	events := newEventLog(h)
	h.startReady()
	type row struct {
		start    int64
		overflow bool
	}
	var got map[row]float64
	ids := map[string]bool{}
	ok := waitFor(20*time.Second, func() bool {
		h.requireAlive()
		events.refresh()
		got = map[row]float64{}
		clear(ids)
		for _, p := range events.ipScores() {
			if p.ev.SrcIP == "overflow" {
				got[row{p.ev.WindowStart.Unix(), p.ev.Overflow}] += p.ev.Features["hits"]
				ids[p.ev.EventID] = true
			}
		}
		return len(got) == 3
	})
	h.stop(5 * time.Second)
	want := map[row]float64{{w0.Unix(), false}: 2, {w1.Unix(), false}: 2, {w1.Unix(), true}: 2}
	if !ok || fmt.Sprint(got) != fmt.Sprint(want) || len(ids) != 3 {
		t.Errorf("src_ip \"overflow\" events %v with %d ids, want %v with 3", got, len(ids), want)
	}
	if n := len(events.agentEvents("window key cap reached; excess sources counted under overflow")); n != 1 {
		t.Errorf("%d overflow notices, want 1 (window 1 only)", n)
	}
}
