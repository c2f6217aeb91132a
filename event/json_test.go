package event

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

var start = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func strp(s string) *string { return &s }

// goldenEvents are events of every type with their exact encoding.
var goldenEvents = []struct {
	name string
	ev   Event
	json string
}{
	{
		name: "ip_score",
		ev: Event{
			EventID: "0123456789abcdef0123456789abcdef", Type: TypeIPScore, Kind: "web", Host: "node1", Source: "web",
			WindowStart: start, WindowEnd: start.Add(time.Minute),
			SrcIP:    "192.0.2.7",
			Features: Features{{"hits", 120}, {"hits_2xx", 100}, {"hits_non2xx", 20}, {"error_ratio", 0.125}, {"bytes", 3e15}},
			Cluster:  3, Distance: 2, Threshold: 1.75, Score: 1.1428571428571428, Anomalous: true, Model: "web@7",
			// Fields of other types are not encoded.
			Domain: "ignored.example", Hits: 9, Message: "ignored",
		},
		json: `{"event_id":"0123456789abcdef0123456789abcdef","type":"ip_score","kind":"web","host":"node1","source":"web",` +
			`"window_start":"2026-03-01T12:00:00Z","window_end":"2026-03-01T12:01:00Z","src_ip":"192.0.2.7",` +
			`"features":{"hits":120,"hits_2xx":100,"hits_non2xx":20,"error_ratio":0.125,"bytes":3e+15},` +
			`"cluster":3,"distance":2,"threshold":1.75,"score":1.1428571428571428,"anomalous":true,"model":"web@7"}`,
	},
	{
		name: "ip_score empty features and NaN",
		ev: Event{
			EventID: "e", Type: TypeIPScore, Kind: "dns", Host: "h", Source: "bind",
			WindowStart: start, WindowEnd: start.Add(time.Minute + 250*time.Millisecond),
			SrcIP: "2001:db8::1", Distance: 0, Threshold: 1, Score: mathNaN(), Model: "dns@1",
		},
		json: `{"event_id":"e","type":"ip_score","kind":"dns","host":"h","source":"bind",` +
			`"window_start":"2026-03-01T12:00:00Z","window_end":"2026-03-01T12:01:00.25Z","src_ip":"2001:db8::1",` +
			`"features":{},"cluster":0,"distance":0,"threshold":1,"score":null,"anomalous":false,"model":"dns@1"}`,
	},
	{
		name: "domain uncategorized",
		ev: Event{
			EventID: "d1", Type: TypeDomain, Kind: "proxy", Host: "node1", Source: "squid",
			WindowStart: start, WindowEnd: start.Add(time.Minute),
			Domain: "198.51.100.1", Uncategorized: true, FirstSeen: start.Add(30 * time.Second), New: true, IsIP: true,
			Hits: 4, Bytes: 1 << 40, Clients: 1,
			SrcIP: "ignored", Score: 5,
		},
		json: `{"event_id":"d1","type":"domain","kind":"proxy","host":"node1","source":"squid",` +
			`"window_start":"2026-03-01T12:00:00Z","window_end":"2026-03-01T12:01:00Z","domain":"198.51.100.1",` +
			`"category":null,"uncategorized":true,"first_seen":"2026-03-01T12:00:30Z","new":true,"is_ip":true,` +
			`"hits":4,"bytes":1099511627776,"clients":1,"client_ips":[],"users":[],"hosts":[]}`,
	},
	{
		name: "domain enriched",
		ev: Event{
			EventID: "d2", Type: TypeDomain, Kind: "proxy", Host: "node1", Source: "squid",
			WindowStart: start, WindowEnd: start.Add(time.Minute),
			Domain: "exämple.org", Category: strp("news/media"), FirstSeen: start.Add(-36 * time.Hour),
			Hits: 2, Bytes: 10, Clients: 2, Users: []string{"alice", "bob"},
			ClientIPs: []string{"10.0.0.1", "2001:db8::1"}, Hosts: []string{"www.exämple.org"},
			Features: Features{{"hosts", 1}, {"denied", 0}},
			Enrichment: &Enrichment{TLSNames: []string{"exämple.org", "*.exämple.org"},
				Whois: &Whois{Org: "Example", Country: "DE", Created: "2001-02-03", Server: "whois.example"}},
		},
		json: `{"event_id":"d2","type":"domain","kind":"proxy","host":"node1","source":"squid",` +
			`"window_start":"2026-03-01T12:00:00Z","window_end":"2026-03-01T12:01:00Z","domain":"exämple.org",` +
			`"category":"news/media","uncategorized":false,"first_seen":"2026-02-28T00:00:00Z","new":false,"is_ip":false,` +
			`"hits":2,"bytes":10,"clients":2,"client_ips":["10.0.0.1","2001:db8::1"],"users":["alice","bob"],` +
			`"hosts":["www.exämple.org"],"features":{"hosts":1,"denied":0},` +
			`"enrichment":{"tls_names":["exämple.org","*.exämple.org"],` +
			`"whois":{"org":"Example","country":"DE","created":"2001-02-03","server":"whois.example"}}}`,
	},
	{
		name: "agent",
		ev: Event{
			EventID: "a1", Type: TypeAgent, Kind: "web", Host: "node1", Source: "agent",
			Level: "warn", Message: "model rejected: bad signature",
			Detail: map[string]string{"why": "signature", "model": "/etc/m.json"},
		},
		json: `{"event_id":"a1","type":"agent","kind":"web","host":"node1","source":"agent",` +
			`"window_start":"","window_end":"","level":"warn","message":"model rejected: bad signature",` +
			`"detail":{"model":"/etc/m.json","why":"signature"}}`,
	},
	{
		name: "agent without detail, non-UTC window",
		ev: Event{
			EventID: "a2", Type: TypeAgent, Kind: "proxy", Host: "node1", Source: "agent",
			WindowStart: time.Date(2026, 3, 1, 13, 0, 0, 0, time.FixedZone("CET", 3600)),
			Level:       "info", Message: "backpressure off",
		},
		json: `{"event_id":"a2","type":"agent","kind":"proxy","host":"node1","source":"agent",` +
			`"window_start":"2026-03-01T12:00:00Z","window_end":"","level":"info","message":"backpressure off"}`,
	},
}

