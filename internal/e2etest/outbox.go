package e2etest

import (
	"slices"
	"testing"
	"time"

	"github.com/socx/sharkfin/event"
	"github.com/socx/sharkfin/state"
)

// Planted describes the outbox PlantUndecodable writes.
type Planted struct {
	Host, Source, Model string
	Start               time.Time // the window start of its ip_score events
	// Deliverable are the src_ip of its deliverable ip_score events, in
	// outbox order; two more records between them cannot be decoded.
	Deliverable []string
	Bytes       float64 // the bytes feature of every event
	Score       float64
}

// PlantUndecodable writes, to the state file at path (created if need be),
// an outbox of the records given in before (JSON events), then packed
// ip_score events of host "old-host": 192.0.2.1; one whose context is not
// in the file; one cut short; 192.0.2.3. It is what a damaged or foreign
// outbox holds: the sender must skip the two and deliver the rest.
func PlantUndecodable(t testing.TB, path string, before ...[]byte) Planted {
	t.Helper()
	p := Planted{Host: "old-host", Source: "web", Model: "web@old", Start: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC),
		Deliverable: []string{"192.0.2.1", "192.0.2.3"}, Bytes: 3456, Score: 0.25}
	ctx := event.Context{Kind: "web", Host: p.Host, Source: p.Source, Model: p.Model, Names: []string{"hits", "bytes"}}
	ctxEnc, err := ctx.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	ctxID := event.ContextID(ctxEnc)
	pack := func(ip string, ctx uint64) []byte {
		pk := event.Packed{Context: ctx, Start: p.Start.UnixNano(), End: p.Start.Add(time.Minute).UnixNano(), Key: ip,
			Values: []float64{12, p.Bytes}, Cluster: 1, Distance: 0.5, Threshold: 2, Score: p.Score}
		b, err := pk.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	s, err := state.Open(state.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	events := slices.Concat(before, [][]byte{
		pack("192.0.2.1", ctxID),
		pack("192.0.2.2", ctxID+1), // no such context
		{event.PackedTag, 0xff},    // cut short
		pack("192.0.2.3", ctxID),
	})
	if _, err := s.Apply(&state.Commit{Events: events, Contexts: map[uint64][]byte{ctxID: ctxEnc}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}
