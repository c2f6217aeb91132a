package agent_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestAgent_LineFromTheFuture: one line dated 2099 (a host's clock set
// wrong) in the middle of a log is counted in
// sharkfin_lines_future_total and in no window, and the lines after it
// are counted and scored as before it, through a restart: it does not move
// the watermark (once kept in the state) past the present.
func TestAgent_LineFromTheFuture(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "access.log")
	var lines []byte
	line := func(at time.Time, client string) { lines = appendGet(lines, at, client) }
	w0 := e2eEpoch
	line(w0.Add(time.Second), "192.0.2.1")
	line(time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC), "192.0.2.66")
	for i := range 3 { // the minutes after it, one line each
		line(w0.Add(time.Duration(i+1)*time.Minute+time.Second), "192.0.2.1")
	}
	if err := os.WriteFile(logPath, lines, 0o644); err != nil {
		t.Fatal(err)
	}
	h := newAgent(t, dir, e2eConfig{Inputs: []e2eInput{{Name: "web", Path: logPath}}})
	events := newEventLog(h)
	h.startReady()
	windows := func() map[int64]float64 {
		got := map[int64]float64{}
		for _, p := range events.ipScores() {
			got[p.ev.WindowStart.Unix()] += p.ev.Features["hits"]
		}
		return got
	}
	// Windows 0, 1 and 2 close (3 is open: nothing later has come).
	if !waitFor(20*time.Second, func() bool { h.requireAlive(); events.refresh(); return len(windows()) == 3 }) {
		t.Fatalf("windows %v; want minutes 0-2 closed. %s", windows(), h.diagnose())
	}
	if f, late := h.sample("sharkfin_lines_future_total", "input", "web"), h.sample("sharkfin_lines_late_total", "input", "web"); f != 1 || late != 0 {
		t.Errorf("future %v, late %v; want 1 and 0", f, late)
	}
	h.stop(5 * time.Second)
	// After a restart, a later minute is counted too: the state's
	// watermark is the log's, not 2099's.
	f, err := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	lines = lines[:0]
	line(w0.Add(5*time.Minute), "192.0.2.1")
	if _, err := f.Write(lines); err != nil {
		t.Fatal(err)
	}
	f.Close()
	h.startReady()
	if !waitFor(20*time.Second, func() bool { h.requireAlive(); events.refresh(); return len(windows()) == 4 }) {
		t.Fatalf("windows %v after the restart; want minute 3 closed too. %s", windows(), h.diagnose())
	}
	h.stop(5 * time.Second)
	want := map[int64]float64{w0.Unix(): 1, w0.Add(time.Minute).Unix(): 1, w0.Add(2 * time.Minute).Unix(): 1, w0.Add(3 * time.Minute).Unix(): 1}
	if got := windows(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("hits per window %v; want %v", got, want)
	}
}

// TestAgent_DamagedCheckpointSkipped: one damaged checkpoint record in the
// state file (a bad disk) no longer keeps the agent from starting: it is
// skipped, logged, and its file read as a new one; the next commit
// rewrites it.
func TestAgent_DamagedCheckpointSkipped(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "access.log")
	var lines []byte
	for i := range 3 {
		lines = appendGet(lines, e2eEpoch.Add(time.Duration(i)*time.Minute), "192.0.2.1")
	}
	if err := os.WriteFile(logPath, lines, 0o644); err != nil {
		t.Fatal(err)
	}
	h := newAgent(t, dir, e2eConfig{Inputs: []e2eInput{{Name: "web", Path: logPath}}})
	h.startReady()
	if !waitFor(20*time.Second, func() bool { h.requireAlive(); return h.sample("sharkfin_lines_parsed_total", "input", "web") == 3 }) {
		t.Fatalf("lines not parsed: %s", h.diagnose())
	}
	h.stop(5 * time.Second)
	db, err := bolt.Open(filepath.Join(dir, "state", "state.db"), 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("checkpoints"))
		if b == nil {
			return fmt.Errorf("no checkpoints bucket")
		}
		k, _ := b.Cursor().First()
		if k == nil {
			return fmt.Errorf("no checkpoint stored")
		}
		return b.Put(slices.Clone(k), []byte{1, 0, 0})
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	h.startReady() // it used to exit: "read checkpoints: ... unknown record version or short record"
	h.stop(5 * time.Second)
	h.startReady() // the record was removed: said once
	h.stop(5 * time.Second)
	if n := strings.Count(h.stderrText(), "a damaged checkpoint in the state file was skipped"); n != 1 {
		t.Errorf("the damaged checkpoint reported %d times over two starts, want once", n)
	}
}

