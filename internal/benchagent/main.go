// Command benchagent measures the running agent for `make bench`: catch-up
// throughput against mawk on the same file, state commits per second, CPU
// while idle, and peak RSS with many distinct source IPs per window. Every
// figure is printed beside a baseline measured in the same run.
package main

import (
	"context"

	"github.com/socx/sharkfin/internal/e2etest"

	"bufio"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	bin := flag.String("bin", "bin/sharkfin", "sharkfin binary")
	logPath := flag.String("log", "", "combined log for the catch-up test (the shape \"bench\")")
	shapes := flag.String("shapes", "", "more traffic shapes, name=path,... (e.g. busy=.cache/bench/busy.log,day=.cache/bench/day.log)")
	model := flag.String("model", "examples/models/web.json", "web model")
	idle := flag.Duration("idle", 60*time.Second, "idle measurement")
	runs := flag.Int("runs", 3, "runs per shape (best taken)")
	floodOnly := flag.Bool("flood", false, "only the flood's peak RSS (10,000 and 100,000 IPs; -runs, -idle and the shapes do not apply)")
	proxyOnly := flag.Bool("proxy", false, "only the proxy shape: catch-up with enrichment off and black-holed")
	proxyOut := flag.String("write-proxy-log", "", "write the proxy shape's log to this file and exit (for profiling)")
	flag.Parse()
	if *proxyOut != "" {
		if _, err := proxyLog(*proxyOut, 120, 5000, 4000); err != nil {
			fmt.Fprintln(os.Stderr, "benchagent:", err)
			os.Exit(1)
		}
		return
	}
	if *floodOnly {
		b, _ := filepath.Abs(*bin)
		m, _ := filepath.Abs(*model)
		if err := floodRSS(b, m); err != nil {
			fmt.Fprintln(os.Stderr, "benchagent:", err)
			os.Exit(1)
		}
		return
	}
	if *proxyOnly {
		if err := proxyEnrich(*bin, *runs); err != nil {
			fmt.Fprintln(os.Stderr, "benchagent:", err)
			os.Exit(1)
		}
		return
	}
	list := []shape{}
	if *logPath != "" {
		list = append(list, shape{name: "bench", path: *logPath})
	}
	for _, kv := range strings.Split(*shapes, ",") {
		if name, path, ok := strings.Cut(kv, "="); ok {
			list = append(list, shape{name: name, path: path})
		}
	}
	if err := run(*bin, *model, list, *runs, *idle); err != nil {
		fmt.Fprintln(os.Stderr, "benchagent:", err)
		os.Exit(1)
	}
}

// shape is one traffic shape's log.
type shape struct{ name, path string }

// result is the best of a shape's runs of one command.
type result struct {
	best time.Duration
	runs []string
	// cpu: the agent's CPU (user+system) at the end of each catch-up run,
	// steadier than wall time on a noisy machine; least is the smallest.
	cpu   []string
	least time.Duration
	// Of the agent's best catch-up run.
	commits, gcs, longest, stateBytes float64
	hwm                               int
}

func (r *result) add(d time.Duration) bool {
	r.runs = append(r.runs, fmt.Sprintf("%.3f", d.Seconds()))
	if r.best == 0 || d < r.best {
		r.best = d
		return true
	}
	return false
}

