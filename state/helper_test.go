package state_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/socx/sharkfin/state"
)

// The helper process: tests re-run the test binary with these variables
// set to get a second process that holds or writes a state file.
const (
	envHelper = "SHARKFIN_STATE_HELPER" // hold | crash | writer
	envPath   = "SHARKFIN_STATE_PATH"
	// helperLife bounds a helper that nobody stops.
	helperLife = 30 * time.Second
)

// TestHelperProcess is not a test: it is the body of the helper processes.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv(envHelper)
	if mode == "" {
		t.Skip("runs only as a helper process of other tests")
	}
	path := os.Getenv(envPath)
	if err := runHelper(mode, path); err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func runHelper(mode, path string) error {
	// Stdin closing is the signal to stop (hold, writer).
	stop := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(stop)
	}()
	deadline := time.After(helperLife)

	s, err := state.Open(state.Options{Path: path, Timeout: 5 * time.Second})
	if err != nil {
		return err
	}
	defer s.Close()

	w, err := resumeWorkload(s)
	if err != nil {
		return err
	}
	if mode == "hold" {
		fmt.Println("ready")
		select {
		case <-stop:
		case <-deadline:
		}
		return nil
	}
	for i := 0; ; i++ {
		if err := w.step(); err != nil {
			return err
		}
		if i == 0 {
			fmt.Println("ready")
		}
		if mode == "writer" {
			time.Sleep(2 * time.Millisecond)
		}
		select {
		case <-stop:
			return nil
		case <-deadline:
			return nil
		default:
		}
	}
}

// startHelper starts the helper process in mode on path and waits until it
// prints "ready". Closing the returned writer asks a hold or writer helper
// to stop; the cleanup kills it in any case.
func startHelper(t *testing.T, mode, path string) (*exec.Cmd, io.WriteCloser) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), envHelper+"="+mode, envPath+"="+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == "ready" {
				ready <- nil
				_, _ = io.Copy(io.Discard, stdout)
				return
			}
		}
		ready <- fmt.Errorf("helper %s exited before ready: %s", mode, strings.TrimSpace(stderr.String()))
	}()
	select {
	case err := <-ready:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("helper %s not ready after 10s", mode)
	}
	return cmd, stdin
}

// workload plays the agent against a store with a known ground truth. Line
// n (from 1) comes from client lineIP(n) in window lineWindow(n), weighs n
// bytes, and closes into an outbox event unless n is a multiple of 3; the
// event of line n therefore gets sequence number n - n/3. Every commit
// consumes a few lines: the checkpoint offset is 100 bytes per line, the
// window "acc" holds the line count, one window "w/<n/100>" is open, and
// every fifth commit acknowledges (deletes) the outbox but its newest 20.
type workload struct {
	s       *state.Store
	n       int64 // lines committed
	commits int
}

const (
	lineBytes   = 100
	windowBase  = 1_700_000_040
	linesPerWin = 50
	ips         = 7
)

func lineIP(n int64) string        { return fmt.Sprintf("10.0.0.%d", n%ips) }
func lineWindow(n int64) time.Time { return time.Unix(windowBase+(n/linesPerWin)*60, 0) }
func lineAnomalous(n int64) bool   { return n%11 == 0 }
func eventSeq(n int64) uint64      { return uint64(n - n/3) }
func hasEvent(n int64) bool        { return n%3 != 0 }
func lineEvent(n int64) []byte {
	return fmt.Appendf(nil, `{"line":%d,"pad":"%s"}`, n, strings.Repeat("x", int(n%50)))
}

func resumeWorkload(s *state.Store) (*workload, error) {
	cps, _, err := s.Checkpoints()
	if err != nil {
		return nil, err
	}
	w := &workload{s: s}
	if len(cps) == 1 {
		w.n = cps[0].Offset / lineBytes
	}
	return w, nil
}

// commit builds the commit of lines from+1..to.
func commitLines(from, to int64) *state.Commit {
	c := &state.Commit{
		Checkpoints: []state.Checkpoint{{
			Path: "/var/log/app.log", Dev: 1, Ino: 2, Input: "app",
			Fingerprint: 0xfeed, FingerprintLen: 64, Offset: to * lineBytes,
			Updated: time.Unix(windowBase, to),
		}},
		Windows: map[string][]byte{
			"acc":                       binary.BigEndian.AppendUint64(nil, uint64(to)),
			fmt.Sprintf("w/%d", to/100): bytes.Repeat([]byte{byte(to)}, 200),
		},
	}
	if from/100 != to/100 {
		c.Windows[fmt.Sprintf("w/%d", from/100)] = nil
	}
	for n := from + 1; n <= to; n++ {
		if hasEvent(n) {
			c.Events = append(c.Events, lineEvent(n))
		}
		c.History = append(c.History, state.HistoryUpdate{
			Kind: state.KindIP, Key: lineIP(n), WindowStart: lineWindow(n),
			Hits: 1, Bytes: n, Anomalous: lineAnomalous(n),
		})
	}
	return c
}

