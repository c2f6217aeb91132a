package event

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func mathNaN() float64 { return math.NaN() }

// awkwardStrings are strings encoders get wrong.
var awkwardStrings = []string{
	"", "plain", "quote\"backslash\\slash/", "tab\tnl\nrc\r", "\b\f\x00\x01\x1f\x7f",
	"<script>&amp;</script>", "exämple.org", "日本語", "emoji 🦈", "\u2028line\u2029para",
	"bad \xff utf8 \xc3", "\xed\xa0\x80 surrogate", "trailing \xe2\x82", "\ufffd",
}

// randString mixes awkward bytes, runes and invalid sequences.
func randString(rng *rand.Rand) string {
	var b strings.Builder
	for range rng.IntN(12) {
		switch rng.IntN(6) {
		case 0:
			b.WriteByte(byte(rng.IntN(0x20)))
		case 1:
			b.WriteByte(byte(0x80 + rng.IntN(0x80)))
		case 2:
			b.WriteRune(rune(rng.IntN(0x3000)))
		case 3:
			b.WriteString(awkwardStrings[rng.IntN(len(awkwardStrings))])
		default:
			b.WriteByte(byte(0x20 + rng.IntN(0x60)))
		}
	}
	return b.String()
}

var awkwardNumbers = []float64{0, math.Copysign(0, -1), 1, -1, 0.1, 1.0 / 3, 2.5e-8, 5e-324, 1e15 - 1, 1e15, 1e15 + 0.5,
	-1e15, 1e21, 1e300, math.MaxFloat64, -math.MaxFloat64, 9007199254740993, math.NaN(), math.Inf(1), math.Inf(-1)}

func randNumber(rng *rand.Rand) float64 {
	if rng.IntN(2) == 0 {
		return awkwardNumbers[rng.IntN(len(awkwardNumbers))]
	}
	return (rng.Float64() - 0.3) * math.Pow(10, float64(rng.IntN(40)-20))
}

func randTime(rng *rand.Rand) time.Time {
	switch rng.IntN(4) {
	case 0:
		return time.Time{}
	case 1:
		return start.Add(time.Duration(rng.Int64N(int64(time.Hour))))
	case 2:
		return start.In(time.FixedZone("X", (rng.IntN(48)-24)*1800))
	}
	return start.Add(time.Duration(rng.IntN(1000)) * time.Minute)
}

func randIPScore(rng *rand.Rand) *Event {
	e := &Event{
		EventID: randString(rng), Type: TypeIPScore, Kind: randString(rng), Host: randString(rng),
		Source: randString(rng), WindowStart: randTime(rng), WindowEnd: randTime(rng), SrcIP: randString(rng),
		Cluster: rng.IntN(20) - 2, Distance: randNumber(rng), Threshold: randNumber(rng), Score: randNumber(rng),
		Anomalous: rng.IntN(2) == 0, Model: randString(rng),
	}
	if rng.IntN(5) == 0 {
		e.Cluster = int(rng.Int64()) // beyond float64's integers
	}
	for range rng.IntN(12) {
		e.Features = append(e.Features, Feature{Name: randString(rng), Value: randNumber(rng)})
	}
	if rng.IntN(3) == 0 {
		e.HasSeverity, e.Severity = true, randNumber(rng)
	}
	e.Reason = []string{"", ReasonDistance, ReasonProbe, ReasonFlood, randString(rng)}[rng.IntN(5)]
	for range rng.IntN(3) {
		e.Explain = append(e.Explain, Explanation{Feature: randString(rng), Value: randNumber(rng), Z: randNumber(rng), Contribution: randNumber(rng)})
	}
	return e
}

func randStrings(rng *rand.Rand) []string {
	var l []string
	for range rng.IntN(5) {
		l = append(l, randString(rng))
	}
	return l
}

func randDomain(rng *rand.Rand) *Event {
	e := &Event{
		EventID: randString(rng), Type: TypeDomain, Kind: randString(rng), Host: randString(rng),
		Source: randString(rng), WindowStart: randTime(rng), WindowEnd: randTime(rng), Domain: randString(rng),
		Uncategorized: rng.IntN(2) == 0, FirstSeen: randTime(rng), New: rng.IntN(2) == 0, IsIP: rng.IntN(2) == 0,
		Hits: rng.Int64() - rng.Int64(), Bytes: rng.Int64N(1 << 50), Clients: rng.Int64N(100000),
		ClientIPs: randStrings(rng), Users: randStrings(rng), Hosts: randStrings(rng),
	}
	if rng.IntN(2) == 0 {
		c := randString(rng)
		e.Category = &c
	}
	for range rng.IntN(6) {
		e.Features = append(e.Features, Feature{Name: randString(rng), Value: randNumber(rng)})
	}
	if rng.IntN(3) == 0 {
		e.Enrichment = &Enrichment{TLSNames: randStrings(rng)}
		if rng.IntN(2) == 0 {
			e.Enrichment.Whois = &Whois{Org: randString(rng), Country: randString(rng), Created: randString(rng), Server: randString(rng)}
		}
	}
	return e
}

