package output

import (
	"bufio"
	"bytes"
	"testing"
	"time"

	"github.com/fluent/fluent-logger-golang/fluent"
	"github.com/socx/sharkfin/event"
	"github.com/tinylib/msgp/msgp"
)

// decoded is one Forward-mode message read back with msgp.
type decoded struct {
	tag     string
	times   []time.Time
	ids     []string
	options map[string]any
}

func decodeMessage(t *testing.T, b []byte) (decoded, []byte) {
	t.Helper()
	var d decoded
	n, b, err := msgp.ReadArrayHeaderBytes(b)
	if err != nil || n != 3 {
		t.Fatalf("message header: %d elements, %v", n, err)
	}
	if d.tag, b, err = msgp.ReadStringBytes(b); err != nil {
		t.Fatal(err)
	}
	entries, b, err := msgp.ReadArrayHeaderBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	for range entries {
		var pair uint32
		if pair, b, err = msgp.ReadArrayHeaderBytes(b); err != nil || pair != 2 {
			t.Fatalf("entry: %d elements, %v", pair, err)
		}
		var et fluent.EventTime
		if b, err = msgp.ReadExtensionBytes(b, &et); err != nil {
			t.Fatalf("entry time: %v", err)
		}
		var rec map[string]any
		if rec, b, err = msgp.ReadMapStrIntfBytes(b, nil); err != nil {
			t.Fatalf("entry record: %v", err)
		}
		d.times = append(d.times, time.Time(et))
		d.ids = append(d.ids, rec["event_id"].(string))
	}
	if d.options, b, err = msgp.ReadMapStrIntfBytes(b, nil); err != nil {
		t.Fatalf("options: %v", err)
	}
	return d, b
}

// wire encodes events as Forward writes them.
func wire(t *testing.T, enc *encoder, events []*event.Event) ([]*message, []byte) {
	t.Helper()
	msgs, err := enc.encode(events)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	for _, m := range msgs {
		enc.writeTo(w, m)
	}
	w.Flush()
	return msgs, buf.Bytes()
}

func TestEncoder_GroupsByTagInOrder(t *testing.T) {
	// Alternating tags: one message per tag, each in the events' order.
	var events []*event.Event
	for i := range 40 {
		events = append(events, seqEvent(i, 10)) // keys 0 and 5 are domains
	}
	enc := encoder{prefix: "p"}
	msgs, b := wire(t, &enc, events)
	if len(msgs) != 2 {
		t.Fatalf("%d messages, want 2 (one per tag)", len(msgs))
	}
	var got []decoded
	for len(b) > 0 {
		var d decoded
		d, b = decodeMessage(t, b)
		got = append(got, d)
	}
	wantTags := []string{"p.proxy.domain", "p.web.ip_score"}
	chunks := map[string]bool{}
	for i, d := range got {
		if d.tag != wantTags[i] {
			t.Errorf("message %d: tag %q, want %q", i, d.tag, wantTags[i])
		}
		chunk, _ := d.options["chunk"].(string)
		if len(chunk) != 24 || chunks[chunk] {
			t.Errorf("message %d: chunk %q: want a new 24-character id", i, chunk)
		}
		chunks[chunk] = true
		if size, _ := d.options["size"].(int64); int(size) != len(d.ids) {
			t.Errorf("message %d: size option %v, want %d", i, d.options["size"], len(d.ids))
		}
	}
	// Each tag's events in the batch order, with their window ends.
	var want [2][]*event.Event
	for _, e := range events {
		if e.Type == event.TypeDomain {
			want[0] = append(want[0], e)
		} else {
			want[1] = append(want[1], e)
		}
	}
	for i, d := range got {
		if len(d.ids) != len(want[i]) {
			t.Fatalf("message %d: %d entries, want %d", i, len(d.ids), len(want[i]))
		}
		for j, e := range want[i] {
			if d.ids[j] != e.EventID || !d.times[j].Equal(e.WindowEnd) {
				t.Errorf("message %d entry %d: %s at %v, want %s at %v", i, j, d.ids[j], d.times[j], e.EventID, e.WindowEnd)
			}
		}
	}
}

func TestEncoder_SplitsLargeBatches(t *testing.T) {
	var events []*event.Event
	for i := range 12_000 {
		events = append(events, seqEvent(i*5+1, 1_000_000)) // all web
	}
	enc := encoder{prefix: "p"}
	for round := range 2 { // the second round reuses the buffers
		msgs, b := wire(t, &enc, events)
		if len(msgs) < 2 {
			t.Fatalf("round %d: %d message for %d events", round, len(msgs), len(events))
		}
		var ids []string
		for len(b) > 0 {
			var d decoded
			d, b = decodeMessage(t, b)
			ids = append(ids, d.ids...)
		}
		for i, m := range msgs {
			if len(m.entries) > maxMessageBytes+4096 {
				t.Errorf("round %d message %d: %d bytes of entries, cap %d", round, i, len(m.entries), maxMessageBytes)
			}
		}
		if len(ids) != len(events) {
			t.Fatalf("round %d: %d entries, want %d", round, len(ids), len(events))
		}
		for i, e := range events {
			if ids[i] != e.EventID {
				t.Fatalf("round %d: entry %d is %s, want %s", round, i, ids[i], e.EventID)
			}
		}
	}
}

func TestEncoder_EventTimeKeepsNanoseconds(t *testing.T) {
	e := sampleEvents()[0]
	enc := encoder{prefix: "p"}
	_, b := wire(t, &enc, []*event.Event{e})
	d, _ := decodeMessage(t, b)
	if got := d.times[0].UnixNano(); got != e.WindowEnd.UnixNano() {
		t.Fatalf("EventTime %d, want %d", got, e.WindowEnd.UnixNano())
	}
}

func TestEncoder_AllocsPerEvent(t *testing.T) {
	events := benchEvents(500)
	enc := encoder{prefix: DefaultTagPrefix}
	enc.encode(events) // grow the buffers
	allocs := testing.AllocsPerRun(20, func() { enc.encode(events) }) / float64(len(events))
	// event.Map builds a map of boxed values: about 20 allocations per
	// event, all of them there; the msgpack encoding adds none.
	if allocs > 25 {
		t.Errorf("%.1f allocations per event, want at most 25", allocs)
	}
	t.Logf("%.1f allocations per event", allocs)
}