func (w *workload) step() error {
	to := w.n + 1 + int64(w.commits*7%40)
	last, err := w.s.Apply(commitLines(w.n, to))
	if err != nil {
		return err
	}
	w.n = to
	w.commits++
	if w.commits%3 == 0 { // fold, expire and sweep between commits, as the agent does
		if _, err := w.s.Maintain(); err != nil {
			return err
		}
	}
	if w.commits%5 == 0 && last > 20 {
		if _, err := w.s.OutboxDelete(last - 20); err != nil {
			return err
		}
	}
	return nil
}

// verifyWorkload checks every invariant of the workload on s and returns
// the number of lines committed.
func verifyWorkload(t *testing.T, s *state.Store) int64 {
	t.Helper()
	w, err := resumeWorkload(s)
	if err != nil {
		t.Fatal(err)
	}
	n := w.n
	if cps, _, _ := s.Checkpoints(); len(cps) > 1 {
		t.Fatalf("%d checkpoints, want 1", len(cps))
	}

	wins, err := s.Windows()
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		if len(wins) != 0 {
			t.Fatalf("no checkpoint but %d windows", len(wins))
		}
		return 0
	}
	if got := binary.BigEndian.Uint64(wins["acc"]); int64(got) != n {
		t.Errorf("window acc = %d, checkpoint says %d lines", got, n)
	}
	if open := wins[fmt.Sprintf("w/%d", n/100)]; len(wins) != 2 || len(open) != 200 || open[0] != byte(n) {
		t.Errorf("windows %d keys, open window %q: want acc and w/%d", len(wins), open, n/100)
	}

	// Outbox: a gap-free suffix of the events of lines 1..n, each under
	// its own sequence number.
	var lastLine int64
	count, size := 0, int64(0)
	err = s.OutboxRead(0, 0, func(seq uint64, data []byte) error {
		line := int64(0)
		if _, err := fmt.Sscanf(string(data), `{"line":%d`, &line); err != nil {
			return fmt.Errorf("seq %d: %q: %w", seq, data, err)
		}
		switch {
		case !bytes.Equal(data, lineEvent(line)):
			return fmt.Errorf("seq %d: event %q is not line %d's", seq, data, line)
		case eventSeq(line) != seq:
			return fmt.Errorf("seq %d holds line %d, whose sequence is %d", seq, line, eventSeq(line))
		case lastLine != 0 && eventSeq(lastLine)+1 != seq:
			return fmt.Errorf("gap: line %d then line %d", lastLine, line)
		case line > n:
			return fmt.Errorf("event of line %d but only %d lines committed", line, n)
		}
		lastLine = line
		count++
		size += int64(len(data))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wantLast := n
	for !hasEvent(wantLast) {
		wantLast--
	}
	if lastLine != wantLast {
		t.Errorf("last outbox event is line %d, want %d", lastLine, wantLast)
	}
	if c, b, err := s.OutboxStats(); err != nil || c != count || b != size {
		t.Errorf("OutboxStats = %d, %d, %v; outbox holds %d events, %d bytes", c, b, err, count, size)
	}

	// History against the ground truth recomputed from the lines.
	type win struct {
		ip    string
		start int64
	}
	anom := map[win]bool{}
	hits := map[string]int64{}
	byteSum := map[string]int64{}
	for l := int64(1); l <= n; l++ {
		k := win{lineIP(l), lineWindow(l).Unix()}
		anom[k] = anom[k] || lineAnomalous(l)
		hits[k.ip]++
		byteSum[k.ip] += l
	}
	// Every line is an update of its own: Windows and Anomalies count the
	// entries (one per commit and window), the distinct windows are in
	// Recent (the workload spans less than the retention).
	windowsOf := map[string][]state.WindowCount{}
	for k, a := range anom {
		windowsOf[k.ip] = append(windowsOf[k.ip], state.WindowCount{Start: time.Unix(k.start, 0).UTC(), Anomalous: a})
	}
	for ip, want := range hits {
		h, ok, err := s.History(state.KindIP, ip)
		if err != nil || !ok {
			t.Fatalf("History(%s) = %v, %v", ip, ok, err)
		}
		if h.Hits != want || h.Bytes != byteSum[ip] || h.Windows < len(windowsOf[ip]) {
			t.Errorf("History(%s) = hits %d bytes %d windows %d; want %d %d, at least %d windows",
				ip, h.Hits, h.Bytes, h.Windows, want, byteSum[ip], len(windowsOf[ip]))
		}
		wantWins := windowsOf[ip]
		slices.SortFunc(wantWins, func(a, b state.WindowCount) int { return a.Start.Compare(b.Start) })
		// Recent keeps the windows within the retention of the last one:
		// a fast writer's workload outgrows a day (a CI run reached 72,399
		// lines, 25 hours of windows).
		if len(wantWins) > 0 {
			from := wantWins[len(wantWins)-1].Start.Add(-s.Retention())
			wantWins = slices.DeleteFunc(wantWins, func(w state.WindowCount) bool { return w.Start.Before(from) })
		}
		var got []state.WindowCount
		for _, w := range h.Recent {
			got = append(got, state.WindowCount{Start: w.Start, Anomalous: w.Anomalous})
		}
		if !slices.Equal(got, wantWins) {
			t.Errorf("History(%s) windows %v, want %v", ip, got, wantWins)
		}
	}
	return n
}
