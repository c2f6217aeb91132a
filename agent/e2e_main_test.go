package agent_test

// End-to-end tests: the real sharkfin binary, built once per test process,
// follows log files written by the test and prints its events on stdout;
// the tests compare the events with the ground truth of what they wrote.
// They are skipped with -short. SHARKFIN_E2E_LONG=1 runs the bigger
// variants; SHARKFIN_E2E_SEED sets the seed of the randomised ones.

import (
	"github.com/socx/sharkfin/internal/e2etest"

	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// e2eBuild is the binary built for this test process.
var e2eBuild struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if e2eBuild.dir != "" {
		os.RemoveAll(e2eBuild.dir)
	}
	os.Exit(code)
}

// sharkfinBinary returns the path of the sharkfin binary, building it from
// the module root on first use; it skips the test with -short.
func sharkfinBinary(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test of the sharkfin binary: skipped with -short")
	}
	e2eBuild.once.Do(func() {
		root, err := filepath.Abs("..")
		if err != nil {
			e2eBuild.err = err
			return
		}
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
			e2eBuild.err = fmt.Errorf("module root not found above the agent package: %w", err)
			return
		}
		dir, err := os.MkdirTemp("", "sharkfin-e2e-")
		if err != nil {
			e2eBuild.err = err
			return
		}
		// Readable by the unprivileged user some tests run the agent as.
		if err := os.Chmod(dir, 0o755); err != nil {
			e2eBuild.err = err
			return
		}
		e2eBuild.dir = dir
		bin := filepath.Join(dir, "sharkfin")
		cmd := exec.Command("go", "build", "-o", bin, "./cmd/sharkfin")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			e2eBuild.err = fmt.Errorf("go build ./cmd/sharkfin: %v\n%s", err, out)
			return
		}
		e2eBuild.bin = bin
	})
	if e2eBuild.err != nil {
		t.Fatal(e2eBuild.err)
	}
	return e2eBuild.bin
}

// longE2E reports whether the bigger variants were asked for.
func longE2E() bool { return e2etest.Long() }

// e2eSeed is the seed of randomised tests: SHARKFIN_E2E_SEED or def.
func e2eSeed(t testing.TB, def uint64) uint64 { return e2etest.Seed(t, def) }

// agentRun is one process of the agent.
type agentRun struct {
	cmd     *exec.Cmd
	stdout  string // file receiving the events
	stderr  string // file receiving the agent's log
	started time.Time
	done    chan struct{}
	err     error // exit status, valid once done is closed
	killed  bool  // stopped with SIGKILL
	notify  *e2etest.Notify
}

// exited reports whether the process has ended.
func (r *agentRun) exited() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// exitCode is the exit status of an ended process (-1 for a signal).
func (r *agentRun) exitCode() int {
	var ee *exec.ExitError
	if errors.As(r.err, &ee) {
		return ee.ExitCode()
	}
	if r.err != nil {
		return -1
	}
	return 0
}

// agentHarness runs the agent on one configuration, possibly several times
// in a row; every run's stdout and stderr are kept in files of their own.
type agentHarness struct {
	t    *testing.T
	bin  string
	cfg  string
	dir  string
	cred *syscall.Credential // run as this user (nil: as the test)
	env  []string            // added to every run's environment
	runs []*agentRun
	// metrics is the agent's metrics address, when the test turned the
	// endpoint on: failures then show the agent's own counts.
	metrics string
	// stalledStdout gives the next run a pipe for stdout that the test
	// does not read (the read end is kept, so writes block once it holds
	// 64 KiB) instead of a file; stalled is its read end.
	stalledStdout bool
	stalled       *os.File
}

func newHarness(t *testing.T, cfgPath string) *agentHarness {
	t.Helper()
	h := &agentHarness{t: t, bin: sharkfinBinary(t), cfg: cfgPath, dir: filepath.Dir(cfgPath)}
	t.Cleanup(func() {
		for _, r := range h.runs {
			if !r.exited() {
				_ = r.cmd.Process.Kill()
				<-r.done
			}
		}
		if t.Failed() {
			h.dumpStderr()
		}
	})
	return h
}

// newAgent writes the configuration c into dir, with the metrics endpoint
// on a free loopback port unless c names one, and returns its harness.
func newAgent(t *testing.T, dir string, c e2eConfig) *agentHarness {
	t.Helper()
	if c.Metrics == "" {
		c.Metrics = e2etest.FreeAddr(t)
	}
	h := newHarness(t, writeConfig(t, dir, c))
	h.metrics = c.Metrics
	return h
}

