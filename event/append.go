package event

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"
)

// AppendJSON appends the JSON encoding of e (as MarshalJSON writes it) to b.
// ip_score events, one per key and window, are encoded by hand: they are
// the bulk of the output and encoding/json's reflection dominated the
// profile of `sharkfin score`. Other types go through MarshalJSON.
func (e *Event) AppendJSON(b []byte) ([]byte, error) {
	if e.Type == TypeDomain {
		return e.appendDomain(b)
	}
	if e.Type != TypeIPScore {
		j, err := e.MarshalJSON()
		if err != nil {
			return b, err
		}
		return append(b, j...), nil
	}
	b = e.appendHead(b)
	b = append(b, `,"src_ip":`...)
	b = appendString(b, e.SrcIP)
	if e.Overflow {
		b = append(b, `,"overflow":true`...)
	}
	b = appendFeatures(b, e.Features)
	b = appendScoring(b, e.Cluster, e.Distance, e.Threshold, e.Score, e.Anomalous)
	b = append(b, `,"model":`...)
	b = appendString(b, e.Model)
	b = appendVerdict(b, e.HasSeverity, e.Severity, e.Reason, len(e.Explain), func(i int) (string, float64, float64, float64) {
		x := &e.Explain[i]
		return x.Feature, x.Value, x.Z, x.Contribution
	})
	return append(b, '}'), nil
}

// appendVerdict appends an anomalous ip_score's severity (when has),
// reason (when not empty) and explanation (n entries, from at), each after
// a comma.
func appendVerdict(b []byte, has bool, severity float64, reason string, n int, at func(int) (string, float64, float64, float64)) []byte {
	if has {
		b = append(b, `,"severity":`...)
		b = appendNumber(b, severity)
	}
	if reason != "" {
		b = append(b, `,"reason":`...)
		b = appendString(b, reason)
	}
	if n == 0 {
		return b
	}
	b = append(b, `,"explain":[`...)
	for i := range n {
		f, v, z, c := at(i)
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"feature":`...)
		b = appendString(b, f)
		b = append(b, `,"value":`...)
		b = appendNumber(b, v)
		b = append(b, `,"z":`...)
		b = appendNumber(b, z)
		b = append(b, `,"contribution":`...)
		b = appendNumber(b, c)
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendDomain appends a domain event as MarshalJSON writes it: by hand,
// as a proxy's catch-up makes about one per destination and window, and
// encoding/json's reflection cost the committer more than the rest of its
// work. The enrichment, on few events, goes through encoding/json.
func (e *Event) appendDomain(b []byte) ([]byte, error) {
	b = e.appendHead(b)
	b = append(b, `,"domain":`...)
	b = appendString(b, e.Domain)
	b = append(b, `,"category":`...)
	if e.Category != nil {
		b = appendString(b, *e.Category)
	} else {
		b = append(b, "null"...)
	}
	b = appendBool(append(b, `,"uncategorized":`...), e.Uncategorized)
	b = append(b, `,"first_seen":`...)
	b = appendTime(b, e.FirstSeen)
	b = appendBool(append(b, `,"new":`...), e.New)
	b = appendBool(append(b, `,"is_ip":`...), e.IsIP)
	b = strconv.AppendInt(append(b, `,"hits":`...), e.Hits, 10)
	b = strconv.AppendInt(append(b, `,"bytes":`...), e.Bytes, 10)
	b = strconv.AppendInt(append(b, `,"clients":`...), e.Clients, 10)
	b = appendStrings(append(b, `,"client_ips":`...), e.ClientIPs)
	b = appendStrings(append(b, `,"users":`...), e.Users)
	b = appendStrings(append(b, `,"hosts":`...), e.Hosts)
	if len(e.Features) > 0 {
		b = appendFeatures(b, e.Features)
	}
	if e.Enrichment != nil {
		j, err := json.Marshal(e.Enrichment)
		if err != nil {
			return b, err
		}
		b = append(append(b, `,"enrichment":`...), j...)
	}
	return append(b, '}'), nil
}

// appendHead opens an event: its event_id, origin and window members.
func (e *Event) appendHead(b []byte) []byte {
	b = append(b, `{"event_id":`...)
	b = appendString(b, e.EventID)
	b = appendOrigin(b, e.Type, e.Kind, e.Host, e.Source)
	b = append(b, `,"window_start":`...)
	b = appendTime(b, e.WindowStart)
	b = append(b, `,"window_end":`...)
	return appendTime(b, e.WindowEnd)
}

// appendFeatures appends the features member, after a comma.
func appendFeatures(b []byte, fs Features) []byte {
	b = append(b, `,"features":{`...)
	for i, f := range fs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, f.Name)
		b = append(b, ':')
		b = appendNumber(b, f.Value)
	}
	return append(b, '}')
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, "true"...)
	}
	return append(b, "false"...)
}

// appendStrings appends a JSON list of strings ([] for none).
func appendStrings(b []byte, l []string) []byte {
	b = append(b, '[')
	for i, s := range l {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// appendOrigin appends an event's type, kind, host and source members,
// each after a comma.
func appendOrigin(b []byte, typ, kind, host, source string) []byte {
	b = append(b, `,"type":`...)
	b = appendString(b, typ)
	b = append(b, `,"kind":`...)
	b = appendString(b, kind)
	b = append(b, `,"host":`...)
	b = appendString(b, host)
	b = append(b, `,"source":`...)
	return appendString(b, source)
}

// appendScoring appends an ip_score's cluster, distance, threshold,
// score and anomalous members, each after a comma.
func appendScoring(b []byte, cluster int, distance, threshold, score float64, anomalous bool) []byte {
	b = append(b, `,"cluster":`...)
	b = strconv.AppendInt(b, int64(cluster), 10)
	b = append(b, `,"distance":`...)
	b = appendNumber(b, distance)
	b = append(b, `,"threshold":`...)
	b = appendNumber(b, threshold)
	b = append(b, `,"score":`...)
	b = appendNumber(b, score)
	if anomalous {
		return append(b, `,"anomalous":true`...)
	}
	return append(b, `,"anomalous":false`...)
}

func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, `""`...)
	}
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, TimeFormat)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// jsonSafe tells the ASCII bytes a JSON string carries as they are (one
// table lookup per byte instead of six comparisons). Read-only.
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for c := byte(0x20); c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendString appends s as a JSON string, escaping exactly as
// encoding/json.Marshal does (including <, > and &, and \b and \f as Go 1.22+
// write them) so that AppendJSON and MarshalJSON agree byte for byte, and
// replacing invalid UTF-8 with U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
