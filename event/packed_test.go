package event

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

func randPacked(rng *rand.Rand) (*Context, *Packed) {
	c := &Context{Kind: randString(rng), Host: randString(rng), Source: randString(rng), Model: randString(rng)}
	p := &Packed{Start: rng.Int64N(1<<62) - 1<<61, Key: randString(rng), Cluster: rng.IntN(20) - 2,
		Distance: randNumber(rng), Threshold: randNumber(rng), Score: randNumber(rng), Anomalous: rng.IntN(2) == 0}
	if rng.IntN(5) == 0 {
		p.Cluster = int(rng.Int64())
	}
	// As a model scores: a threshold of a few, repeated (the renderer
	// keeps the last one rendered), and a score equal to the distance
	// (a threshold of 1; rendered once).
	if rng.IntN(2) == 0 {
		p.Threshold = [...]float64{1, 2.5, 0.1 + 0.2, math.Copysign(0, -1), 0}[rng.IntN(5)]
	}
	if rng.IntN(2) == 0 {
		p.Score = p.Distance
	}
	p.End = p.Start + rng.Int64N(int64(24*time.Hour)) - int64(time.Minute)
	for range rng.IntN(12) {
		c.Names = append(c.Names, randString(rng))
		p.Values = append(p.Values, randNumber(rng))
	}
	randVerdict(rng, p)
	return c, p
}

// randVerdict gives some packed events a severity and an explanation (of
// their features, by index).
func randVerdict(rng *rand.Rand, p *Packed) {
	p.HasSeverity, p.Severity, p.Reason, p.Explain = false, 0, "", nil
	if rng.IntN(3) == 0 {
		p.HasSeverity, p.Severity = true, randNumber(rng)
	}
	p.Reason = packedReasons[rng.IntN(len(packedReasons))]
	if len(p.Values) > 0 && rng.IntN(3) == 0 {
		for range 1 + rng.IntN(min(3, len(p.Values))) {
			p.Explain = append(p.Explain, PackedExplanation{Index: rng.IntN(len(p.Values)), Z: randNumber(rng), Contribution: randNumber(rng)})
		}
	}
}

// eventOf is the event a pipeline builds for the packed fields (what
// agent.Scoring.Event writes), built without the packed code.
func eventOf(c *Context, p *Packed) *Event {
	e := &Event{Type: TypeIPScore, Kind: c.Kind, Host: c.Host, Source: c.Source,
		WindowStart: time.Unix(0, p.Start).UTC(), WindowEnd: time.Unix(0, p.End).UTC(), SrcIP: p.Key,
		Cluster: p.Cluster, Distance: p.Distance, Threshold: p.Threshold, Score: p.Score, Anomalous: p.Anomalous, Model: c.Model}
	e.EventID = ID(e.Host, e.Source, e.Type, p.Key, e.WindowStart)
	for i, n := range c.Names {
		e.Features = append(e.Features, Feature{Name: n, Value: p.Values[i]})
	}
	e.HasSeverity, e.Severity, e.Reason = p.HasSeverity, p.Severity, p.Reason
	for _, x := range p.Explain {
		e.Explain = append(e.Explain, Explanation{Feature: c.Names[x.Index], Value: p.Values[x.Index], Z: x.Z, Contribution: x.Contribution})
	}
	return e
}

func sameFloat(a, b float64) bool { return math.Float64bits(a) == math.Float64bits(b) }

// samePacked compares a decoded record a with the record b it packs: a's
// values may lack b's trailing zeros (MarshalBinary leaves them out).
func samePacked(a, b *Packed) bool {
	if len(a.Values) < len(b.Values) {
		for _, v := range b.Values[len(a.Values):] {
			if v != 0 || math.Signbit(v) {
				return false
			}
		}
		b = &Packed{Context: b.Context, Start: b.Start, End: b.End, Key: b.Key, Values: b.Values[:len(a.Values)],
			Cluster: b.Cluster, Distance: b.Distance, Threshold: b.Threshold, Score: b.Score, Anomalous: b.Anomalous,
			HasSeverity: b.HasSeverity, Severity: b.Severity, Reason: b.Reason, Explain: b.Explain}
	}
	if a.Context != b.Context || a.Start != b.Start || a.End != b.End || a.Key != b.Key || len(a.Values) != len(b.Values) ||
		a.Cluster != b.Cluster || !sameFloat(a.Distance, b.Distance) || !sameFloat(a.Threshold, b.Threshold) ||
		!sameFloat(a.Score, b.Score) || a.Anomalous != b.Anomalous || a.HasSeverity != b.HasSeverity ||
		!sameFloat(a.Severity, b.Severity) || a.Reason != b.Reason || len(a.Explain) != len(b.Explain) {
		return false
	}
	for i := range a.Explain {
		x, y := a.Explain[i], b.Explain[i]
		if x.Index != y.Index || !sameFloat(x.Z, y.Z) || !sameFloat(x.Contribution, y.Contribution) {
			return false
		}
	}
	for i := range a.Values {
		if !sameFloat(a.Values[i], b.Values[i]) {
			return false
		}
	}
	return true
}