func TestAppendJSON_MatchesMarshalJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var events []*Event
	for _, s := range awkwardStrings {
		events = append(events, &Event{Type: TypeIPScore, EventID: s, Host: s, SrcIP: s, Model: s,
			Features: Features{{Name: s, Value: 1}}, WindowStart: start})
	}
	for _, v := range awkwardNumbers {
		events = append(events, &Event{Type: TypeIPScore, Distance: v, Threshold: v, Score: v,
			Features: Features{{Name: "x", Value: v}}})
	}
	for range 5000 {
		events = append(events, randIPScore(rng), randDomain(rng))
	}
	for _, g := range goldenEvents { // other types go through MarshalJSON
		events = append(events, &g.ev)
	}
	buf := []byte("prefix")
	for i, e := range events {
		want, err := e.MarshalJSON()
		if err != nil {
			t.Fatalf("event %d: MarshalJSON: %v", i, err)
		}
		got, err := e.AppendJSON(buf[:6])
		if err != nil {
			t.Fatalf("event %d: AppendJSON: %v", i, err)
		}
		if string(got[:6]) != "prefix" || !bytes.Equal(got[6:], want) {
			t.Fatalf("event %d %+v:\nAppendJSON  %q\nMarshalJSON %q", i, e, got[6:], want)
		}
		if !json.Valid(want) || !utf8.Valid(want) {
			t.Fatalf("event %d: invalid JSON %q", i, want)
		}
		buf = got
	}
}

func TestAppendJSON_NonFiniteIsNull(t *testing.T) {
	e := Event{Type: TypeIPScore, Distance: math.Inf(1), Threshold: 1, Score: math.NaN(),
		Features: Features{{Name: "x", Value: math.Inf(-1)}}}
	b, err := e.AppendJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"distance":null`, `"score":null`, `"features":{"x":null}`, `"threshold":1,`} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("%s does not contain %s", b, want)
		}
	}
	if !json.Valid(b) {
		t.Fatalf("invalid JSON %s", b)
	}
	// A null score decodes (as 0); a null feature is refused, so that
	// training from events never reads a missing value as a number.
	var back Event
	if err := json.Unmarshal(bytes.Replace(b, []byte(`{"x":null}`), []byte(`{}`), 1), &back); err != nil || back.Score != 0 {
		t.Fatalf("null score: %v, %v", back.Score, err)
	}
	if err := json.Unmarshal(b, &back); err == nil {
		t.Fatal("null feature decoded")
	}
}

func TestAppendJSON_AllocatesNothing(t *testing.T) {
	e := randIPScore(rand.New(rand.NewPCG(3, 4)))
	buf := make([]byte, 0, 4096)
	if allocs := testing.AllocsPerRun(200, func() {
		buf, _ = e.AppendJSON(buf[:0])
	}); allocs != 0 {
		t.Fatalf("AppendJSON allocates %v per event", allocs)
	}
}

// benchEvent is a typical web ip_score event.
func benchEvent() *Event {
	s := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	return &Event{
		EventID: ID("node1", "web", TypeIPScore, "192.0.2.7", s), Type: TypeIPScore, Kind: "web",
		Host: "node1.example.net", Source: "web", WindowStart: s, WindowEnd: s.Add(time.Minute),
		SrcIP: "192.0.2.7",
		Features: Features{{"hits", 57}, {"hits_2xx", 50}, {"hits_3xx", 3}, {"hits_4xx", 4}, {"hits_5xx", 0},
			{"hits_non2xx", 7}, {"bytes", 1234567}, {"distinct_paths", 12}, {"post", 2}, {"error_ratio", 0.07017543859649122}},
		Cluster: 2, Distance: 1.2345678901234567, Threshold: 2.5, Score: 0.49382715604938267, Model: "web@20260301T000000Z",
	}
}

func BenchmarkEvent_AppendJSON(b *testing.B) {
	e := benchEvent()
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf, _ = e.AppendJSON(buf[:0])
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkEvent_MarshalJSON(b *testing.B) {
	e := benchEvent()
	var n int
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		out, _ := e.MarshalJSON()
		n = len(out)
	}
	b.SetBytes(int64(n))
}