// start starts a new run of the agent.
func (h *agentHarness) start() *agentRun {
	h.t.Helper()
	n := len(h.runs)
	r := &agentRun{
		stdout: filepath.Join(h.dir, fmt.Sprintf("run%03d.stdout", n)),
		stderr: filepath.Join(h.dir, fmt.Sprintf("run%03d.stderr", n)),
		done:   make(chan struct{}),
	}
	out, err := os.Create(r.stdout)
	if err != nil {
		h.t.Fatal(err)
	}
	defer out.Close()
	if h.stalledStdout {
		pr, pw, err := os.Pipe()
		if err != nil {
			h.t.Fatal(err)
		}
		h.t.Cleanup(func() { pr.Close() })
		defer pw.Close()
		h.stalled, out = pr, pw
		h.stalledStdout = false
	}
	errf, err := os.Create(r.stderr)
	if err != nil {
		h.t.Fatal(err)
	}
	defer errf.Close()
	r.notify = e2etest.ListenNotify(h.t)
	r.cmd = exec.Command(h.bin, "run", "-c", h.cfg)
	r.cmd.Env = append(append(os.Environ(), h.env...), "NOTIFY_SOCKET="+r.notify.Path())
	r.cmd.Stdout, r.cmd.Stderr = out, errf
	if h.cred != nil {
		r.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: h.cred}
	}
	r.started = time.Now()
	if err := r.cmd.Start(); err != nil {
		h.t.Fatalf("start agent: %v", err)
	}
	go func() {
		r.err = r.cmd.Wait()
		close(r.done)
	}()
	h.runs = append(h.runs, r)
	return r
}

// startReady starts a new run of the agent and waits until it says
// READY=1 (sd_notify): every input has taken its start position, so what
// the test writes or rotates from now on is seen.
func (h *agentHarness) startReady() *agentRun {
	h.t.Helper()
	r := h.start()
	h.waitReady(r)
	return r
}

// waitReady waits for the READY=1 of run r, failing the test if r exits
// first or 30s pass.
func (h *agentHarness) waitReady(r *agentRun) {
	h.t.Helper()
	if err := r.notify.Wait("READY=1", r.done, 30*time.Second); err != nil {
		h.t.Fatalf("agent run %d: %v; stderr:\n%s", len(h.runs)-1, err, tail(r.stderr, 3000))
	}
}

// current is the latest run, which may have ended.
func (h *agentHarness) current() *agentRun {
	if len(h.runs) == 0 {
		return nil
	}
	return h.runs[len(h.runs)-1]
}

// running reports whether the latest run is alive.
func (h *agentHarness) running() bool {
	r := h.current()
	return r != nil && !r.exited()
}

// kill stops the latest run with SIGKILL and waits for it.
func (h *agentHarness) kill() {
	h.t.Helper()
	r := h.current()
	if r == nil || r.exited() {
		h.t.Fatalf("kill: the agent is not running (run %d: %v)", len(h.runs)-1, r.err)
	}
	r.killed = true
	_ = r.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		h.t.Fatal("agent still alive 10s after SIGKILL")
	}
}

// stop sends SIGTERM to the latest run and waits up to limit for it to
// exit; it returns how long that took and fails the test if the run did
// not exit 0 in time.
func (h *agentHarness) stop(limit time.Duration) time.Duration {
	h.t.Helper()
	r := h.current()
	if r == nil || r.exited() {
		h.t.Fatalf("stop: the agent is not running (exit: %v)", r.err)
	}
	start := time.Now()
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(limit):
		_ = r.cmd.Process.Kill()
		<-r.done
		h.t.Fatalf("agent did not exit within %s of SIGTERM", limit)
	}
	took := time.Since(start)
	if c := r.exitCode(); c != 0 {
		h.t.Fatalf("agent exited %d after SIGTERM (%v); stderr:\n%s", c, r.err, tail(r.stderr, 2000))
	}
	return took
}

// signal sends sig to the latest run.
func (h *agentHarness) signal(sig syscall.Signal) {
	h.t.Helper()
	r := h.current()
	if r == nil || r.exited() {
		h.t.Fatalf("signal %v: the agent is not running", sig)
	}
	if err := r.cmd.Process.Signal(sig); err != nil {
		h.t.Fatal(err)
	}
}

