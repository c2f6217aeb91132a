package agent_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAgent_RulesFlagProbesAndFloods: with a web model that has a path
// vocabulary (trained by `sharkfin train` on the bundled sample), the
// agent flags a probe (40 failed requests for never-served paths in a
// minute) and a flood (200 successful POSTs to one never-served path) with
// reason probe and flood, through its outbox, and counts them in
// sharkfin_rule_anomalies_total by rule; a reader of the site's pages is
// not flagged by a rule.
func TestAgent_RulesFlagProbesAndFloods(t *testing.T) {
	bin := sharkfinBinary(t)
	dir := t.TempDir()
	model := filepath.Join(dir, "web.json")
	if out, err := exec.Command(bin, "train", "--format", "combined", "--k", "3", "--seed", "1", "-o", model,
		filepath.Join("..", "examples", "logs", "web-train.log.gz")).CombinedOutput(); err != nil {
		t.Fatalf("train: %v\n%s", err, out)
	}
	if out, err := exec.Command(bin, "model", "inspect", model).CombinedOutput(); err != nil || !strings.Contains(string(out), "floods    a window") {
		t.Fatalf("the model has no flood rule (%v):\n%s", err, out)
	}
	const probe, flood, reader = "198.51.100.20", "198.51.100.21", "198.51.100.22"
	base := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	var b strings.Builder
	line := func(at time.Duration, ip, method, path string, status int) {
		fmt.Fprintf(&b, "%s - - [%s] \"%s %s HTTP/1.1\" %d 512 \"-\" \"Mozilla/5.0\"\n",
			ip, base.Add(at).Format("02/Jan/2006:15:04:05 -0700"), method, path, status)
	}
	for i := range 200 {
		at := time.Duration(i) * 250 * time.Millisecond
		if i < 40 {
			line(at, probe, "GET", fmt.Sprintf("/backup-%d.sql.gz", i), 404)
		}
		line(at, flood, "POST", "/cgi/login-v2.php", 200)
		if i%20 == 0 {
			line(at, reader, "GET", "/", 200)
		}
	}
	logPath := filepath.Join(dir, "access.log")
	if err := os.WriteFile(logPath, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	h := newAgent(t, dir, e2eConfig{Inputs: []e2eInput{{Name: "web", Path: logPath}}, Model: model})
	h.startReady()
	events := newEventLog(h)
	reasons := map[string]string{}
	if !waitFor(30*time.Second, func() bool {
		events.refresh()
		for _, p := range events.ipScores() {
			reasons[p.ev.SrcIP] = p.ev.Reason
			if !p.ev.Anomalous {
				reasons[p.ev.SrcIP] = "not anomalous"
			}
		}
		return len(reasons) == 3
	}) {
		t.Fatalf("not every window scored within 30s: %v", reasons)
	}
	if reasons[probe] != "probe" || reasons[flood] != "flood" || reasons[reader] == "probe" || reasons[reader] == "flood" {
		t.Errorf("reasons %v: want the probe's probe, the flood's flood, the reader's neither", reasons)
	}
	for rule, want := range map[string]float64{"probe": 1, "flood": 1} {
		if n := h.sample("sharkfin_rule_anomalies_total", "input", "web", "rule", rule); n != want {
			t.Errorf("sharkfin_rule_anomalies_total{rule=%q} %v, want %v", rule, n, want)
		}
	}
	h.stop(5 * time.Second)
}