// An event packed and unpacked renders byte for byte as the event the
// pipeline builds from the same fields, event_id included, for awkward
// strings and numbers (NaN, -0, 2^53+1, infinities, huge clusters).
func TestPacked_RendersAsTheEventItPacks(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var got Event
	var back Packed
	var r Renderer
	var shared []*Context // reused, so that the renderer's caches are hit
	for i := range 5000 {
		c, p := randPacked(rng)
		if len(shared) > 0 && rng.IntN(2) == 0 {
			c = shared[rng.IntN(len(shared))]
			p.Values = p.Values[:0]
			for range c.Names {
				p.Values = append(p.Values, randNumber(rng))
			}
			randVerdict(rng, p)
			switch rng.IntN(3) {
			case 0: // same window as the last event
				p.Start, p.End = back.Start, back.End
			case 1: // same start, another end
				p.Start, p.End = back.Start, back.Start+rng.Int64N(int64(time.Hour))
			}
		} else {
			shared = append(shared, c)
		}
		enc, err := c.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var c2 Context
		if err := c2.UnmarshalBinary(enc); err != nil {
			t.Fatalf("case %d: context: %v", i, err)
		}
		p.Context = ContextID(enc)
		b, err := p.AppendBinary([]byte("x"))
		if err != nil || b[0] != 'x' {
			t.Fatalf("case %d: AppendBinary: %v", i, err)
		}
		if err := back.UnmarshalBinary(b[1:]); err != nil {
			t.Fatalf("case %d: UnmarshalBinary(%x): %v", i, b[1:], err)
		}
		if !samePacked(&back, p) {
			t.Fatalf("case %d: round trip\n got %+v\nwant %+v", i, back, *p)
		}
		if err := back.Event(&c2, &got); err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		want, werr := eventOf(c, p).AppendJSON(nil)
		have, herr := got.AppendJSON(nil)
		if !bytes.Equal(have, want) || (werr == nil) != (herr == nil) {
			t.Fatalf("case %d:\n got %s (%v)\nwant %s (%v)", i, have, herr, want, werr)
		}
		if id, ok := PackedContext(b[1:]); !ok || id != p.Context {
			t.Fatalf("case %d: PackedContext = %x, %v", i, id, ok)
		}
		direct, derr := r.AppendJSON([]byte("y"), b[1:], c)
		direct2, _ := r.AppendJSON(nil, b[1:], c) // the same again, from the caches
		if !bytes.Equal(direct2, direct[1:]) {
			t.Fatalf("case %d: rendered twice:\n%s\n%s", i, direct[1:], direct2)
		}
		if derr != nil || string(direct[:1]) != "y" || !bytes.Equal(direct[1:], want) {
			t.Fatalf("case %d: Renderer:\n got %s (%v)\nwant %s", i, direct[1:], derr, want)
		}
	}
}

// What a web event costs in the outbox, packed and as JSON: the packed
// record must stay well under a quarter of the JSON.
func TestPacked_Size(t *testing.T) {
	c := &Context{Kind: "web", Host: "web-01.example.org", Source: "nginx", Model: "web@2026-11-01",
		Names: []string{"hits", "hits_2xx", "hits_3xx", "hits_4xx", "hits_5xx", "hits_non2xx", "bytes", "distinct_paths", "post", "error_ratio"}}
	start := time.Date(2026, 1, 1, 4, 30, 0, 0, time.UTC).UnixNano()
	p := &Packed{Context: 42, Start: start, End: start + int64(time.Minute), Key: "203.0.113.197",
		Values: []float64{9, 8, 1, 0, 0, 1, 331917, 8, 0, 0.1111111111111111}, Cluster: 2,
		Distance: 0.30760273970367535, Threshold: 1.4869574853609395, Score: 0.20686720550655743}
	b, _ := p.AppendBinary(nil)
	j, err := eventOf(c, p).AppendJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("packed %d bytes, JSON %d bytes", len(b), len(j))
	if len(b)*4 > len(j) {
		t.Fatalf("packed %d bytes against %d of JSON", len(b), len(j))
	}
}

