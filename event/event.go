// Package event defines the events sharkfin emits (see docs: the event
// schema in CONTRACT.md). Both the detectors that produce events and the
// outputs that ship them import this package; it imports nothing of ours.
package event

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// Event types.
const (
	TypeIPScore = "ip_score"
	TypeDomain  = "domain"
	TypeAgent   = "agent"
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
	SrcIP     string
	Features  Features
	Cluster   int
	Distance  float64
	Threshold float64
	Score     float64
	Anomalous bool
	Model     string

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
	Enrichment    *Enrichment

	// agent
	Message string
	Level   string
	Detail  map[string]string
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
	h := sha256.New()
	var ts [8]byte
	u := uint64(windowStart.UnixNano())
	for i := range ts {
		ts[i] = byte(u >> (56 - 8*i))
	}
	for _, s := range []string{host, source, typ, key} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	h.Write(ts[:])
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])[:16])
}