// requireAlive fails the test when the latest run ended on its own.
func (h *agentHarness) requireAlive() {
	h.t.Helper()
	if r := h.current(); r != nil && r.exited() && !r.killed {
		h.t.Fatalf("the agent exited by itself (%v); stderr:\n%s", r.err, tail(r.stderr, 3000))
	}
}

// waitSomethingRead returns the lines the running agent has read as soon
// as it has read any, so a test can stop it mid-ingest. It looks often:
// the agent reads millions of lines a second, and a slow look finds the
// whole backlog read.
func (h *agentHarness) waitSomethingRead(limit time.Duration) float64 {
	h.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		h.requireAlive()
		if read, err := h.readLines(); err == nil && read > 0 {
			return read
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("the agent read nothing in %v", limit)
		}
		time.Sleep(2 * time.Millisecond) // polling interval, not synchronisation
	}
}

// stopMidIngest starts the agent n times and stops each run by SIGTERM
// as soon as it has read something; it returns what each run had read
// when stopped and how long each took to exit (at most 5 s).
func (h *agentHarness) stopMidIngest(n int) (read []float64, stops []time.Duration) {
	h.t.Helper()
	for range n {
		h.startReady()
		read = append(read, h.waitSomethingRead(20*time.Second))
		stops = append(stops, h.stop(5*time.Second))
	}
	return read, stops
}

// diagnose returns the line counters of the running agent, when its
// metrics endpoint is on.
func (h *agentHarness) diagnose() string {
	if h.metrics == "" || !h.running() {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	m, err := scrapeMetrics(ctx, h.metrics)
	if err != nil {
		return fmt.Sprintf("(metrics: %v)", err)
	}
	return fmt.Sprintf("this run's agent: read %.0f lines, parsed %.0f, rejected %.0f, late %.0f, overflowed %.0f",
		m["sharkfin_lines_read_total"], m["sharkfin_lines_parsed_total"], m["sharkfin_lines_rejected_total"],
		m["sharkfin_lines_late_total"], m["sharkfin_lines_overflowed_total"])
}

// stderrText is everything the runs logged.
func (h *agentHarness) stderrText() string {
	var b strings.Builder
	for _, r := range h.runs {
		data, _ := os.ReadFile(r.stderr)
		b.Write(data)
	}
	return b.String()
}

func (h *agentHarness) dumpStderr() {
	for i, r := range h.runs {
		if s := tail(r.stderr, 1500); s != "" {
			h.t.Logf("stderr of run %d (last 1500 bytes):\n%s", i, s)
		}
	}
}

// tail returns the last n bytes of a file.
func tail(path string, n int) string {
	data, _ := os.ReadFile(path)
	if len(data) > n {
		data = data[len(data)-n:]
	}
	return string(data)
}

// vmHWM returns the peak resident set size of a process, in bytes.
func vmHWM(pid int) (int64, error) { return e2etest.PeakRSS(pid) }

// scrapeMetrics reads the agent's /metrics and sums every sample by metric
// name (labels dropped).
func scrapeMetrics(ctx context.Context, addr string) (map[string]float64, error) {
	return e2etest.ScrapeMetrics(ctx, addr)
}

// sharkfin runs the sharkfin binary with args (a model or key command)
// and fails the test when it fails.
func sharkfin(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command(sharkfinBinary(t), args...).CombinedOutput(); err != nil {
		t.Fatalf("sharkfin %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// sample reads one metric of the running agent by labels (see
// e2etest.ScrapeSample); the test fails when the agent does not answer.
//
// A scrape that fails (a slow answer on a loaded machine) is tried again
// for up to 10s while the agent runs: callers poll with it.
func (h *agentHarness) sample(name string, labels ...string) float64 {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		v, err := scrapeSample(ctx, h.metrics, name, labels...)
		cancel()
		if err == nil {
			return v
		}
		if time.Now().After(deadline) || !h.running() {
			h.t.Fatalf("scrape %s: %v", name, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// scrapeSample reads one metric of the agent, by labels (see
// e2etest.ScrapeSample).
func scrapeSample(ctx context.Context, addr, name string, labels ...string) (float64, error) {
	return e2etest.ScrapeSample(ctx, addr, name, labels...)
}

// waitFor polls cond every 50ms until it holds or limit passes.
func waitFor(limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}
