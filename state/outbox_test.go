package state_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/socx/sharkfin/state"
	"github.com/socx/sharkfin/state/statetest"
)

func appendEvents(t *testing.T, s *statetest.Store, events ...string) uint64 {
	t.Helper()
	c := &state.Commit{}
	for _, e := range events {
		c.Events = append(c.Events, []byte(e))
	}
	last, err := s.Apply(c)
	if err != nil {
		t.Fatal(err)
	}
	return last
}

func readOutbox(t *testing.T, s *statetest.Store, after uint64, max int) (seqs []uint64, data []string) {
	t.Helper()
	if err := s.OutboxRead(after, max, func(seq uint64, d []byte) error {
		seqs = append(seqs, seq)
		data = append(data, string(d))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return seqs, data
}

func TestOutbox_ReadInOrder(t *testing.T) {
	s := statetest.New(t)
	for i := range 300 { // past 255, where a little-endian key would sort wrongly
		appendEvents(t, s, fmt.Sprintf("e%d", i+1))
	}
	tests := []struct {
		after uint64
		max   int
		want  []uint64
	}{
		{0, 3, []uint64{1, 2, 3}},
		{254, 3, []uint64{255, 256, 257}},
		{298, 0, []uint64{299, 300}},
		{298, 10, []uint64{299, 300}},
		{300, 0, nil},
		{^uint64(0), 0, nil},
	}
	for _, tt := range tests {
		seqs, data := readOutbox(t, s, tt.after, tt.max)
		if !slices.Equal(seqs, tt.want) {
			t.Errorf("OutboxRead(%d, %d) = %v, want %v", tt.after, tt.max, seqs, tt.want)
		}
		for i, seq := range seqs {
			if data[i] != fmt.Sprintf("e%d", seq) {
				t.Errorf("seq %d holds %q", seq, data[i])
			}
		}
	}
	all, _ := readOutbox(t, s, 0, 0)
	if len(all) != 300 || !slices.IsSorted(all) {
		t.Errorf("read all: %d events, sorted %v", len(all), slices.IsSorted(all))
	}
}

func TestOutbox_ReadStopsOnError(t *testing.T) {
	s := statetest.New(t)
	appendEvents(t, s, "a", "b", "c")
	stop := errors.New("stop")
	n := 0
	err := s.OutboxRead(0, 0, func(uint64, []byte) error {
		if n++; n == 2 {
			return stop
		}
		return nil
	})
	if err != stop || n != 2 {
		t.Errorf("OutboxRead = %v after %d calls, want the callback's error after 2", err, n)
	}
}

func TestOutbox_DeleteAckedPrefix(t *testing.T) {
	s := statetest.New(t)
	appendEvents(t, s, "a", "bb", "ccc", "dddd")
	tests := []struct {
		upTo        uint64
		removed     int
		left        []uint64
		count       int
		bytes       int64
		description string
	}{
		{0, 0, []uint64{1, 2, 3, 4}, 4, 10, "nothing acked"},
		{2, 2, []uint64{3, 4}, 2, 7, "prefix"},
		{2, 0, []uint64{3, 4}, 2, 7, "again"},
		{99, 2, nil, 0, 0, "past the end"},
	}
	for _, tt := range tests {
		n, err := s.OutboxDelete(tt.upTo)
		if err != nil {
			t.Fatal(err)
		}
		left, _ := readOutbox(t, s, 0, 0)
		c, b, err := s.OutboxStats()
		if err != nil {
			t.Fatal(err)
		}
		if n != tt.removed || !slices.Equal(left, tt.left) || c != tt.count || b != tt.bytes {
			t.Errorf("%s: removed %d, left %v, stats %d/%d; want %d, %v, %d/%d",
				tt.description, n, left, c, b, tt.removed, tt.left, tt.count, tt.bytes)
		}
	}
	// Numbers go on from where they were, also after a restart.
	s.Reopen()
	if last := appendEvents(t, s, "e"); last != 5 {
		t.Errorf("next sequence after emptying and reopening = %d, want 5", last)
	}
}

// TestOutbox_StatsAfterManyOperations plays random appends and acks
// against a model and compares contents and totals.
func TestOutbox_StatsAfterManyOperations(t *testing.T) {
	s := statetest.New(t)
	rng := rand.New(rand.NewPCG(1, 2))
	model := map[uint64]int{} // seq -> size
	var next, acked uint64
	for op := range 400 {
		if rng.IntN(3) > 0 {
			var events []string
			for range rng.IntN(20) + 1 {
				events = append(events, string(make([]byte, rng.IntN(900)+1)))
			}
			last := appendEvents(t, s, events...)
			for i, e := range events {
				model[last-uint64(len(events)-1-i)] = len(e)
			}
			next = last
		} else if next > acked {
			acked += uint64(rng.IntN(int(next-acked))) + 1
			want := 0
			for seq := range model {
				if seq <= acked {
					delete(model, seq)
					want++
				}
			}
			if n, err := s.OutboxDelete(acked); err != nil || n != want {
				t.Fatalf("op %d: OutboxDelete(%d) = %d, %v; want %d", op, acked, n, err, want)
			}
		}
		if op%50 == 0 {
			s.Reopen()
		}
	}
	var wantBytes int64
	for _, n := range model {
		wantBytes += int64(n)
	}
	c, b, err := s.OutboxStats()
	if err != nil || c != len(model) || b != wantBytes {
		t.Errorf("OutboxStats = %d, %d, %v; model has %d events, %d bytes", c, b, err, len(model), wantBytes)
	}
	seqs, _ := readOutbox(t, s, 0, 0)
	if len(seqs) != len(model) {
		t.Errorf("outbox holds %d events, model %d", len(seqs), len(model))
	}
	for _, seq := range seqs {
		if _, ok := model[seq]; !ok {
			t.Errorf("seq %d in the outbox, not in the model", seq)
		}
	}
}

// OutboxReadSegments never cuts a commit's segment: an ack of what it read
// deletes whole segments, and the reads add up to every event once, in
// order.
func TestOutbox_ReadSegments(t *testing.T) {
	s := statetest.New(t)
	sizes := []int{3, 700, 1, 512, 40, 40, 40} // 700 is two segments: 512 + 188
	total := 0
	for c, n := range sizes {
		evs := make([]string, n)
		for i := range evs { // one byte: 512 of them are under segmentBytes
			evs[i] = string(rune('a' + (c+i)%26))
		}
		appendEvents(t, s, evs...)
		total += n
	}
	var got []int
	var next uint64 = 1
	for range 100 {
		var seqs []uint64
		if err := s.OutboxReadSegments(0, 100, func(seq uint64, _ []byte) error {
			seqs = append(seqs, seq)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(seqs) == 0 {
			break
		}
		for _, q := range seqs {
			if q != next {
				t.Fatalf("read %d, want %d", q, next)
			}
			next++
		}
		got = append(got, len(seqs))
		n, err := s.OutboxDelete(seqs[len(seqs)-1])
		if err != nil || n != len(seqs) {
			t.Fatalf("OutboxDelete removed %d (%v), want %d", n, err, len(seqs))
		}
	}
	// 3+1 fit in 100 but 512 does not: whole segments, at least one per read.
	want := []int{3, 512, 188, 1, 512, 80, 40}
	if !slices.Equal(got, want) || int(next-1) != total {
		t.Fatalf("reads %v (%d events), want %v (%d)", got, next-1, want, total)
	}
}
