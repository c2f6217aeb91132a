package state_test

import (
	"bytes"
	"maps"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/socx/sharkfin/state"
	"github.com/socx/sharkfin/state/statetest"
)

// snapshot is everything a store holds that a Commit can change.
type snapshot struct {
	Checkpoints []state.Checkpoint
	Windows     map[string][]byte
	Outbox      map[uint64]string
	Count       int
	Bytes       int64
	History     map[string]state.History
}

func takeSnapshot(t *testing.T, s *state.Store) snapshot {
	t.Helper()
	var sn snapshot
	var err error
	if sn.Checkpoints, _, err = s.Checkpoints(); err != nil {
		t.Fatal(err)
	}
	if sn.Windows, err = s.Windows(); err != nil {
		t.Fatal(err)
	}
	sn.Outbox = map[uint64]string{}
	if err := s.OutboxRead(0, 0, func(seq uint64, data []byte) error {
		sn.Outbox[seq] = string(data)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if sn.Count, sn.Bytes, err = s.OutboxStats(); err != nil {
		t.Fatal(err)
	}
	sn.History = map[string]state.History{}
	for _, kind := range []string{state.KindIP, state.KindDomain} {
		top, err := s.Top(kind, 0, state.ByHits)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range top {
			sn.History[kind+"/"+h.Key] = h
		}
	}
	return sn
}

func TestApply_RoundTrip(t *testing.T) {
	s := statetest.New(t)
	cp := state.Checkpoint{
		Path: "/var/log/squid/access.log", Dev: 2049, Ino: 1 << 40, Fingerprint: 0xdeadbeefcafef00d,
		FingerprintLen: 1024, Offset: 1<<40 + 7, Input: "proxy", Updated: time.Unix(1_700_000_000, 123_456_789).UTC(),
	}
	c := &state.Commit{
		Checkpoints: []state.Checkpoint{cp, {Path: "/new", Dev: 1, Ino: 1, Input: "web"}},
		Windows:     map[string][]byte{"web/1700000000": []byte("acc1"), "proxy/1700000060": bytes.Repeat([]byte{0}, 5000)},
		Events:      [][]byte{[]byte(`{"a":1}`), []byte(`{"b":2}`)},
		History: []state.HistoryUpdate{
			{Kind: state.KindIP, Key: "192.0.2.1", WindowStart: time.Unix(1_700_000_000, 0), Hits: 3, Bytes: 300},
			{Kind: state.KindDomain, Key: "example.org", WindowStart: time.Unix(1_700_000_000, 0), Hits: 1, Bytes: 10, Anomalous: true},
		},
	}
	last, err := s.Apply(c)
	if err != nil {
		t.Fatal(err)
	}
	if last != 2 {
		t.Errorf("last seq = %d, want 2", last)
	}
	s.Reopen()

	sn := takeSnapshot(t, s.Store)
	if want := []state.Checkpoint{c.Checkpoints[1], cp}; !reflect.DeepEqual(sn.Checkpoints, want) {
		t.Errorf("checkpoints\n got %+v\nwant %+v", sn.Checkpoints, want)
	}
	if !maps.EqualFunc(sn.Windows, c.Windows, bytes.Equal) {
		t.Errorf("windows differ: %d keys", len(sn.Windows))
	}
	if want := map[uint64]string{1: `{"a":1}`, 2: `{"b":2}`}; !reflect.DeepEqual(sn.Outbox, want) || sn.Count != 2 || sn.Bytes != 14 {
		t.Errorf("outbox %v (%d events, %d bytes)", sn.Outbox, sn.Count, sn.Bytes)
	}
	start := time.Unix(1_700_000_000, 0).UTC()
	wantHist := map[string]state.History{
		"ip/192.0.2.1": {Key: "192.0.2.1", FirstSeen: start, LastSeen: start, Hits: 3, Bytes: 300, Windows: 1,
			Recent: []state.WindowCount{{Start: start, Hits: 3, Bytes: 300}}},
		"domain/example.org": {Key: "example.org", FirstSeen: start, LastSeen: start, Hits: 1, Bytes: 10, Windows: 1, Anomalies: 1,
			Recent: []state.WindowCount{{Start: start, Hits: 1, Bytes: 10, Anomalous: true}}},
	}
	if !reflect.DeepEqual(sn.History, wantHist) {
		t.Errorf("history\n got %+v\nwant %+v", sn.History, wantHist)
	}

	// A second commit: move a checkpoint, drop the other, delete a window.
	cp.Offset += 100
	if _, err := s.Apply(&state.Commit{
		Checkpoints:     []state.Checkpoint{cp},
		DropCheckpoints: []state.Checkpoint{{Dev: 1, Ino: 1, Input: "web"}},
		Windows:         map[string][]byte{"web/1700000000": nil},
	}); err != nil {
		t.Fatal(err)
	}
	sn = takeSnapshot(t, s.Store)
	if len(sn.Checkpoints) != 1 || sn.Checkpoints[0] != cp {
		t.Errorf("checkpoints after the update: %+v", sn.Checkpoints)
	}
	if _, ok := sn.Windows["web/1700000000"]; ok || len(sn.Windows) != 1 {
		t.Errorf("windows after delete: %d keys", len(sn.Windows))
	}
}

func TestApply_NilAndEmpty(t *testing.T) {
	s := statetest.New(t)
	for _, c := range []*state.Commit{nil, {}} {
		if last, err := s.Apply(c); err != nil || last != 0 {
			t.Errorf("Apply(%v) = %d, %v", c, last, err)
		}
	}
}

// TestApply_Atomic fails one part of a commit and checks that no other
// part of it was stored, sequence numbers included.
func TestApply_Atomic(t *testing.T) {
	tests := []struct {
		name  string
		spoil func(c *state.Commit)
	}{
		{"unknown history kind", func(c *state.Commit) { c.History[len(c.History)-1].Kind = "mac" }},
		{"empty history key", func(c *state.Commit) { c.History[0].Key = "" }},
		{"negative hits", func(c *state.Commit) { c.History[3].Hits = -1 }},
		{"empty event", func(c *state.Commit) { c.Events[len(c.Events)-1] = nil }},
		{"empty window key", func(c *state.Commit) { c.Windows[""] = []byte("x") }},
		{"window key too large for bbolt", func(c *state.Commit) { c.Windows[strings.Repeat("k", 40000)] = []byte("x") }},
		{"negative offset", func(c *state.Commit) { c.Checkpoints[0].Offset = -1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := statetest.New(t)
			last, err := s.Apply(commitLines(0, 30))
			if err != nil {
				t.Fatal(err)
			}
			before := takeSnapshot(t, s.Store)

			bad := commitLines(30, 60)
			tt.spoil(bad)
			if _, err := s.Apply(bad); err == nil {
				t.Fatal("Apply of a spoiled commit succeeded")
			}
			if after := takeSnapshot(t, s.Store); !reflect.DeepEqual(before, after) {
				t.Errorf("a failed Apply changed the store:\nbefore %+v\nafter  %+v", before, after)
			}

			good := commitLines(30, 60)
			got, err := s.Apply(good)
			if err != nil {
				t.Fatal(err)
			}
			if want := last + uint64(len(good.Events)); got != want {
				t.Errorf("after a failed Apply the next events end at %d, want %d", got, want)
			}
			verifyWorkload(t, s.Store)
		})
	}
}
