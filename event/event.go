// Package event defines the events sharkfin emits (see docs: the event
// schema in CONTRACT.md). Both the detectors that produce events and the
// outputs that ship them import this package; it imports nothing of ours.
package event

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"maps"
	"slices"
	"time"
)

// Event types.
const (
	TypeIPScore = "ip_score"
	TypeDomain  = "domain"
	TypeAgent   = "agent"
)

// The reason of an anomalous ip_score event (Event.Reason): what made it
// anomalous.
const (
	// ReasonDistance: the window is out of its cluster, its distance past
	// the cluster's threshold.
	ReasonDistance = "distance"
	// ReasonProbe: the probe rule (a web model's training.probe_rare_errors,
	// 3 by default): the window failed that many requests for paths the
	// model's vocabulary does not know, and that set its score above what
	// its distance gives.
	ReasonProbe = "probe"
	// ReasonFlood: the flood rule (a web model's
	// training.flood_requests, 20 by default): the window made that many
	// POSTs, and that many requests that did not fail, all to one path
	// the model's vocabulary does not know, which set its score above
	// what its distance gives.
	ReasonFlood = "flood"
)

// The overflow row: the lines of the sources past a window's key cap
// (detect.max_keys), counted as one. Its window key starts with a space,
// which no parser gives a client (client fields are delimited by spaces),
// so no log line can forge it; its event shows src_ip "overflow" and
// "overflow": true, and its event_id is computed over OverflowKey, so a
// client that calls itself "overflow" gets events and ids of its own.
const (
	OverflowKey   = " overflow"
	OverflowSrcIP = "overflow"
)

// Feature is one named feature value. Features keep the model's order.
type Feature struct {
	Name  string
	Value float64
}

// Features is an ordered set of named features. It encodes as a JSON object
// in its own order.
type Features []Feature

// Get returns the value of the named feature and whether it is present.
func (f Features) Get(name string) (float64, bool) {
	for _, x := range f {
		if x.Name == name {
			return x.Value, true
		}
	}
	return 0, false
}

// Event is one emitted record. Fields that do not belong to a type are left
// zero and omitted from the encoding.
type Event struct {
	EventID     string
	Type        string
	Kind        string
	Host        string
	Source      string
	WindowStart time.Time
	WindowEnd   time.Time

	// ip_score
	SrcIP string
	// Overflow marks the overflow row (see OverflowKey): SrcIP is then
	// OverflowSrcIP.
	Overflow  bool
	Features  Features
	Cluster   int
	Distance  float64
	Threshold float64
	Score     float64
	Anomalous bool
	Model     string
	// Severity (0-100, set when HasSeverity: the model is calibrated),
	// Reason (ReasonDistance, ReasonProbe or ReasonFlood; empty in events
	// of earlier agents) and Explain (the features that put the window
	// out of its cluster, largest part first) are set on anomalous windows
	// only.
	HasSeverity bool
	Severity    float64
	Reason      string
	Explain     []Explanation

	// domain
	Domain        string
	Category      *string
	Uncategorized bool
	FirstSeen     time.Time
	New           bool
	IsIP          bool
	Hits          int64
	Bytes         int64
	Clients       int64
	Users         []string
	// ClientIPs and Hosts are the first few client addresses and full
	// host names seen for the domain in the window (Clients counts them
	// all; Features has the count of hosts and the kind's counters).
	ClientIPs  []string
	Hosts      []string
	Enrichment *Enrichment

	// agent
	Message string
	Level   string
	Detail  map[string]string
}

// Explanation is one feature's part in an anomalous window's distance to
// its cluster: the feature's value, Z its signed distance from the
// cluster's centre along it (in the model's space: log1p, standard
// deviations), and Contribution its share (0-1) of the squared distance.
type Explanation struct {
	Feature                string
	Value, Z, Contribution float64
}

// Enrichment is what is known of a destination from TLS and WHOIS.
type Enrichment struct {
	TLSNames []string `json:"tls_names,omitempty"`
	Whois    *Whois   `json:"whois,omitempty"`
}

// Whois is the registration summary of a domain or address.
type Whois struct {
	Org     string `json:"org"`
	Country string `json:"country"`
	Created string `json:"created"`
	Server  string `json:"server"`
}

// ID returns the stable event id for a (host, source, type, key, window)
// tuple: the same window of the same key from the same host always gets the
// same id, so downstream can de-duplicate re-sent events.
func ID(host, source, typ, key string, windowStart time.Time) string {
	var out [32]byte
	return string(appendID(out[:0], host, source, typ, key, windowStart.UnixNano()))
}

// appendID appends the ID (as ID returns it) of a window starting at
// start Unix nanoseconds.
func appendID[K string | []byte](dst []byte, host, source, typ string, key K, start int64) []byte {
	// One hash of host NUL source NUL type NUL key NUL then the window
	// start in big-endian nanoseconds, built on the stack when it fits:
	// an id is computed for every key of every window.
	var stack [256]byte
	b := stack[:0]
	for _, s := range [...]string{host, source, typ} {
		b = append(b, s...)
		b = append(b, 0)
	}
	b = append(b, key...)
	b = append(b, 0)
	b = binary.BigEndian.AppendUint64(b, uint64(start))
	sum := sha256.Sum256(b)
	return hex.AppendEncode(dst, sum[:16])
}

// Clone returns a deep copy of e (Features, Users, Detail and Enrichment
// are copied too).
func (e *Event) Clone() *Event {
	c := *e
	c.Features = slices.Clone(e.Features)
	c.Explain = slices.Clone(e.Explain)
	c.Users = slices.Clone(e.Users)
	c.ClientIPs = slices.Clone(e.ClientIPs)
	c.Hosts = slices.Clone(e.Hosts)
	c.Detail = maps.Clone(e.Detail)
	if e.Category != nil {
		cat := *e.Category
		c.Category = &cat
	}
	if e.Enrichment != nil {
		en := *e.Enrichment
		en.TLSNames = slices.Clone(en.TLSNames)
		if en.Whois != nil {
			w := *en.Whois
			en.Whois = &w
		}
		c.Enrichment = &en
	}
	return &c
}
