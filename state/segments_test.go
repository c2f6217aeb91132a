package state_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/socx/sharkfin/state"
	"github.com/socx/sharkfin/state/statetest"
)

// Events encoded straight into segments read back like events handed as
// bytes: same order, numbering and totals, through segment and chunk
// boundaries, events of 2 MiB and more (whose length needs a fourth varint
// byte), reuse after Reset, partial deletes and events appended after them
// in the same commit.
func TestSegments_RoundTrip(t *testing.T) {
	s := statetest.New(t)
	rng := rand.New(rand.NewPCG(1, 2))
	var want [][]byte
	var wantBytes int64
	seg := &state.Segments{}
	event := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('a' + rng.IntN(26))
		}
		return b
	}
	sizes := [][]int{
		{1, 2, 3},
		make([]int, 1500), // several segments of 512 events
		{300 << 10, 10, 700 << 10, 5},
		{state.MaxSegmentEvent, 1, 1 << 20, 128, 127, 16383, 16384}, // lengths around varint byte counts
	}
	for i := range sizes[1] {
		sizes[1][i] = 1 + rng.IntN(900)
	}
	for round, ns := range sizes {
		c := &state.Commit{Segments: seg}
		for _, n := range ns {
			ev := event(n)
			want = append(want, ev)
			wantBytes += int64(n)
			if err := seg.Append(func(b []byte) ([]byte, error) { return append(b, ev...), nil }); err != nil {
				t.Fatal(err)
			}
		}
		tail := event(40) // plain events come after the segments
		c.Events = [][]byte{tail}
		want = append(want, tail)
		wantBytes += int64(len(tail))
		last, err := s.Apply(c)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if last != uint64(len(want)) {
			t.Fatalf("round %d: last sequence %d, want %d", round, last, len(want))
		}
		seg.Reset()
	}
	var got [][]byte
	if err := s.OutboxRead(0, 0, func(seq uint64, d []byte) error {
		if seq != uint64(len(got)+1) {
			return fmt.Errorf("event %d numbered %d", len(got)+1, seq)
		}
		got = append(got, bytes.Clone(d))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("read %d events, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("event %d: %d bytes %.20q, want %d bytes %.20q", i+1, len(got[i]), got[i], len(want[i]), want[i])
		}
	}
	count, size, err := s.OutboxStats()
	if err != nil || count != len(want) || size != wantBytes {
		t.Fatalf("OutboxStats = %d, %d, %v; want %d, %d", count, size, err, len(want), wantBytes)
	}
	// Delete through the middle of a built segment (the rest stays), then
	// through the end of one, then everything: the totals follow exactly,
	// whether a segment's size is read from its framing or its events.
	for _, cut := range []uint64{700, 3 + 1024, uint64(len(want) - 3), uint64(len(want))} {
		if _, err := s.OutboxDelete(cut); err != nil {
			t.Fatal(err)
		}
		var left int64
		for _, ev := range want[cut:] {
			left += int64(len(ev))
		}
		count, size, err := s.OutboxStats()
		if err != nil || count != len(want)-int(cut) || size != left {
			t.Fatalf("after deleting through %d: OutboxStats = %d, %d, %v; want %d, %d", cut, count, size, err, len(want)-int(cut), left)
		}
		if cut == uint64(len(want)) {
			break
		}
		seqs, data := readOutbox(t, s, 0, 2)
		if len(seqs) == 0 || seqs[0] != cut+1 || data[0] != string(want[cut]) {
			t.Fatalf("after deleting through %d the outbox starts at %v", cut, seqs)
		}
	}
	// An event past the limit is refused, and the segment goes on.
	big := seg.Append(func(b []byte) ([]byte, error) { return append(b, make([]byte, state.MaxSegmentEvent+1)...), nil })
	small := seg.Append(func(b []byte) ([]byte, error) { return append(b, "ok"...), nil })
	if big == nil || small != nil || seg.Len() != 1 {
		t.Fatalf("Append of %d bytes = %v, then %v; Len %d", state.MaxSegmentEvent+1, big, small, seg.Len())
	}
}

// A failed or empty encoding adds nothing; the events around it are kept.
func TestSegments_BadEvent(t *testing.T) {
	s := statetest.New(t)
	seg := &state.Segments{}
	add := func(ev string, err error) error {
		return seg.Append(func(b []byte) ([]byte, error) {
			if err != nil {
				return append(b, "partial"...), err
			}
			return append(b, ev...), nil
		})
	}
	boom := errors.New("boom")
	if err := add("one", nil); err != nil {
		t.Fatal(err)
	}
	if err := add("", boom); !errors.Is(err, boom) {
		t.Fatalf("failed encoding = %v", err)
	}
	if err := add("", nil); err == nil {
		t.Fatal("empty event accepted")
	}
	if err := add("two", nil); err != nil {
		t.Fatal(err)
	}
	if seg.Len() != 2 {
		t.Fatalf("Len = %d, want 2", seg.Len())
	}
	if _, err := s.Apply(&state.Commit{Segments: seg}); err != nil {
		t.Fatal(err)
	}
	_, data := readOutbox(t, s, 0, 0)
	if fmt.Sprint(data) != "[one two]" {
		t.Fatalf("outbox = %q", data)
	}
}

// A commit's DeleteThrough removes the delivered prefix in the same
// transaction as what it adds, and reports how many events it removed.
func TestApply_DeleteThrough(t *testing.T) {
	s := statetest.New(t)
	appendEvents(t, s, "a", "b", "c", "d")
	c := &state.Commit{Events: [][]byte{[]byte("e")}, DeleteThrough: 3}
	last, err := s.Apply(c)
	if err != nil {
		t.Fatal(err)
	}
	if last != 5 || c.Deleted != 3 {
		t.Fatalf("Apply = last %d, deleted %d; want 5 and 3", last, c.Deleted)
	}
	seqs, data := readOutbox(t, s, 0, 0)
	if fmt.Sprint(seqs, data) != "[4 5] [d e]" {
		t.Fatalf("outbox after the commit = %v %q", seqs, data)
	}
	if n, size, err := s.OutboxStats(); err != nil || n != 2 || size != 2 {
		t.Fatalf("OutboxStats = %d, %d, %v; want 2 events, 2 bytes", n, size, err)
	}
	// A failed commit deletes nothing either.
	bad := &state.Commit{Events: [][]byte{nil}, DeleteThrough: 5}
	if _, err := s.Apply(bad); err == nil || bad.Deleted != 0 {
		t.Fatalf("commit with an empty event = %v, deleted %d; want an error and 0", err, bad.Deleted)
	}
	if seqs, _ := readOutbox(t, s, 0, 0); fmt.Sprint(seqs) != "[4 5]" {
		t.Fatalf("a failed commit changed the outbox: %v", seqs)
	}
}
