package agent_test

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAgent_HTTPEndpoints checks the metrics listener: /healthz and
// /readyz answer once the agent is ready, and the profiler is there only
// when metrics.pprof asks for it.
func TestAgent_HTTPEndpoints(t *testing.T) {
	get := func(addr, path string) (int, string) {
		t.Helper()
		c := &http.Client{Timeout: 5 * time.Second}
		resp, err := c.Get("http://" + addr + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	for _, pprof := range []bool{false, true} {
		dir := t.TempDir()
		logPath := filepath.Join(dir, "access.log")
		writeLog(t, logPath, newTraffic("web", 4, 1, 10*time.Millisecond), 100)
		h := newAgent(t, dir, e2eConfig{Inputs: []e2eInput{{Name: "web", Path: logPath}}, Pprof: pprof})
		h.startReady()
		if code, body := get(h.metrics, "/healthz"); code != http.StatusOK {
			t.Errorf("/healthz: %d %q", code, body)
		}
		if code, body := get(h.metrics, "/readyz"); code != http.StatusOK || !strings.Contains(body, "ready") {
			t.Errorf("/readyz after READY=1: %d %q", code, body)
		}
		want := http.StatusNotFound
		if pprof {
			want = http.StatusOK
		}
		if code, _ := get(h.metrics, "/debug/pprof/"); code != want {
			t.Errorf("pprof %v: /debug/pprof/ answered %d, want %d", pprof, code, want)
		}
		h.stop(5 * time.Second)
	}
}

// TestAgent_MetricsFollowPrometheus scrapes a running agent's /metrics:
// counts are counters named _total, the rest gauges or histograms, and
// promtool (Debian's prometheus package) finds nothing to say about them
// when it is installed (.ci/run installs it).
func TestAgent_MetricsFollowPrometheus(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "access.log")
	g := newTraffic("web", 8, 2, 100*time.Millisecond)
	writeLog(t, logPath, g, 2000)
	f, err := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("not an access log line\n"); err != nil { // a rejection: its series appears
		t.Fatal(err)
	}
	f.Close()
	h := newAgent(t, dir, e2eConfig{Inputs: []e2eInput{{Name: "web", Path: logPath}}})
	events := newEventLog(h)
	h.startReady()
	events.waitCounts(g.truth, 20*time.Second)
	// Wait for a rescan so that per-file metrics are there.
	code, text := 0, ""
	c := &http.Client{Timeout: 5 * time.Second}
	if !waitFor(5*time.Second, func() bool {
		resp, err := c.Get("http://" + h.metrics + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		code, text = resp.StatusCode, string(body)
		return strings.Contains(text, "sharkfin_file_lag_bytes{")
	}) {
		t.Fatalf("no per-file metrics in the scrape (%d):\n%s", code, text)
	}
	h.stop(5 * time.Second)

	types := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		if f := strings.Fields(line); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			types[f[2]] = f[3]
		}
	}
	want := map[string]string{
		"sharkfin_lines_read_total": "counter", "sharkfin_lines_parsed_total": "counter",
		"sharkfin_lines_rejected_total": "counter", "sharkfin_lines_late_total": "counter",
		"sharkfin_lines_overflowed_total": "counter", "sharkfin_windows_closed_total": "counter",
		"sharkfin_file_rotations_total": "counter", "sharkfin_file_truncations_total": "counter",
		"sharkfin_file_missed_generations_total": "counter", "sharkfin_model_rejections_total": "counter",
		"sharkfin_files_followed": "gauge", "sharkfin_file_lag_bytes": "gauge",
		"sharkfin_state_last_commit_timestamp_seconds": "gauge", "sharkfin_state_commit_seconds": "histogram",
	}
	for name, typ := range want {
		if types[name] != typ {
			t.Errorf("%s is a %q, want a %s", name, types[name], typ)
		}
	}
	for name, typ := range types {
		if strings.HasPrefix(name, "sharkfin_") && (typ == "counter") != strings.HasSuffix(name, "_total") {
			t.Errorf("%s is a %s: only counters end in _total", name, typ)
		}
	}

	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (apt-get install prometheus): metric names not linted")
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}