func TestPacked_Errors(t *testing.T) {
	c := &Context{Names: []string{"a", "b"}}
	p := &Packed{Key: "k", Values: []float64{1, 2, 3}}
	if err := p.Event(c, &Event{}); err == nil {
		t.Fatal("3 values for 2 names: no error")
	}
	p.Values = p.Values[:2]
	good, _ := p.AppendBinary(nil)
	bad := map[string][]byte{
		"empty":       nil,
		"json":        []byte(`{"type":"ip_score"}`),
		"cut":         good[:len(good)-1],
		"trailing":    append(append([]byte{}, good...), 0),
		"flags":       append(append([]byte{}, good[:9]...), append([]byte{2}, good[10:]...)...),
		"odd number":  append(append([]byte{}, good[:len(good)-1]...), 3),
		"big integer": append(append([]byte{}, good[:len(good)-1]...), 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02),
	}
	for name, b := range bad {
		var q Packed
		if err := q.UnmarshalBinary(b); err == nil {
			t.Errorf("%s: %x decoded as %+v", name, b, q)
		}
	}
	enc, _ := c.MarshalBinary()
	for name, b := range map[string][]byte{"empty": nil, "version": append([]byte{9}, enc[1:]...),
		"cut": enc[:len(enc)-1], "trailing": append(append([]byte{}, enc...), 0)} {
		var x Context
		if err := x.UnmarshalBinary(b); err == nil {
			t.Errorf("context %s: %x decoded as %+v", name, b, x)
		}
	}
}

func TestPacked_AllocatesNothing(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	_, p := randPacked(rng)
	buf := make([]byte, 0, 4096)
	if n := testing.AllocsPerRun(100, func() { buf, _ = p.AppendBinary(buf[:0]) }); n != 0 {
		t.Fatalf("AppendBinary: %v allocations", n)
	}
	// The sender's path: rendering a packed record with a known context.
	c := &Context{Kind: "web", Host: "h", Source: "s", Model: "m"}
	for range p.Values {
		c.Names = append(c.Names, "f")
	}
	rec, _ := p.AppendBinary(nil)
	var r Renderer
	out := make([]byte, 0, 64<<10)
	if n := testing.AllocsPerRun(100, func() { out, _ = r.AppendJSON(out[:0], rec, c) }); n != 0 {
		t.Fatalf("Renderer.AppendJSON: %v allocations", n)
	}
}

// The sender's cost per event: a busy site's ip_score (integral counts,
// one ratio, a threshold of 1 so that the score is the distance), decoded
// from the outbox and rendered, event_id included.
func BenchmarkRenderer_AppendJSON(b *testing.B) {
	c := &Context{Kind: "web", Host: "web-01.example.org", Source: "nginx", Model: "web@2026-11-01",
		Names: []string{"hits", "hits_2xx", "hits_3xx", "hits_4xx", "hits_5xx", "hits_non2xx", "bytes", "distinct_paths", "post", "error_ratio"}}
	start := time.Date(2026, 1, 1, 4, 30, 0, 0, time.UTC).UnixNano()
	p := &Packed{Start: start, End: start + int64(time.Minute), Key: "203.0.113.197",
		Values: []float64{9, 8, 1, 0, 0, 1, 331917, 8, 0, 0.1111111111111111}, Cluster: 2,
		Distance: 0.4276264622227025, Threshold: 1, Score: 0.4276264622227025}
	rec, _ := p.AppendBinary(nil)
	var r Renderer
	out := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		out, _ = r.AppendJSON(out[:0], rec, c)
	}
	b.SetBytes(int64(len(out)))
}