func run(bin, model string, shapes []shape, runs int, idle time.Duration) error {
	bin, _ = filepath.Abs(bin)
	model, _ = filepath.Abs(model)
	if len(shapes) == 0 {
		return fmt.Errorf("no log: give -log or -shapes")
	}
	// Every figure is taken in turn with its baseline, mawk counting first
	// fields, on the same file: the machines here are noisy, and
	// neighbours change the speed of all alike. The agent's catch-up runs
	// from an empty state until every line is counted and every event it
	// made is durable and delivered (to /dev/null); score prints every
	// event, or only the anomalies.
	fmt.Printf("\n== catch-up and score by traffic shape (best of %d, each in turn with mawk '{c[$1]++}' on the same file)\n", runs)
	fmt.Printf("%-6s %9s %7s | %13s %13s | %13s %13s | %8s %8s %8s\n", "shape", "lines", "mawk s",
		"run all", "run anomalies", "score", "score --anom", "commit", "state", "RSS")
	fmt.Printf("%-6s %9s %7s | %13s %13s | %13s %13s | %8s %8s %8s\n", "", "", "",
		"s (x mawk)", "s (x mawk)", "s (x mawk)", "s (x mawk)", "max ms", "MiB", "MiB")
	var keep *agent
	var details []string
	for si, sh := range shapes {
		path, _ := filepath.Abs(sh.path)
		n, err := countLines(path)
		if err != nil {
			return err
		}
		st, err := os.Stat(path)
		if err != nil {
			return err
		}
		res := map[string]*result{}
		for _, k := range []string{"mawk", "all", "anomalies", "score", "score-anom"} {
			res[k] = &result{}
		}
		// How many events a catch-up makes (the same for every run on the
		// same file), learnt from an untimed run that waits for an empty
		// outbox: the timed runs then stop at the last event's delivery,
		// not at its deletion from the outbox (up to 250 ms later).
		want := map[string]float64{}
		for _, emit := range []string{"all", "anomalies"} {
			a, err := start(bin, model, path, 0, emit)
			if err != nil {
				return err
			}
			err = a.waitSettled(n, st.Size(), 10*time.Minute)
			want[emit] = a.metric("sharkfin_events_queued_total")
			a.stop()
			if err != nil {
				return fmt.Errorf("%s, emit %s: %w", sh.name, emit, err)
			}
		}
		for i := range runs {
			res["mawk"].add(best(1, func() error { return exec.Command("mawk", `{c[$1]++} END {for (k in c) n++; print n}`, path).Run() }))
			for _, emit := range []string{"all", "anomalies"} {
				a, err := start(bin, model, path, 0, emit)
				if err != nil {
					return err
				}
				if err := a.waitDelivered(n, st.Size(), want[emit], 10*time.Minute); err != nil {
					a.stop()
					return fmt.Errorf("%s, emit %s: %w", sh.name, emit, err)
				}
				d := time.Since(a.started)
				if q := a.metric("sharkfin_events_queued_total"); q != want[emit] {
					a.stop()
					return fmt.Errorf("%s, emit %s: %v events queued, %v in the calibration run", sh.name, emit, q, want[emit])
				}
				if c := a.cpu(); c > 0 {
					r := res[emit]
					r.cpu = append(r.cpu, fmt.Sprintf("%.2f", c.Seconds()))
					if r.least == 0 || c < r.least {
						r.least = c
					}
				}
				if r := res[emit]; r.add(d) {
					r.commits, r.gcs = a.metric("sharkfin_state_commits_total"), a.metric("go_gc_duration_seconds_count")
					r.longest, r.stateBytes, r.hwm = a.metric("sharkfin_state_commit_longest_seconds"), a.metric("sharkfin_state_file_bytes"), a.hwm()
				}
				if si == 0 && i == runs-1 && emit == "all" {
					keep = a // for the idle measurement
				} else {
					a.stop()
				}
			}
			for k, args := range map[string][]string{"score": nil, "score-anom": {"--anomalies-only"}} {
				cmd := append([]string{"score", "--format", "combined", "--model", model}, args...)
				res[k].add(best(1, func() error { return exec.Command(bin, append(cmd, path)...).Run() }))
			}
		}
		m := res["mawk"].best.Seconds()
		x := func(k string) string {
			return fmt.Sprintf("%.3f (%.2f)", res[k].best.Seconds(), m/res[k].best.Seconds())
		}
		all := res["all"]
		fmt.Printf("%-6s %9d %7.3f | %13s %13s | %13s %13s | %8.0f %8.1f %8.1f\n", sh.name, n, m,
			x("all"), x("anomalies"), x("score"), x("score-anom"), all.longest*1000, all.stateBytes/(1<<20), float64(all.hwm)/1024)
		details = append(details, fmt.Sprintf("%s: runs (s): mawk %s; run all %s (%.0f commits, %.0f GC runs); run anomalies %s; score %s; score --anomalies-only %s",
			sh.name, strings.Join(res["mawk"].runs, " "), strings.Join(all.runs, " "), all.commits, all.gcs,
			strings.Join(res["anomalies"].runs, " "), strings.Join(res["score"].runs, " "), strings.Join(res["score-anom"].runs, " ")),
			fmt.Sprintf("%s: agent CPU s (user+system, 2 cores): run all %s (least %.2f = %.2fx mawk's wall); run anomalies %s (least %.2f)",
				sh.name, strings.Join(all.cpu, " "), all.least.Seconds(), m/all.least.Seconds(),
				strings.Join(res["anomalies"].cpu, " "), res["anomalies"].least.Seconds()))
	}
	for _, d := range details {
		fmt.Println(d)
	}
	fmt.Println("(shapes: bench 2M lines of 2,000 visitors, ~11 lines per IP-window; busy 2M lines of 20,000 clients over 2h,\n ~4.7 lines per IP-window; day 200,000 lines of 100,000 clients over 24h, ~2 lines each)")
	fmt.Println("goals: catch-up >= 1.5x mawk on busy, >= 200,000 lines/s on day; score >= 2x mawk (2.5x --anomalies-only); RSS < 96 MiB")
	a := keep
	if a == nil {
		return nil
	}

	// Idle: files open, nothing written; first let the agent finish closing
	// windows and delivering the outbox.
	for i := 0; i < 600 && a.metric("sharkfin_outbox_bytes") != 0; i++ {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(8 * time.Second) // lateness (5s) + a commit
	u0 := a.cpu()
	time.Sleep(idle)
	u1 := a.cpu()
	perMin := (u1 - u0).Seconds() * float64(time.Minute) / float64(idle)
	fmt.Printf("\n== idle for %s with the file open\nCPU %.3fs (= %.3fs per minute; goal < 0.1s per minute)\n", idle, (u1 - u0).Seconds(), perMin)
	a.stop()
	return floodRSS(bin, model)
}

// floodRSS measures the peak RSS with many distinct IPs in one window,
// every event emitted (the close is over when all of them are queued).
func floodRSS(bin, model string) error {
	fmt.Printf("\n== peak RSS (VmHWM) with distinct source IPs in one 60s window (3 lines each, detect.emit: %s)\n"+
		"(anon/file: the largest anonymous and file-backed parts seen in 10ms samples; file includes the binary)\n"+
		"%-12s %14s %14s %18s %10s\n", "all", "IPs", "counting MiB", "+close MiB", "anon/file MiB", "seconds")
	for _, ips := range []int{10_000, 100_000} {
		path, lines, err := flood(ips)
		if err != nil {
			return err
		}
		a, err := start(bin, model, path, ips, "all")
		if err != nil {
			return err
		}
		stopSampling := a.sampleRSS()
		err = a.waitLines(lines, 0, 5*time.Minute)
		counting := a.hwm()
		// Then the window closes (lateness of idle time): its events are
		// built, committed and delivered. Peak RSS includes that.
		for i := 0; err == nil && i < 600; i++ {
			if a.metric("sharkfin_events_queued_total") >= float64(ips) && a.metric("sharkfin_outbox_bytes") == 0 {
				break
			}
			err = a.pause(100 * time.Millisecond)
		}
		hwm := a.hwm()
		anon, file := stopSampling()
		el := time.Since(a.started)
		a.stop()
		os.RemoveAll(filepath.Dir(path))
		if err != nil {
			return err
		}
		fmt.Printf("%-12d %14.1f %14.1f %18s %10.2f\n", ips, float64(counting)/1024, float64(hwm)/1024,
			fmt.Sprintf("%.1f/%.1f", float64(anon)/1024, float64(file)/1024), el.Seconds())
	}
	fmt.Println("goal: < 64 MiB at 100k")
	return nil
}

type agent struct {
	cmd     *exec.Cmd
	dir     string
	addr    string
	started time.Time
	// exited is closed when the agent process has exited (waitErr then
	// says how): a refused model or configuration ends a run at once
	// instead of leaving the waits below to their time limits.
	exited  chan struct{}
	waitErr error
}

// pause waits d, or returns an error at once if the agent has exited.
func (a *agent) pause(d time.Duration) error {
	select {
	case <-a.exited:
		return fmt.Errorf("the agent exited (%v); its stderr is above", a.waitErr)
	case <-time.After(d):
		return nil
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func start(bin, model, logPath string, maxKeys int, emit string) (*agent, error) {
	if maxKeys == 0 {
		maxKeys = 100000
	}
	return startWith(bin, func(dir string, port int) string {
		return fmt.Sprintf(`inputs:
  - name: bench
    path: %s
    format: combined
    start_at: beginning
state: { path: %s/state.db }
detect:
  window: 60s
  lateness: 5s
  max_keys: %d
  emit: %s
  models: { web: %s }
output: { stdout: {} }
metrics: { listen: "127.0.0.1:%d" }
`, logPath, dir, maxKeys, emit, model, port)
	})
}

// startWith starts the agent on the configuration cfg writes for its
// state directory and metrics port; events go to /dev/null.
func startWith(bin string, cfg func(dir string, port int) string) (*agent, error) {
	dir, err := os.MkdirTemp("", "sharkfin-bench-")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(dir, "sharkfin.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg(dir, port)), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "run", "-c", cfgPath, "--log-level", "warn")
	cmd.Stdout = nil // /dev/null (a pipe would be drained by this process, on the same CPUs)
	cmd.Stderr = os.Stderr
	a := &agent{cmd: cmd, dir: dir, addr: fmt.Sprintf("127.0.0.1:%d", port), started: time.Now(), exited: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		a.waitErr = cmd.Wait()
		close(a.exited)
	}()
	return a, nil
}

// metricLabels is the sample of a metric whose one label has value
// (-1 when unreachable).
func (a *agent) metricLabels(name, value string) float64 {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	v, err := e2etest.ScrapeSample(ctx, a.addr, name, "outcome", value)
	if err != nil {
		return -1
	}
	return v
}

// metric sums the samples of a metric family (-1 when unreachable).
func (a *agent) metric(name string) float64 {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	m, err := e2etest.ScrapeMetrics(ctx, a.addr)
	if err != nil {
		return -1
	}
	return m[name]
}

// waitLines waits until the agent has counted n lines. A scrape costs the
// agent about 1-2 ms of CPU (the process collector reads /proc, the HTTP
// connection), so scraping every 20 ms throughout a catch-up took 5-10%
// of the CPU being measured. Until the agent has read size bytes (its
// rchar in /proc, read without disturbing it), it cannot have counted
// every line, so it is scraped only from then on.
func (a *agent) waitLines(n int, size int64, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if r := a.rchar(); r < 0 || r >= size {
			break
		}
		if err := a.pause(5 * time.Millisecond); err != nil {
			return err
		}
	}
	for time.Now().Before(deadline) {
		if int(a.metric("sharkfin_lines_read_total")) >= n {
			return nil
		}
		if err := a.pause(20 * time.Millisecond); err != nil {
			return err
		}
	}
	return fmt.Errorf("agent did not read %d lines within %s", n, limit)
}

// waitDelivered waits until the agent has counted n lines (see
// waitLines) and delivered want events (written to stdout, so read back
// from the outbox: durable).
func (a *agent) waitDelivered(n int, size int64, want float64, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	if err := a.waitLines(n, size, limit); err != nil {
		return err
	}
	for time.Now().Before(deadline) {
		if a.metric("sharkfin_events_delivered_total") >= want {
			return nil
		}
		if err := a.pause(20 * time.Millisecond); err != nil {
			return err
		}
	}
	return fmt.Errorf("agent did not deliver %v events within %s", want, limit)
}

// waitSettled waits until the agent has counted n lines (see waitLines)
// and every event it made is durable, delivered and deleted: the outbox
// empty and as many events delivered as queued.
func (a *agent) waitSettled(n int, size int64, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	if err := a.waitLines(n, size, limit); err != nil {
		return err
	}
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		m, err := e2etest.ScrapeMetrics(ctx, a.addr)
		cancel()
		if err == nil && m["sharkfin_outbox_bytes"] == 0 && m["sharkfin_events_queued_total"] > 0 &&
			m["sharkfin_events_delivered_total"] >= m["sharkfin_events_queued_total"] {
			return nil
		}
		if err := a.pause(20 * time.Millisecond); err != nil {
			return err
		}
	}
	return fmt.Errorf("agent did not deliver its events within %s", limit)
}

// rchar is the bytes the agent has read so far (any file), -1 when
// unknown (then waitLines scrapes from the start).
func (a *agent) rchar() int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", a.cmd.Process.Pid))
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "rchar: "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return -1
			}
			return n
		}
	}
	return -1
}

