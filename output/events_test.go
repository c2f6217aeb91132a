package output

import (
	"fmt"
	"math"
	"time"

	"github.com/socx/sharkfin/event"
)

var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// sampleEvents returns events of every type with the awkward values: nested
// features, integral and fractional floats, huge numbers, nil and set
// pointers, empty and unicode strings, sub-second window ends.
func sampleEvents() []*event.Event {
	cat := "news/media"
	start := epoch
	end := start.Add(time.Minute + 123456789*time.Nanosecond)
	return []*event.Event{
		{
			EventID: event.ID("node1", "web", event.TypeIPScore, "192.0.2.7", start), Type: event.TypeIPScore,
			Kind: "web", Host: "node1", Source: "web", WindowStart: start, WindowEnd: end,
			SrcIP: "192.0.2.7",
			Features: event.Features{
				{Name: "hits", Value: 120}, {Name: "hits_2xx", Value: 100}, {Name: "hits_non2xx", Value: 20},
				{Name: "ratio", Value: 0.1666666666666667}, {Name: "bytes", Value: 3e15}, {Name: "neg", Value: -2.5},
			},
			Cluster: 3, Distance: 2, Threshold: 1.75, Score: 1.1428571428571428, Anomalous: true, Model: "web@7",
		},
		{
			EventID: event.ID("node1", "web", event.TypeIPScore, "2001:db8::1", start), Type: event.TypeIPScore,
			Kind: "web", Host: "node1", Source: "web", WindowStart: start, WindowEnd: start.Add(time.Minute),
			SrcIP: "2001:db8::1", Features: event.Features{{Name: "hits", Value: 0}},
			Cluster: 0, Distance: 1e-9, Threshold: 1e300, Score: 0, Model: "web@7",
		},
		{
			EventID: event.ID("node1", "proxy", event.TypeDomain, "exämple.org", start), Type: event.TypeDomain,
			Kind: "proxy", Host: "node1", Source: "squid", WindowStart: start, WindowEnd: end,
			Domain: "exämple.org", Category: &cat, FirstSeen: start.Add(-36 * time.Hour), New: false,
			Hits: math.MaxInt64, Bytes: 1 << 40, Clients: 2, Users: []string{"alice", "", "bob \"b\""},
			Enrichment: &event.Enrichment{TLSNames: []string{"exämple.org", "*.exämple.org"},
				Whois: &event.Whois{Org: "Example", Country: "DE", Created: "2001-02-03", Server: "whois.example"}},
		},
		{
			EventID: event.ID("node1", "proxy", event.TypeDomain, "198.51.100.1", start), Type: event.TypeDomain,
			Kind: "proxy", Host: "node1", Source: "squid", WindowStart: start, WindowEnd: end,
			Domain: "198.51.100.1", Uncategorized: true, FirstSeen: start, New: true, IsIP: true, Hits: 1,
		},
		{
			EventID: event.ID("node1", "agent", event.TypeAgent, "model", start), Type: event.TypeAgent,
			Kind: "web", Host: "node1", Source: "agent", WindowStart: start, WindowEnd: end,
			Level: "warn", Message: "model rejected: bad signature", Detail: map[string]string{"model": "/etc/m.json", "why": ""},
		},
	}
}

// seqEvent returns the i-th event of a long sequence over keys keys: event
// i is window i/keys of key i%keys, so each key's windows come in order. One
// key in five is a proxy domain, the rest web addresses.
func seqEvent(i, keys int) *event.Event {
	k, w := i%keys, i/keys
	start := epoch.Add(time.Duration(w) * time.Minute)
	e := &event.Event{Host: "node1", WindowStart: start, WindowEnd: start.Add(time.Minute)}
	if k%5 == 0 {
		e.Type, e.Kind, e.Source = event.TypeDomain, "proxy", "squid"
		e.Domain = fmt.Sprintf("d%d.example", k)
		e.Hits, e.Bytes, e.Clients, e.Users = int64(w), int64(i), 1, []string{"u"}
		e.EventID = event.ID(e.Host, e.Source, e.Type, e.Domain, start)
		return e
	}
	e.Type, e.Kind, e.Source = event.TypeIPScore, "web", "web"
	e.SrcIP = fmt.Sprintf("10.%d.%d.%d", k>>16&255, k>>8&255, k&255)
	e.Features = event.Features{{Name: "hits", Value: float64(w)}, {Name: "hits_2xx", Value: float64(w)}, {Name: "hits_non2xx", Value: 0}}
	e.Distance, e.Threshold, e.Score, e.Model = 0.5, 2.25, 0.2222222222222222, "web@1"
	e.EventID = event.ID(e.Host, e.Source, e.Type, e.SrcIP, start)
	return e
}