// FuzzPackedUnmarshal checks that decoding never panics and that what
// decodes re-encodes to a record that decodes to the same fields.
func FuzzPackedUnmarshal(f *testing.F) {
	rng := rand.New(rand.NewPCG(7, 8))
	for range 8 {
		_, p := randPacked(rng)
		b, _ := p.AppendBinary(nil)
		f.Add(b)
	}
	f.Add([]byte{PackedTag})
	f.Fuzz(func(t *testing.T, data []byte) {
		var p Packed
		if err := p.UnmarshalBinary(data); err != nil {
			return
		}
		b, err := p.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		var q Packed
		if err := q.UnmarshalBinary(b); err != nil {
			t.Fatalf("re-encoded %x: %v", b, err)
		}
		if !samePacked(&q, &p) { // q may lack p's trailing zeros
			t.Fatalf("round trip\n got %+v\nwant %+v", q, p)
		}
		names := make([]string, len(p.Values))
		var ev Event
		if err := p.Event(&Context{Names: names}, &ev); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzContextUnmarshal checks that decoding never panics and that what
// decodes re-encodes to a context that decodes the same.
func FuzzContextUnmarshal(f *testing.F) {
	rng := rand.New(rand.NewPCG(9, 10))
	for range 8 {
		c, _ := randPacked(rng)
		b, _ := c.MarshalBinary()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var c Context
		if err := c.UnmarshalBinary(data); err != nil {
			return
		}
		b, _ := c.MarshalBinary()
		var c2 Context
		if err := c2.UnmarshalBinary(b); err != nil {
			t.Fatalf("re-encoded %x: %v", b, err)
		}
		if !reflect.DeepEqual(c, c2) {
			t.Fatalf("round trip\n got %+v\nwant %+v", c2, c)
		}
	})
}

// A packed record carries an anomaly's reason in bits 3-5 of its flags:
// distance, probe or flood. A record of an earlier release (bits 0)
// decodes with no reason and renders without one; a reason the bits cannot
// stand for is refused.
func TestPacked_Reason(t *testing.T) {
	c := &Context{Kind: "web", Host: "h", Source: "s", Names: []string{"hits", "rare_errors"}, Model: "web@1"}
	var r Renderer
	for _, reason := range []string{ReasonDistance, ReasonProbe, ReasonFlood, ""} {
		p := &Packed{Start: 60e9, End: 120e9, Key: "192.0.2.1", Values: []float64{5, 5}, Distance: 1, Threshold: 0.5, Score: 2, Anomalous: true, Reason: reason}
		b, err := p.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		var q Packed
		if err := q.UnmarshalBinary(b); err != nil || q.Reason != reason {
			t.Fatalf("reason %q: decoded %q, %v", reason, q.Reason, err)
		}
		js, err := r.AppendJSON(nil, b, c)
		if err != nil {
			t.Fatal(err)
		}
		want := eventOf(c, p)
		wantJS, _ := want.AppendJSON(nil)
		if string(js) != string(wantJS) || strings.Contains(string(js), `"reason"`) != (reason != "") {
			t.Errorf("reason %q renders\n%s\nwant\n%s", reason, js, wantJS)
		}
		var ev Event
		if err := json.Unmarshal(js, &ev); err != nil || ev.Reason != reason {
			t.Errorf("reason %q: the JSON decodes to %q, %v", reason, ev.Reason, err)
		}
		if reason != "" && !strings.Contains(string(js), `"reason":"`+reason+`"`) {
			t.Errorf("reason %q missing: %s", reason, js)
		}
	}
	p := &Packed{Key: "192.0.2.1", Anomalous: true, Reason: "rule 7"}
	if _, err := p.AppendBinary(nil); err == nil {
		t.Error("an unknown reason was packed")
	}
}

// The reason's bits are the stored format (outboxes persist records across
// upgrades): distance 0x08, probe 0x10, flood 0x18 in the flags byte, and
// a later release's reason (an index this one does not know) decodes as
// none, the rest of the record intact.
func TestPacked_ReasonBits(t *testing.T) {
	for reason, bits := range map[string]byte{"": 0, ReasonDistance: 0x08, ReasonProbe: 0x10, ReasonFlood: 0x18} {
		p := &Packed{Key: "192.0.2.1", Values: []float64{1}, Anomalous: true, Reason: reason}
		b, err := p.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := b[9] &^ 1; got != bits {
			t.Errorf("reason %q: flags %#x, want %#x", reason, got, bits)
		}
	}
	p := &Packed{Key: "192.0.2.1", Values: []float64{1, 2}, Distance: 3, Threshold: 1, Score: 3, Anomalous: true, Reason: ReasonFlood}
	b, _ := p.AppendBinary(nil)
	b[9] = b[9]&^flagReason | 6<<reasonShift
	var q Packed
	if err := q.UnmarshalBinary(b); err != nil || q.Reason != "" || q.Score != 3 || !q.Anomalous || len(q.Values) != 2 {
		t.Errorf("a later release's reason: %+v, %v", q, err)
	}
	b[9] |= 0x40
	if err := q.UnmarshalBinary(b); err == nil {
		t.Error("flag bit 6 decoded")
	}
}
