package output

import (
	"bufio"
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/socx/sharkfin/event"
)

// TestForward_FlappingReceiverLosesNothing sends 100,000 events in batches
// through a receiver that refuses chunks, withholds acks after storing and
// cuts connections mid-message, and that is killed twice and restarted on
// the same port, retrying each failed batch as the outbox loop does.
// Nothing may be lost, only retried batches may be duplicated, and each
// key's windows must arrive in order.
func TestForward_FlappingReceiverLosesNothing(t *testing.T) {
	const (
		total = 100_000
		keys  = 1_000
		batch = 500
	)
	crashAt := map[int]bool{70: true, 140: true} // batches before which the receiver dies
	out := filepath.Join(t.TempDir(), "entries.jsonl")
	faults := []string{"-flap", "4000", "-drop-acks", "0.05", "-cut", "300000"}
	r := startReceiver(t, out, append(faults, "-seed", "7")...)
	all := []*receiver{r}
	f := newForward(t, ForwardConfig{Address: r.addr, Timeout: 5 * time.Second})
	bo := Backoff{Min: time.Millisecond, Max: 20 * time.Millisecond, Rand: rand.New(rand.NewPCG(1, 2))}

	sent := make(map[string]int, total) // event id -> batch
	retried := map[int]bool{}
	failures := 0
	start := time.Now()
	deadline := time.Now().Add(90 * time.Second)
	for b := 0; b*batch < total; b++ {
		events := make([]*event.Event, 0, batch)
		for i := b * batch; i < (b+1)*batch && i < total; i++ {
			e := seqEvent(i, keys)
			events = append(events, e)
			sent[e.EventID] = b
		}
		if crashAt[b] {
			r.kill()
		}
		for attempt := 0; ; attempt++ {
			if crashAt[b] && attempt == 3 { // down for three attempts
				r = startReceiver(t, out, append(faults, "-listen", r.addr, "-seed", strconv.Itoa(b))...)
				all = append(all, r)
			}
			err := f.Write(context.Background(), events)
			if err == nil {
				bo.Reset()
				break
			}
			failures++
			retried[b] = true
			if attempt == 50 || time.Now().After(deadline) {
				t.Fatalf("batch %d still failing after %d attempts: %v\nreceiver:\n%s", b, attempt+1, err, r.stderr)
			}
			time.Sleep(bo.Next())
		}
	}
	elapsed := time.Since(start)
	r.stop()
	for i, r := range all {
		t.Logf("receiver %d: %s", i, r.summary())
	}

	got := readKeys(t, out)
	seen := make(map[string]int, total)
	last := map[string]string{} // key -> last window_start of a first copy
	dups := 0
	for _, g := range got {
		id := g.EventID
		b, ok := sent[id]
		if !ok {
			t.Fatalf("received unknown event %s", id)
		}
		seen[id]++
		if seen[id] > 1 {
			dups++
			if !retried[b] {
				t.Errorf("event %s of batch %d received %d times, but its batch was never retried", id, b, seen[id])
			}
			continue
		}
		k, w := g.key(), g.WindowStart
		if w <= last[k] { // RFC 3339 in UTC with whole seconds sorts as text
			t.Errorf("%s: window %s arrived after window %s", k, w, last[k])
		}
		last[k] = w
	}
	lost := 0
	for id := range sent {
		if seen[id] == 0 {
			lost++
		}
	}
	t.Logf("%d events in %d batches sent in %v: %d failed writes over %d batches, %d entries received, %d duplicates, %d lost",
		total, (total+batch-1)/batch, elapsed.Round(time.Millisecond), failures, len(retried), len(got), dups, lost)
	if lost > 0 {
		t.Errorf("%d events lost", lost)
	}
	if len(retried) == 0 || dups == 0 {
		t.Errorf("the faults did not bite (%d retried batches, %d duplicates): the test proves nothing", len(retried), dups)
	}
}

// keyEntry is what the order check needs of an entry.
type keyEntry struct {
	EventID     string `json:"event_id"`
	WindowStart string `json:"window_start"`
	SrcIP       string `json:"src_ip"`
	Domain      string `json:"domain"`
}

func (k keyEntry) key() string {
	if k.Domain != "" {
		return "domain " + k.Domain
	}
	return "ip " + k.SrcIP
}

// readKeys reads the receiver's output, only the fields of keyEntry.
func readKeys(t *testing.T, path string) []keyEntry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []keyEntry
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line struct {
			Record keyEntry `json:"record"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("receiver output line %q: %v", sc.Text(), err)
		}
		out = append(out, line.Record)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
