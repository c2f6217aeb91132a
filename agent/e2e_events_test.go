package agent_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

// jsonEvent is what the tests read of an event line.
type jsonEvent struct {
	EventID     string             `json:"event_id"`
	Type        string             `json:"type"`
	Host        string             `json:"host"`
	Source      string             `json:"source"`
	WindowStart time.Time          `json:"window_start"`
	SrcIP       string             `json:"src_ip"`
	Overflow    bool               `json:"overflow"`
	Features    map[string]float64 `json:"features"`
	Model       string             `json:"model"`
	Anomalous   bool               `json:"anomalous"`
	Cluster     int                `json:"cluster"`
	Distance    float64            `json:"distance"`
	Threshold   float64            `json:"threshold"`
	Reason      string             `json:"reason"`
	Severity    *float64           `json:"severity"`
	Explain     []any              `json:"explain"`
	Level       string             `json:"level"`
	Message     string             `json:"message"`
	Detail      map[string]string  `json:"detail"`
	// domain events
	Kind          string    `json:"kind"`
	Domain        string    `json:"domain"`
	Category      *string   `json:"category"`
	Uncategorized bool      `json:"uncategorized"`
	New           bool      `json:"new"`
	IsIP          bool      `json:"is_ip"`
	FirstSeen     time.Time `json:"first_seen"`
	Hits          int64     `json:"hits"`
	Bytes         int64     `json:"bytes"`
	Clients       int64     `json:"clients"`
	ClientIPs     []string  `json:"client_ips"`
	Users         []string  `json:"users"`
	Hosts         []string  `json:"hosts"`
	Enrichment    *struct {
		TLSNames []string `json:"tls_names"`
		Whois    *struct {
			Org, Country, Created, Server string
		} `json:"whois"`
	} `json:"enrichment"`
}

func (e *jsonEvent) key() winKey {
	return winKey{Source: e.Source, IP: e.SrcIP, Start: e.WindowStart.Unix()}
}

// printed is one event line as first printed.
type printed struct {
	raw string
	ev  jsonEvent
	run int
}

// eventLog reads the stdout files of every run of a harness as they grow
// and de-duplicates events by event_id: an event re-sent after a crash (at
// least once delivery from the outbox) counts once, and must be printed
// with the same content.
type eventLog struct {
	h       *agentHarness
	offs    []int64
	byID    map[string]*printed
	order   []*printed // first printings, in order
	dups    int        // lines repeating an event_id already seen
	diff    []string   // event_ids printed with different contents
	torn    int        // incomplete last lines of killed runs
	hits    map[winKey]float64
	ids     map[winKey][]string // distinct event_ids per window cell
	badJSON []string
}

func newEventLog(h *agentHarness) *eventLog {
	return &eventLog{h: h, byID: map[string]*printed{}, hits: map[winKey]float64{}, ids: map[winKey][]string{}}
}

// refresh reads what the runs printed since the last call.
func (l *eventLog) refresh() {
	l.h.t.Helper()
	for i, r := range l.h.runs {
		if i == len(l.offs) {
			l.offs = append(l.offs, 0)
		}
		ended := r.exited()
		f, err := os.Open(r.stdout)
		if err != nil {
			l.h.t.Fatal(err)
		}
		if _, err := f.Seek(l.offs[i], io.SeekStart); err != nil {
			l.h.t.Fatal(err)
		}
		data, err := io.ReadAll(f)
		f.Close()
		if err != nil {
			l.h.t.Fatal(err)
		}
		end := bytes.LastIndexByte(data, '\n') + 1
		for _, line := range bytes.Split(data[:end], []byte{'\n'}) {
			if len(line) > 0 {
				l.add(i, line)
			}
		}
		l.offs[i] += int64(end)
		if ended && end < len(data) {
			// A SIGKILL cut the last line: the event is still in the
			// outbox and will be printed whole by the next run.
			l.torn++
			l.offs[i] += int64(len(data) - end)
		}
	}
}

func (l *eventLog) add(run int, line []byte) {
	var ev jsonEvent
	if err := json.Unmarshal(line, &ev); err != nil {
		l.badJSON = append(l.badJSON, fmt.Sprintf("run %d: %v: %.200q", run, err, line))
		return
	}
	if p := l.byID[ev.EventID]; p != nil {
		l.dups++
		if p.raw != string(line) {
			l.diff = append(l.diff, fmt.Sprintf("%s: run %d printed %.300s; run %d printed %.300s", ev.EventID, p.run, p.raw, run, line))
		}
		return
	}
	p := &printed{raw: string(line), ev: ev, run: run}
	l.byID[ev.EventID] = p
	l.order = append(l.order, p)
	if ev.Type == "ip_score" {
		k := ev.key()
		l.hits[k] += ev.Features["hits"]
		l.ids[k] = append(l.ids[k], ev.EventID)
	}
}

