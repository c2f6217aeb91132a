package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
)

// TimeFormat is how window bounds and first_seen are written: RFC 3339 in
// UTC with sub-second precision when there is any.
const TimeFormat = time.RFC3339Nano

// MarshalJSON writes the features as a JSON object in their own order.
func (f Features) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, x := range f {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(x.Name)
		b.Write(k)
		b.WriteByte(':')
		b.Write(appendNumber(nil, x.Value))
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads a JSON object of numbers, keeping the key order.
// null leaves f unchanged, as encoding/json does for other types.
func (f *Features) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("features: want an object of numbers, got %v", tok)
	}
	out := (*f)[:0]
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		name, _ := tok.(string)
		tok, err = dec.Token()
		if err != nil {
			return err
		}
		n, ok := tok.(json.Number)
		if !ok {
			return fmt.Errorf("features: %q: want a number, got %v", name, tok)
		}
		v, err := n.Float64()
		if err != nil {
			return fmt.Errorf("features: %q: %w", name, err)
		}
		out = append(out, Feature{Name: name, Value: v})
	}
	*f = out
	_, err = dec.Token()
	return err
}

// appendNumber writes v as a JSON number; NaN and Inf (never expected) are
// written as null so the line stays valid JSON.
func appendNumber(b []byte, v float64) []byte {
	if v == 0 { // most features of most windows (-0 too: JSON has no -0)
		return append(b, '0')
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return append(b, "null"...)
	}
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.AppendInt(b, int64(v), 10)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

type number float64

func (n number) MarshalJSON() ([]byte, error) { return appendNumber(nil, float64(n)), nil }

type common struct {
	EventID     string `json:"event_id"`
	Type        string `json:"type"`
	Kind        string `json:"kind"`
	Host        string `json:"host"`
	Source      string `json:"source"`
	WindowStart string `json:"window_start"`
	WindowEnd   string `json:"window_end"`
}

type ipScoreJSON struct {
	common
	SrcIP     string        `json:"src_ip"`
	Overflow  bool          `json:"overflow,omitempty"`
	Features  Features      `json:"features"`
	Cluster   int           `json:"cluster"`
	Distance  number        `json:"distance"`
	Threshold number        `json:"threshold"`
	Score     number        `json:"score"`
	Anomalous bool          `json:"anomalous"`
	Model     string        `json:"model"`
	Severity  *number       `json:"severity,omitempty"`
	Reason    string        `json:"reason,omitempty"`
	Explain   []explainJSON `json:"explain,omitempty"`
}

type explainJSON struct {
	Feature      string `json:"feature"`
	Value        number `json:"value"`
	Z            number `json:"z"`
	Contribution number `json:"contribution"`
}

type domainJSON struct {
	common
	Domain        string      `json:"domain"`
	Category      *string     `json:"category"`
	Uncategorized bool        `json:"uncategorized"`
	FirstSeen     string      `json:"first_seen"`
	New           bool        `json:"new"`
	IsIP          bool        `json:"is_ip"`
	Hits          int64       `json:"hits"`
	Bytes         int64       `json:"bytes"`
	Clients       int64       `json:"clients"`
	ClientIPs     []string    `json:"client_ips"`
	Users         []string    `json:"users"`
	Hosts         []string    `json:"hosts"`
	Features      Features    `json:"features,omitempty"`
	Enrichment    *Enrichment `json:"enrichment,omitempty"`
}

type agentJSON struct {
	common
	Level   string            `json:"level"`
	Message string            `json:"message"`
	Detail  map[string]string `json:"detail,omitempty"`
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(TimeFormat)
}

func (e *Event) common() common {
	return common{
		EventID: e.EventID, Type: e.Type, Kind: e.Kind, Host: e.Host, Source: e.Source,
		WindowStart: formatTime(e.WindowStart), WindowEnd: formatTime(e.WindowEnd),
	}
}

// MarshalJSON writes the event with exactly the fields of its type, in the
// order of the contract.
func (e *Event) MarshalJSON() ([]byte, error) {
	switch e.Type {
	case TypeIPScore:
		j := ipScoreJSON{
			common: e.common(), SrcIP: e.SrcIP, Overflow: e.Overflow, Features: e.Features, Cluster: e.Cluster,
			Distance: number(e.Distance), Threshold: number(e.Threshold), Score: number(e.Score),
			Anomalous: e.Anomalous, Model: e.Model, Reason: e.Reason,
		}
		if e.HasSeverity {
			s := number(e.Severity)
			j.Severity = &s
		}
		for _, x := range e.Explain {
			j.Explain = append(j.Explain, explainJSON{Feature: x.Feature, Value: number(x.Value), Z: number(x.Z), Contribution: number(x.Contribution)})
		}
		return json.Marshal(j)
	case TypeDomain:
		return json.Marshal(domainJSON{
			common: e.common(), Domain: e.Domain, Category: e.Category, Uncategorized: e.Uncategorized,
			FirstSeen: formatTime(e.FirstSeen), New: e.New, IsIP: e.IsIP, Hits: e.Hits, Bytes: e.Bytes,
			Clients: e.Clients, ClientIPs: nonNil(e.ClientIPs), Users: nonNil(e.Users), Hosts: nonNil(e.Hosts),
			Features: e.Features, Enrichment: e.Enrichment,
		})
	case TypeAgent:
		return json.Marshal(agentJSON{common: e.common(), Level: e.Level, Message: e.Message, Detail: e.Detail})
	}
	return nil, fmt.Errorf("event %s: unknown type %q", e.EventID, e.Type)
}

// nonNil is l, or an empty list for nil (JSON [] rather than null).
func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// wire is the union of all fields, for decoding.
type wire struct {
	EventID     string   `json:"event_id"`
	Type        string   `json:"type"`
	Kind        string   `json:"kind"`
	Host        string   `json:"host"`
	Source      string   `json:"source"`
	WindowStart wireTime `json:"window_start"`
	WindowEnd   wireTime `json:"window_end"`
	SrcIP       string   `json:"src_ip"`
	Overflow    bool     `json:"overflow"`
	Features    Features `json:"features"`
	Cluster     int      `json:"cluster"`
	Distance    float64  `json:"distance"`
	Threshold   float64  `json:"threshold"`
	Score       float64  `json:"score"`
	Anomalous   bool     `json:"anomalous"`
	Model       string   `json:"model"`
	Severity    *float64 `json:"severity"`
	Reason      string   `json:"reason"`
	Explain     []struct {
		Feature      string  `json:"feature"`
		Value        float64 `json:"value"`
		Z            float64 `json:"z"`
		Contribution float64 `json:"contribution"`
	} `json:"explain"`
	Domain        string            `json:"domain"`
	Category      *string           `json:"category"`
	Uncategorized bool              `json:"uncategorized"`
	FirstSeen     wireTime          `json:"first_seen"`
	New           bool              `json:"new"`
	IsIP          bool              `json:"is_ip"`
	Hits          int64             `json:"hits"`
	Bytes         int64             `json:"bytes"`
	Clients       int64             `json:"clients"`
	Users         []string          `json:"users"`
	ClientIPs     []string          `json:"client_ips"`
	Hosts         []string          `json:"hosts"`
	Enrichment    *Enrichment       `json:"enrichment"`
	Level         string            `json:"level"`
	Message       string            `json:"message"`
	Detail        map[string]string `json:"detail"`
}

// wireTime decodes what formatTime writes: an RFC 3339 string, or "" (or
// null) for the zero time.
type wireTime struct{ time.Time }

func (t *wireTime) UnmarshalJSON(data []byte) error {
	if s := string(data); s == "null" || s == `""` {
		t.Time = time.Time{}
		return nil
	}
	return t.Time.UnmarshalJSON(data)
}

// UnmarshalJSON decodes any event type.
func (e *Event) UnmarshalJSON(data []byte) error {
	var w wire
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	*e = Event{
		EventID: w.EventID, Type: w.Type, Kind: w.Kind, Host: w.Host, Source: w.Source,
		WindowStart: w.WindowStart.Time, WindowEnd: w.WindowEnd.Time, SrcIP: w.SrcIP, Overflow: w.Overflow, Features: w.Features,
		Cluster: w.Cluster, Distance: w.Distance, Threshold: w.Threshold, Score: w.Score,
		Anomalous: w.Anomalous, Model: w.Model, Reason: w.Reason, Domain: w.Domain, Category: w.Category,
		Uncategorized: w.Uncategorized, New: w.New, IsIP: w.IsIP, Hits: w.Hits, Bytes: w.Bytes,
		Clients: w.Clients, Users: w.Users, ClientIPs: w.ClientIPs, Hosts: w.Hosts, Enrichment: w.Enrichment, Level: w.Level,
		Message: w.Message, Detail: w.Detail, FirstSeen: w.FirstSeen.Time,
	}
	if w.Severity != nil {
		e.HasSeverity, e.Severity = true, *w.Severity
	}
	for _, x := range w.Explain {
		e.Explain = append(e.Explain, Explanation{Feature: x.Feature, Value: x.Value, Z: x.Z, Contribution: x.Contribution})
	}
	return nil
}

// Map returns the event as the record map the Fluentd forward protocol
// carries: the same keys and values as the JSON encoding, with numbers as
// int64 where JSON writes them without a fraction and float64 otherwise,
// objects as map[string]any, arrays as []any and null as nil. Times are
// RFC 3339 strings, as in JSON. It builds the map directly: a JSON round
// trip costs five times as much.
func (e *Event) Map() (map[string]any, error) {
	var m map[string]any
	switch e.Type {
	case TypeIPScore:
		m = e.commonMap(15)
		m["src_ip"] = e.SrcIP
		if e.Overflow {
			m["overflow"] = true
		}
		m["features"] = e.Features.anyMap()
		m["cluster"] = int64(e.Cluster)
		m["distance"] = numberValue(e.Distance)
		m["threshold"] = numberValue(e.Threshold)
		m["score"] = numberValue(e.Score)
		m["anomalous"] = e.Anomalous
		m["model"] = e.Model
		if e.HasSeverity {
			m["severity"] = numberValue(e.Severity)
		}
		if e.Reason != "" {
			m["reason"] = e.Reason
		}
		if len(e.Explain) > 0 {
			l := make([]any, len(e.Explain))
			for i, x := range e.Explain {
				l[i] = map[string]any{"feature": x.Feature, "value": numberValue(x.Value), "z": numberValue(x.Z),
					"contribution": numberValue(x.Contribution)}
			}
			m["explain"] = l
		}
	case TypeDomain:
		m = e.commonMap(18)
		m["domain"] = e.Domain
		if e.Category != nil {
			m["category"] = *e.Category
		} else {
			m["category"] = nil
		}
		m["uncategorized"] = e.Uncategorized
		m["first_seen"] = formatTime(e.FirstSeen)
		m["new"] = e.New
		m["is_ip"] = e.IsIP
		m["hits"] = e.Hits
		m["bytes"] = e.Bytes
		m["clients"] = e.Clients
		m["client_ips"] = anyList(e.ClientIPs)
		m["users"] = anyList(e.Users)
		m["hosts"] = anyList(e.Hosts)
		if len(e.Features) > 0 {
			m["features"] = e.Features.anyMap()
		}
		if e.Enrichment != nil {
			v, err := jsonValue(e.Enrichment)
			if err != nil {
				return nil, fmt.Errorf("event %s: enrichment: %w", e.EventID, err)
			}
			m["enrichment"] = v
		}
	case TypeAgent:
		m = e.commonMap(10)
		m["level"] = e.Level
		m["message"] = e.Message
		if len(e.Detail) > 0 {
			d := make(map[string]any, len(e.Detail))
			for k, v := range e.Detail {
				d[k] = v
			}
			m["detail"] = d
		}
	default:
		return nil, fmt.Errorf("event %s: unknown type %q", e.EventID, e.Type)
	}
	return m, nil
}

func (e *Event) commonMap(size int) map[string]any {
	m := make(map[string]any, size)
	m["event_id"] = e.EventID
	m["type"] = e.Type
	m["kind"] = e.Kind
	m["host"] = e.Host
	m["source"] = e.Source
	m["window_start"] = formatTime(e.WindowStart)
	m["window_end"] = formatTime(e.WindowEnd)
	return m
}

func (f Features) anyMap() map[string]any {
	m := make(map[string]any, len(f))
	for _, x := range f {
		m[x.Name] = numberValue(x.Value)
	}
	return m
}

// numberValue is v as appendNumber writes it: nil for NaN and Inf, int64
// when written without a fraction, float64 otherwise.
func numberValue(v float64) any {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return int64(v)
	}
	return v
}

// jsonValue is v through a JSON round trip, numbers as in Map.
func jsonValue(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return nil, err
	}
	return toNative(out), nil
}

// toNative replaces the json.Numbers in a decoded JSON value by int64 or
// float64.
func toNative(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return i
		}
		f, _ := strconv.ParseFloat(string(x), 64) // valid JSON: only range errors, which give ±Inf
		return f
	case map[string]any:
		for k, y := range x {
			x[k] = toNative(y)
		}
	case []any:
		for i, y := range x {
			x[i] = toNative(y)
		}
	}
	return v
}

// anyList is l as the []any a record map holds.
func anyList(l []string) []any {
	out := make([]any, len(l))
	for i, u := range l {
		out[i] = u
	}
	return out
}