func TestEvent_MarshalJSON_Golden(t *testing.T) {
	for _, g := range goldenEvents {
		t.Run(g.name, func(t *testing.T) {
			got, err := g.ev.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != g.json {
				t.Fatalf("got\n%s\nwant\n%s", got, g.json)
			}
			// json.Marshal of the value goes through MarshalJSON.
			viaStd, err := json.Marshal(&g.ev)
			if err != nil || !bytes.Equal(viaStd, got) {
				t.Fatalf("json.Marshal = %s, %v", viaStd, err)
			}
		})
	}
}

// TestEvent_FieldSets checks the exact top-level keys of each type.
func TestEvent_FieldSets(t *testing.T) {
	common := []string{"event_id", "type", "kind", "host", "source", "window_start", "window_end"}
	want := map[string][]string{
		TypeIPScore: append(slices.Clone(common), "src_ip", "features", "cluster", "distance", "threshold", "score", "anomalous", "model"),
		TypeDomain: append(slices.Clone(common), "domain", "category", "uncategorized", "first_seen", "new", "is_ip",
			"hits", "bytes", "clients", "client_ips", "users", "hosts", "features"),
		TypeAgent: append(slices.Clone(common), "level", "message"),
	}
	for typ, keys := range want {
		// An event with every field set still encodes only its type's.
		e := Event{
			EventID: "x", Type: typ, Kind: "web", Host: "h", Source: "s", WindowStart: start, WindowEnd: start,
			SrcIP: "1", Features: Features{{"hits", 1}}, Cluster: 1, Distance: 1, Threshold: 1, Score: 1,
			Anomalous: true, Model: "m@1", Domain: "d", Category: strp("c"), Uncategorized: true, FirstSeen: start,
			New: true, IsIP: true, Hits: 1, Bytes: 1, Clients: 1, Users: []string{"u"}, Message: "m", Level: "l",
		}
		b, err := e.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		got := topLevelKeys(t, b)
		if !slices.Equal(got, keys) {
			t.Errorf("%s keys\n got %v\nwant %v", typ, got, keys)
		}
	}
}

// topLevelKeys returns the keys of a JSON object in order.
func topLevelKeys(t *testing.T, b []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %s", b)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func TestEvent_MarshalJSON_UnknownType(t *testing.T) {
	e := Event{EventID: "x", Type: "bogus"}
	if _, err := e.MarshalJSON(); err == nil || !strings.Contains(err.Error(), `"bogus"`) {
		t.Fatalf("unknown type: %v", err)
	}
	b := []byte("prefix")
	out, err := e.AppendJSON(b)
	if err == nil || string(out) != "prefix" {
		t.Fatalf("AppendJSON(unknown type) = %q, %v", out, err)
	}
}