func (a *agent) cpu() time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", a.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	ut, _ := strconv.Atoi(f[11])
	st, _ := strconv.Atoi(f[12])
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

func (a *agent) hwm() int {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", a.cmd.Process.Pid))
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			kb, _ := strconv.Atoi(strings.Fields(l)[1])
			return kb
		}
	}
	return 0
}

// sampleRSS records the largest RssAnon and RssFile (KiB) every 10ms
// until the returned function is called, which returns them.
func (a *agent) sampleRSS() func() (anon, file int) {
	done := make(chan struct{})
	result := make(chan [2]int, 1)
	go func() {
		var peak [2]int
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", a.cmd.Process.Pid))
			for _, l := range strings.Split(string(data), "\n") {
				f := strings.Fields(l)
				if len(f) < 2 {
					continue
				}
				kb, _ := strconv.Atoi(f[1])
				switch f[0] {
				case "RssAnon:":
					peak[0] = max(peak[0], kb)
				case "RssFile:":
					peak[1] = max(peak[1], kb)
				}
			}
			select {
			case <-done:
				result <- peak
				return
			case <-t.C:
			}
		}
	}()
	return func() (int, int) {
		close(done)
		p := <-result
		return p[0], p[1]
	}
}

func (a *agent) stop() {
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	<-a.exited
	os.RemoveAll(a.dir)
}

