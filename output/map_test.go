package output

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/socx/sharkfin/event"
)

// The record Forward sends is event.Map(), which must equal the JSON
// encoding key for key, numbers typed as JSON writes them. Map builds the
// map directly for speed; these tests hold it to the JSON encoding.

// jsonMap decodes e's JSON encoding: int64 for numbers that parse as one,
// float64 for the others.
func jsonMap(t *testing.T, e *event.Event) map[string]any {
	t.Helper()
	b, err := e.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return jsonNumbers(m).(map[string]any)
}

func jsonNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return i
		}
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			panic(err)
		}
		return f
	case map[string]any:
		for k, y := range x {
			x[k] = jsonNumbers(y)
		}
	case []any:
		for i, y := range x {
			x[i] = jsonNumbers(y)
		}
	}
	return v
}

// randomEvent draws an event of any type with awkward values.
func randomEvent(rng *rand.Rand) *event.Event {
	floats := []float64{0, -0.0, 1, -1, 2.5, 1e-300, 1e300, 999999999999999, 1e15, 1e15 + 2, -3e17,
		math.NaN(), math.Inf(1), math.Inf(-1), math.MaxFloat64, math.SmallestNonzeroFloat64, 0.1 + 0.2}
	fl := func() float64 {
		if rng.IntN(3) == 0 {
			return floats[rng.IntN(len(floats))]
		}
		return rng.NormFloat64() * math.Pow(10, float64(rng.IntN(30)-10))
	}
	strs := []string{"", "a", "ünïcode", "quote\"back\\slash", "ctl\x01\n\t", "<html>&"}
	str := func() string { return strs[rng.IntN(len(strs))] }
	start := epoch.Add(time.Duration(rng.Int64N(1e15)))
	e := &event.Event{
		EventID: str(), Kind: str(), Host: str(), Source: str(),
		WindowStart: start, WindowEnd: start.Add(time.Duration(rng.Int64N(1e12))),
	}
	switch rng.IntN(3) {
	case 0:
		e.Type = event.TypeIPScore
		e.SrcIP, e.Model = str(), str()
		for range rng.IntN(5) {
			e.Features = append(e.Features, event.Feature{Name: str(), Value: fl()})
		}
		e.Cluster, e.Distance, e.Threshold, e.Score, e.Anomalous = rng.IntN(1e6)-5, fl(), fl(), fl(), rng.IntN(2) == 0
		if e.Anomalous && rng.IntN(2) == 0 {
			e.HasSeverity, e.Severity = true, fl()
			e.Reason = []string{event.ReasonDistance, event.ReasonProbe, event.ReasonFlood}[rng.IntN(3)]
			for range rng.IntN(4) {
				e.Explain = append(e.Explain, event.Explanation{Feature: str(), Value: fl(), Z: fl(), Contribution: fl()})
			}
		}
	case 1:
		e.Type = event.TypeDomain
		e.Domain = str()
		if rng.IntN(2) == 0 {
			c := str()
			e.Category = &c
		}
		if rng.IntN(2) == 0 {
			e.FirstSeen = start.Add(-time.Duration(rng.Int64N(1e15)))
		}
		e.Uncategorized, e.New, e.IsIP = rng.IntN(2) == 0, rng.IntN(2) == 0, rng.IntN(2) == 0
		e.Hits, e.Bytes, e.Clients = rng.Int64(), -rng.Int64(), rng.Int64N(10)
		switch rng.IntN(3) {
		case 0:
			e.Users = []string{}
		case 1:
			e.Users = []string{str(), str()}
		}
		switch rng.IntN(4) {
		case 0:
			e.Enrichment = &event.Enrichment{}
		case 1:
			e.Enrichment = &event.Enrichment{TLSNames: []string{str()}, Whois: &event.Whois{Org: str(), Country: str()}}
		}
	default:
		e.Type = event.TypeAgent
		e.Level, e.Message = str(), str()
		switch rng.IntN(3) {
		case 0:
			e.Detail = map[string]string{}
		case 1:
			e.Detail = map[string]string{str(): str(), "k": str()}
		}
	}
	return e
}

func TestEventMap_MatchesJSON(t *testing.T) {
	events := sampleEvents()
	rng := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		events = append(events, randomEvent(rng))
	}
	for _, e := range events {
		got, err := e.Map()
		if err != nil {
			t.Fatalf("Map(%+v): %v", e, err)
		}
		if want := jsonMap(t, e); !reflect.DeepEqual(got, want) {
			t.Fatalf("Map differs from the JSON encoding for %+v\n got %#v\nwant %#v", e, got, want)
		}
	}
}

func TestEventMap_Types(t *testing.T) {
	m, err := sampleEvents()[0].Map()
	if err != nil {
		t.Fatal(err)
	}
	features := m["features"].(map[string]any)
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"cluster", m["cluster"], int64(3)},
		{"integral float", m["distance"], int64(2)},
		{"fractional float", m["threshold"], 1.75},
		{"bool", m["anomalous"], true},
		{"string", m["model"], "web@7"},
		{"time", m["window_end"], "2026-03-01T12:01:00.123456789Z"},
		{"feature count", features["hits"], int64(120)},
		{"feature ratio", features["ratio"], 0.1666666666666667},
		{"feature too big for an int", features["bytes"], 3e15},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s: %#v (%T), want %#v (%T)", tt.name, tt.got, tt.got, tt.want, tt.want)
		}
	}
}

func TestEventMap_UnknownType(t *testing.T) {
	e := &event.Event{EventID: "x", Type: "nope"}
	if _, err := e.Map(); err == nil {
		t.Fatal("Map of an unknown type: nil error")
	}
}
