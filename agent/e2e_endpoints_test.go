package agent_test

import (
	"io"
	"net/http"
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