func best(k int, f func() error) time.Duration {
	var b time.Duration
	for range k {
		t := time.Now()
		if err := f(); err != nil {
			fmt.Fprintln(os.Stderr, "baseline:", err)
		}
		if d := time.Since(t); b == 0 || d < b {
			b = d
		}
	}
	return b
}

func countLines(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	n := 0
	for {
		m, err := f.Read(buf)
		n += strings.Count(string(buf[:m]), "\n")
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return 0, err
		}
	}
}

// flood writes ips distinct sources, 3 lines each, inside one minute.
func flood(ips int) (string, int, error) {
	dir, err := os.MkdirTemp("", "sharkfin-flood-")
	if err != nil {
		return "", 0, err
	}
	path := filepath.Join(dir, "flood.log")
	f, err := os.Create(path)
	if err != nil {
		return "", 0, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	lines := 0
	for r := range 3 {
		for i := range ips {
			fmt.Fprintf(w, "10.%d.%d.%d - - [01/Jan/2026:00:00:%02d +0000] \"GET /p%d HTTP/1.1\" 200 512 \"-\" \"bench\"\n",
				i>>16&255, i>>8&255, i&255, r*10, r)
			lines++
		}
	}
	if err := w.Flush(); err != nil {
		return "", 0, err
	}
	return path, lines, f.Close()
}