// ipScores returns the distinct ip_score events printed, in order.
func (l *eventLog) ipScores() []*printed {
	var out []*printed
	for _, p := range l.order {
		if p.ev.Type == "ip_score" {
			out = append(out, p)
		}
	}
	return out
}

// domainEvents returns the distinct domain events printed, in order.
func (l *eventLog) domainEvents() []*printed {
	var out []*printed
	for _, p := range l.order {
		if p.ev.Type == "domain" {
			out = append(out, p)
		}
	}
	return out
}

// agentEvents returns the distinct agent events with message msg.
func (l *eventLog) agentEvents(msg string) []*printed {
	var out []*printed
	for _, p := range l.order {
		if p.ev.Type == "agent" && p.ev.Message == msg {
			out = append(out, p)
		}
	}
	return out
}

// mismatch compares the hits per window cell of the sources in want with
// want; it returns up to max differences and the totals.
func (l *eventLog) mismatch(want truth, max int) (diffs []string, got, exp int) {
	sources := map[string]bool{}
	for k, n := range want {
		sources[k.Source] = true
		exp += n
		if g := l.hits[k]; g != float64(n) {
			diffs = append(diffs, fmt.Sprintf("%s: got %v hits, want %d", k, g, n))
		}
	}
	for k, g := range l.hits {
		if !sources[k.Source] {
			continue
		}
		got += int(g)
		if _, ok := want[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: got %v hits, want none", k, g))
		}
	}
	slices.Sort(diffs)
	if len(diffs) > max {
		diffs = append(diffs[:max], fmt.Sprintf("... and %d more", len(diffs)-max))
	}
	return diffs, got, exp
}

// matches refreshes and reports whether the counts equal want.
func (l *eventLog) matches(want truth) bool {
	l.refresh()
	d, _, _ := l.mismatch(want, 0)
	return len(d) == 0
}

// waitCounts waits up to limit for the counts to equal want; it returns
// how long that took, or fails with the differences.
func (l *eventLog) waitCounts(want truth, limit time.Duration) time.Duration {
	l.h.t.Helper()
	start := time.Now()
	if waitFor(limit, func() bool { l.h.requireAlive(); return l.matches(want) }) {
		return time.Since(start)
	}
	l.requireCounts(want)
	return time.Since(start)
}

// waitSubset waits up to limit for the counts of want's cells to equal
// want (other cells are not looked at), or fails with the differences.
func (l *eventLog) waitSubset(want truth, limit time.Duration) {
	l.h.t.Helper()
	differ := func() []string {
		l.refresh()
		var d []string
		for k, n := range want {
			if g := l.hits[k]; g != float64(n) {
				d = append(d, fmt.Sprintf("%s: got %v hits, want %d", k, g, n))
			}
		}
		return d
	}
	if waitFor(limit, func() bool { l.h.requireAlive(); return len(differ()) == 0 }) {
		return
	}
	d := differ()
	slices.Sort(d)
	l.h.t.Fatalf("%d of %d cells differ after %s: %s\n%s", len(d), len(want), limit, l.h.diagnose(), strings.Join(d[:min(len(d), 15)], "\n"))
}

// requireCounts fails the test unless the counts equal want exactly.
func (l *eventLog) requireCounts(want truth) {
	l.h.t.Helper()
	l.refresh()
	diffs, got, exp := l.mismatch(want, 15)
	if len(diffs) > 0 {
		l.h.t.Fatalf("hits per (input, ip, window) differ from the lines written: %d lines counted, %d written; %s\n%s",
			got, exp, l.h.diagnose(), strings.Join(diffs, "\n"))
	}
}

// requireOnePerWindow fails the test unless every window cell has exactly
// one event_id, every re-sent event was printed identically and every line
// is an event.
func (l *eventLog) requireOnePerWindow() {
	l.h.t.Helper()
	l.refresh()
	var bad []string
	for k, ids := range l.ids {
		if len(ids) != 1 {
			bad = append(bad, fmt.Sprintf("%s: %d events %v", k, len(ids), ids))
		}
	}
	slices.Sort(bad)
	if len(bad) > 10 {
		bad = append(bad[:10], fmt.Sprintf("... and %d more", len(bad)-10))
	}
	if len(bad) > 0 {
		l.h.t.Errorf("windows with more than one event:\n%s", strings.Join(bad, "\n"))
	}
	if len(l.diff) > 0 {
		l.h.t.Errorf("%d events re-sent with other contents, e.g.\n%s", len(l.diff), l.diff[0])
	}
	if len(l.badJSON) > 0 {
		l.h.t.Errorf("%d stdout lines are not events, e.g. %s", len(l.badJSON), l.badJSON[0])
	}
}
