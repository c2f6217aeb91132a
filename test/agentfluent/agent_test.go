package agentfluent_test

import (
	"github.com/socx/sharkfin/internal/e2etest"

	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// testHost is the host name the agent puts in its events.
const testHost = "node-af"

// agentConfig is what a test varies in the agent's configuration.
type agentConfig struct {
	Dir       string // state, config and logs
	Log       string // the combined-format log followed
	Fluentd   string // receiver host:port
	Metrics   string // metrics host:port
	TLS       bool
	CAFile    string
	OutboxMax string // a size; "" for the default
	// Model is the web model file (default the bundled one); TrustedKeys
	// and ModelCheck are detect.trusted_keys and detect.model_check.
	Model       string
	TrustedKeys []string
	ModelCheck  string
}

// write writes the configuration file and returns its path.
func (c agentConfig) write(t testing.TB) string {
	t.Helper()
	model, err := filepath.Abs(modelPath)
	if err != nil {
		t.Fatal(err)
	}
	if c.Model != "" {
		model = c.Model
	}
	extra := ""
	if len(c.TrustedKeys) > 0 {
		extra += "\n  trusted_keys: [" + strings.Join(c.TrustedKeys, ", ") + "]"
	}
	if c.ModelCheck != "" {
		extra += "\n  model_check: " + c.ModelCheck
	}
	fluentd := []string{"address: " + c.Fluentd, "timeout: 5s"}
	if c.TLS {
		fluentd = append(fluentd, "tls: true")
	}
	if c.CAFile != "" {
		fluentd = append(fluentd, "ca_file: "+c.CAFile)
	}
	if c.OutboxMax != "" {
		fluentd = append(fluentd, "outbox_max: "+c.OutboxMax)
	}
	// The agent's default lateness: a window is closed once the log has
	// been idle that long (wall time). At 1 s, a test's writer starved for
	// a second on a loaded 2-core machine had its next lines counted late
	// (TestAgent_ReceiverOutage: 2,100 of them).
	const lateness = "5s"
	cfg := fmt.Sprintf(`host: %s
log: {level: info, format: text}
inputs:
  - name: web
    path: %s
    format: combined
    start_at: beginning
    rescan_interval: 1s
state:
  path: %s
  flush_interval: 200ms
detect:
  window: 60s
  lateness: %s
  models: {web: %s}
  emit: all%s
output:
  fluentd:
    %s
metrics: {listen: %s}
`, testHost, c.Log, filepath.Join(c.Dir, "state.db"), lateness, model, extra, strings.Join(fluentd, "\n    "), c.Metrics)
	path := filepath.Join(c.Dir, "sharkfin.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// agent runs the sharkfin binary on one configuration, possibly several
// times in a row; the runs' logs go to one file.
type agent struct {
	t       testing.TB
	cfg     string
	metrics string
	stderr  string
	cmd     *exec.Cmd
	done    chan struct{}
	err     error // exit status, once done is closed
	starts  int   // runs started
}

func newAgent(t testing.TB, c agentConfig) *agent {
	t.Helper()
	a := &agent{t: t, cfg: c.write(t), metrics: c.Metrics, stderr: filepath.Join(c.Dir, "agent.log")}
	t.Cleanup(func() {
		if a.running() {
			a.cmd.Process.Kill()
			<-a.done
		}
		if t.Failed() {
			t.Logf("agent log (last 3000 bytes):\n%s", a.logTail(3000))
		}
	})
	return a
}

// start starts a run and waits until it says READY=1 (sd_notify): its
// inputs have taken their start position and its metrics endpoint answers.
func (a *agent) start() {
	a.t.Helper()
	if a.running() {
		a.t.Fatal("start: the agent is already running")
	}
	errf, err := os.OpenFile(a.stderr, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		a.t.Fatal(err)
	}
	defer errf.Close()
	notify := e2etest.ListenNotify(a.t)
	a.cmd = exec.Command(bins.sharkfin, "run", "-c", a.cfg)
	a.cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+notify.Path())
	a.cmd.Stderr = errf
	if err := a.cmd.Start(); err != nil {
		a.t.Fatalf("start agent: %v", err)
	}
	a.starts++
	a.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) {
		a.err = cmd.Wait()
		close(done)
	}(a.cmd, a.done)
	if err := notify.Wait("READY=1", a.done, 20*time.Second); err != nil {
		a.t.Fatalf("agent run %d: %v", a.starts, err)
	}
}

func (a *agent) running() bool {
	if a.done == nil {
		return false
	}
	select {
	case <-a.done:
		return false
	default:
		return true
	}
}

// requireAlive fails the test when the run ended by itself.
func (a *agent) requireAlive() {
	a.t.Helper()
	if a.done != nil && !a.running() {
		a.t.Fatalf("the agent exited (%v); log:\n%s", a.err, a.logTail(3000))
	}
}

// kill ends the run with SIGKILL, as a crash would.
func (a *agent) kill() {
	a.t.Helper()
	a.requireAlive()
	a.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-a.done:
	case <-time.After(10 * time.Second):
		a.t.Fatal("agent still running 10s after SIGKILL")
	}
}

// stop ends the run with SIGTERM and requires exit status 0.
func (a *agent) stop() {
	a.t.Helper()
	a.requireAlive()
	a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.done:
	case <-time.After(20 * time.Second):
		a.cmd.Process.Kill()
		<-a.done
		a.t.Fatal("agent did not exit within 20s of SIGTERM")
	}
	if a.err != nil {
		a.t.Fatalf("agent exited with %v after SIGTERM; log:\n%s", a.err, a.logTail(3000))
	}
}

// logText is everything the runs logged.
func (a *agent) logText() string {
	data, _ := os.ReadFile(a.stderr)
	return string(data)
}

func (a *agent) logTail(n int) string {
	s := a.logText()
	if len(s) > n {
		s = s[len(s)-n:]
	}
	return s
}

// scrape reads the agent's /metrics, summing the samples of a name over
// its labels.
func (a *agent) scrape() (map[string]float64, error) {
	// Prometheus's default scrape timeout: 2 s failed a run on a loaded
	// 2-core machine while the agent wrote a commit of 50,000 events.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return e2etest.ScrapeMetrics(ctx, a.metrics)
}

// metric returns one metric of the running agent, failing the test when
// it cannot be read.
func (a *agent) metric(name string) float64 {
	a.t.Helper()
	a.requireAlive()
	m, err := a.scrape()
	if err != nil {
		a.t.Fatalf("scrape metrics: %v", err)
	}
	return m[name]
}

// rss returns the resident set size of the running agent, in bytes.
func (a *agent) rss() int64 {
	a.t.Helper()
	a.requireAlive()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", a.cmd.Process.Pid))
	if err != nil {
		a.t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				a.t.Fatalf("VmRSS %q: %v", rest, err)
			}
			return kb << 10
		}
	}
	a.t.Fatalf("/proc/%d/status has no VmRSS", a.cmd.Process.Pid)
	return 0
}

// waitFor polls cond every 100ms until it holds or limit passes.
func waitFor(limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}