func TestEvent_UnmarshalJSON_RoundTrip(t *testing.T) {
	for _, g := range goldenEvents {
		t.Run(g.name, func(t *testing.T) {
			var got Event
			if err := json.Unmarshal([]byte(g.json), &got); err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			again, err := got.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			// NaN is written as null and read back as 0.
			if want := strings.Replace(g.json, `"score":null`, `"score":0`, 1); string(again) != want {
				t.Fatalf("re-encoded\n%s\nwant\n%s", again, want)
			}
			if got.Type == TypeIPScore && !slices.Equal(got.Features, g.ev.Features) {
				if len(got.Features) != 0 || len(g.ev.Features) != 0 {
					t.Fatalf("features %v, want %v", got.Features, g.ev.Features)
				}
			}
			if !got.WindowStart.Equal(g.ev.WindowStart) || !got.FirstSeen.Equal(g.ev.FirstSeen) {
				t.Fatalf("times %v %v, want %v %v", got.WindowStart, got.FirstSeen, g.ev.WindowStart, g.ev.FirstSeen)
			}
		})
	}
	// A fully set domain event decodes to the same struct.
	want := goldenEvents[3].ev
	var got Event
	if err := json.Unmarshal([]byte(goldenEvents[3].json), &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded\n%+v\nwant\n%+v", got, want)
	}
}

func TestEvent_UnmarshalJSON_Lenient(t *testing.T) {
	tests := []struct {
		name, json string
		check      func(e *Event) bool
	}{
		{"null features", `{"type":"ip_score","features":null}`, func(e *Event) bool { return e.Features == nil }},
		{"null times", `{"type":"agent","window_start":null,"first_seen":null}`, func(e *Event) bool { return e.WindowStart.IsZero() }},
		{"empty times", `{"type":"agent","window_start":"","window_end":"","first_seen":""}`, func(e *Event) bool { return e.WindowEnd.IsZero() && e.FirstSeen.IsZero() }},
		{"offset times", `{"window_start":"2026-03-01T13:00:00+01:00"}`, func(e *Event) bool { return e.WindowStart.Equal(start) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e Event
			if err := json.Unmarshal([]byte(tt.json), &e); err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if !tt.check(&e) {
				t.Fatalf("decoded %+v", e)
			}
		})
	}
	for _, bad := range []string{`{"window_start":"yesterday"}`, `{"features":[1]}`, `{"features":{"a":"1"}}`, `[]`, `{"cluster":1.5}`} {
		var e Event
		if err := json.Unmarshal([]byte(bad), &e); err == nil {
			t.Errorf("Unmarshal(%s) accepted", bad)
		}
	}
}

