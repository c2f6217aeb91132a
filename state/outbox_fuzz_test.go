package state

import (
	"encoding/binary"
	"testing"
)

// FuzzOutboxSegment feeds arbitrary bytes to the outbox segment decoder:
// it must never panic, never return more events than the header says, and
// every event it returns must lie inside the value. A value marked as built
// by Segments (fixedSegment) whose events all carry 3-byte lengths and fill
// it exactly must have the size fixedSegment reads from its framing.
func FuzzOutboxSegment(f *testing.F) {
	seg := binary.AppendUvarint(nil, 2)
	for _, ev := range []string{`{"a":1}`, `{"b":2}`} {
		seg = binary.AppendUvarint(seg, uint64(len(ev)))
		seg = append(seg, ev...)
	}
	f.Add(uint64(10), seg)
	f.Add(uint64(1), []byte{1, 0})
	f.Add(uint64(0), []byte{})
	f.Add(^uint64(0), []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	var built Segments
	for _, ev := range []string{`{"a":1}`, `{"bb":22}`, "x"} {
		_ = built.Append(func(b []byte) ([]byte, error) { return append(b, ev...), nil })
	}
	f.Add(uint64(3), built.built()[0].value)
	f.Fuzz(func(t *testing.T, last uint64, v []byte) {
		g := openSegment(last, v)
		if g.err != nil {
			return
		}
		want := g.left
		fixedSize, fixed := fixedSegment(v, g.left)
		var sum int64
		allPadded := true
		n := uint64(0)
		prev := uint64(0)
		for {
			before := len(g.data)
			seq, ev, ok := g.next()
			if !ok {
				break
			}
			sum += int64(len(ev))
			allPadded = allPadded && before-len(g.data)-len(ev) == pad3
			if n > 0 && seq != prev+1 {
				t.Fatalf("sequence %d after %d", seq, prev)
			}
			if len(ev) > len(v) {
				t.Fatalf("event of %d bytes from a value of %d", len(ev), len(v))
			}
			prev = seq
			n++
		}
		if n > want {
			t.Fatalf("%d events from a header of %d", n, want)
		}
		if g.err == nil && n != want {
			t.Fatalf("%d events without an error, header says %d", n, want)
		}
		if n == want && n > 0 && prev != last {
			t.Fatalf("last event %d, key says %d", prev, last)
		}
		if fixed && g.err == nil && n == want && allPadded && len(g.data) == 0 && fixedSize != sum {
			t.Fatalf("fixedSegment reads %d bytes of events, they hold %d", fixedSize, sum)
		}
	})
}