// TestAgent_StalledStdoutReader: with stdout to a pipe whose reader
// stopped reading (a stuck log collector), SIGTERM still exits within 5 s
// (the write in progress cannot be interrupted; the agent stops waiting
// for it), and the events not written stay in the outbox: the next run
// writes them, so every event comes out once at least.
func TestAgent_StalledStdoutReader(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "access.log")
	var lines []byte
	const clients = 3000 // about 1.5 MB of events: far past a pipe's 64 KiB
	for i := range clients {
		lines = appendGet(lines, e2eEpoch.Add(time.Second), fmt.Sprintf("10.1.%d.%d", i>>8, i&255))
	}
	lines = appendGet(lines, e2eEpoch.Add(2*time.Minute), "10.2.0.1")
	if err := os.WriteFile(logPath, lines, 0o644); err != nil {
		t.Fatal(err)
	}
	h := newAgent(t, dir, e2eConfig{Inputs: []e2eInput{{Name: "web", Path: logPath}}})
	h.stalledStdout = true
	h.startReady()
	// Every window-0 event is committed to the outbox; the sender is
	// stuck writing them.
	if !waitFor(30*time.Second, func() bool {
		h.requireAlive()
		return h.sample("sharkfin_events_queued_total") >= clients
	}) {
		t.Fatalf("events not queued: %s", h.diagnose())
	}
	if took := h.stop(5 * time.Second); took > 5*time.Second {
		t.Errorf("stop took %s", took)
	}
	// What the stalled reader would have got, then the next run's output.
	got := map[string]int{}
	countIDs := func(data []byte) {
		for _, l := range bytes.Split(data, []byte("\n")) {
			var ev struct {
				ID    string `json:"event_id"`
				Type  string `json:"type"`
				SrcIP string `json:"src_ip"`
			}
			if json.Unmarshal(l, &ev) == nil && ev.Type == "ip_score" && strings.HasPrefix(ev.SrcIP, "10.1.") {
				got[ev.ID]++
			}
		}
	}
	h.stalled.SetReadDeadline(time.Now().Add(2 * time.Second))
	piped, _ := io.ReadAll(h.stalled) // the writer is gone: up to EOF
	countIDs(piped)
	if len(got) >= clients {
		t.Fatalf("all %d events went through a pipe nobody read: the test did not stall the output", len(got))
	}
	h.startReady()
	if !waitFor(30*time.Second, func() bool {
		h.requireAlive()
		data, _ := os.ReadFile(h.current().stdout)
		clear(got)
		countIDs(piped)
		countIDs(data)
		return len(got) == clients
	}) {
		t.Fatalf("%d distinct events of %d out after the restart: %s", len(got), clients, h.diagnose())
	}
	h.stop(5 * time.Second)
}

// TestAgent_WarnsOfLinesThatDoNotParse: a file whose lines stop matching
// the input's format (a server's log format changed) and lines past
// max_line_bytes were only counted in metrics; the agent now says so in
// its log, naming the input, the file, the reason, a sample and the
// setting to change, once (a warning a minute at most).
func TestAgent_WarnsOfLinesThatDoNotParse(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "access.log")
	var lines []byte
	for i := range 50 { // Squid's native format in a combined input
		lines = fmt.Appendf(lines, "%d.123    %d 192.0.2.%d TCP_MISS/200 1234 GET http://example.com/ - HIER_DIRECT/198.51.100.1 text/html\n", e2eEpoch.Unix()+int64(i), 20, i)
	}
	lines = append(lines, bytes.Repeat([]byte("x"), 3000)...) // over max_line_bytes
	lines = append(lines, '\n')
	if err := os.WriteFile(logPath, lines, 0o644); err != nil {
		t.Fatal(err)
	}
	h := newAgent(t, dir, e2eConfig{Inputs: []e2eInput{{Name: "web", Path: logPath, MaxLineBytes: "1KiB"}}})
	h.startReady()
	warned := func(msg string) []string {
		var got []string
		for _, l := range strings.Split(h.stderrText(), "\n") {
			if strings.Contains(l, "level=WARN") && strings.Contains(l, msg) {
				got = append(got, l)
			}
		}
		return got
	}
	const notParsed, tooLong = `msg="most lines of an input do not parse`, `msg="lines longer than max_line_bytes were skipped`
	if !waitFor(20*time.Second, func() bool { h.requireAlive(); return len(warned(notParsed)) > 0 && len(warned(tooLong)) > 0 }) {
		t.Fatalf("no warnings within 20s; stderr:\n%s", h.stderrText())
	}
	h.stop(5 * time.Second)
	for _, l := range warned(notParsed) {
		for _, want := range []string{"input=web", "file=" + logPath, "rejected=50", "reason=", `sample="`, "inputs[].format (combined)"} {
			if !strings.Contains(l, want) {
				t.Errorf("the warning lacks %q: %s", want, l)
			}
		}
	}
	if l := warned(tooLong); len(l) != 1 || !strings.Contains(l[0], "files=["+logPath+"]") || !strings.Contains(l[0], "lines=1 ") {
		t.Errorf("too long: %q; want one warning naming the file and 1 line", l)
	}
	if n := len(warned(notParsed)); n != 1 {
		t.Errorf("%d warnings of lines that do not parse, want 1", n)
	}
}