func TestFeatures_JSON(t *testing.T) {
	f := Features{{"z", 1}, {"a", 0.5}, {"m", -2}, {"big", 1e300}, {"<&>", 3}}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"z":1,"a":0.5,"m":-2,"big":1e+300,"\u003c\u0026\u003e":3}`; string(b) != want {
		t.Fatalf("Marshal = %s, want %s", b, want)
	}
	var got Features
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, f) {
		t.Fatalf("round trip %v, want %v (order kept)", got, f)
	}
	if v, ok := got.Get("m"); !ok || v != -2 {
		t.Fatalf("Get(m) = %v, %v", v, ok)
	}
	if _, ok := got.Get("nope"); ok {
		t.Fatal("Get(nope) found")
	}
	// Decoding reuses, and replaces, the receiver's contents.
	got = Features{{"old", 1}, {"old2", 2}, {"old3", 3}}
	if err := got.UnmarshalJSON([]byte(`{"new":7}`)); err != nil || !slices.Equal(got, Features{{"new", 7}}) {
		t.Fatalf("decode into used Features: %v, %v", got, err)
	}
	for _, bad := range []string{`[]`, `{"a":"x"}`, `{"a":1e999}`, `{"a":1`, `{"a":true}`, ``, `"x"`} {
		var f Features
		if err := f.UnmarshalJSON([]byte(bad)); err == nil {
			t.Errorf("UnmarshalJSON(%s) accepted: %v", bad, f)
		}
	}
}

func TestID(t *testing.T) {
	base := ID("node1", "web", TypeIPScore, "192.0.2.1", start)
	if len(base) != 32 || strings.Trim(base, "0123456789abcdef") != "" {
		t.Fatalf("ID %q is not 32 lowercase hex digits", base)
	}
	// Pinned: downstream de-duplicates on ids, so the same tuple must keep
	// its id across versions.
	if got, want := ID("node1", "web", TypeIPScore, "192.0.2.7", time.Unix(1_700_000_000, 0)), "00a9e8eafe7e029ed3c1993f956a7cd6"; got != want {
		t.Fatalf("ID changed: %s, was %s", got, want)
	}
	if again := ID("node1", "web", TypeIPScore, "192.0.2.1", start.In(time.FixedZone("X", 7200))); again != base {
		t.Fatalf("ID not stable: %s vs %s", base, again)
	}
	others := map[string]string{
		"host":          ID("node2", "web", TypeIPScore, "192.0.2.1", start),
		"source":        ID("node1", "web2", TypeIPScore, "192.0.2.1", start),
		"type":          ID("node1", "web", TypeDomain, "192.0.2.1", start),
		"key":           ID("node1", "web", TypeIPScore, "192.0.2.2", start),
		"window":        ID("node1", "web", TypeIPScore, "192.0.2.1", start.Add(time.Minute)),
		"ns later":      ID("node1", "web", TypeIPScore, "192.0.2.1", start.Add(1)),
		"shifted field": ID("node1w", "eb", TypeIPScore, "192.0.2.1", start),
		"empty":         ID("", "", "", "", time.Time{}),
	}
	seen := map[string]string{base: "base"}
	for name, id := range others {
		if prev, dup := seen[id]; dup {
			t.Errorf("ID for %s equals ID for %s", name, prev)
		}
		seen[id] = name
	}
}

// FuzzFeaturesUnmarshal checks that decoding never panics and that what
// decodes re-encodes to valid JSON that decodes to the same features.
func FuzzFeaturesUnmarshal(f *testing.F) {
	for _, s := range []string{`{}`, `{"hits":1,"hits_2xx":0.5}`, `{"a":1e308,"b":-0,"c":5e-324}`, `{"a":1,"a":2}`,
		`{"\u00e9\u2028":1}`, `null`, `[]`, `{"a":"1"}`, `{"a":1`, `{"a":1} x`, `{"a":{"b":1}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var fs Features
		if err := fs.UnmarshalJSON(data); err != nil {
			return
		}
		b, err := fs.MarshalJSON()
		if err != nil {
			t.Fatalf("MarshalJSON: %v", err)
		}
		if !json.Valid(b) {
			t.Fatalf("MarshalJSON wrote invalid JSON %q", b)
		}
		var again Features
		if err := again.UnmarshalJSON(b); err != nil {
			t.Fatalf("decode re-encoded %s: %v", b, err)
		}
		if !slices.Equal(again, fs) {
			t.Fatalf("round trip %v, want %v", again, fs)
		}
	})
}

// FuzzEventUnmarshal checks that decoding never panics, and that a decoded
// event of a known type re-encodes to valid JSON that is a fixed point of
// decode and encode.
func FuzzEventUnmarshal(f *testing.F) {
	for _, g := range goldenEvents {
		f.Add([]byte(g.json))
	}
	for _, s := range []string{`{}`, `null`, `{"type":"ip_score","features":null}`, `{"type":"agent","detail":{"a":"b"}}`,
		`{"type":"domain","first_seen":"","users":null,"enrichment":{}}`, `{"window_start":"9999-12-31T23:59:59-01:00"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var e Event
		if err := json.Unmarshal(data, &e); err != nil {
			return
		}
		b, err := e.MarshalJSON()
		if err != nil {
			return // unknown type
		}
		if !json.Valid(b) {
			t.Fatalf("MarshalJSON wrote invalid JSON %q", b)
		}
		if e.Type == TypeIPScore {
			ab, err := e.AppendJSON(nil)
			if err != nil || !bytes.Equal(ab, b) {
				t.Fatalf("AppendJSON = %q, %v; MarshalJSON = %q", ab, err, b)
			}
		}
		var e2 Event
		if err := json.Unmarshal(b, &e2); err != nil {
			t.Fatalf("decode re-encoded %s: %v", b, err)
		}
		b2, err := e2.MarshalJSON()
		if err != nil || !bytes.Equal(b, b2) {
			t.Fatalf("not a fixed point:\n%s\n%s (%v)", b, b2, err)
		}
	})
}
