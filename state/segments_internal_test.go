package state

import "testing"

// A segment built by Segments is recognised by its 4-byte count, and its
// size read from its framing; a minimally encoded one is not.
func TestFixedSegment(t *testing.T) {
	var s Segments
	for _, ev := range []string{"a", "bb", string(make([]byte, 300))} {
		if err := s.Append(func(b []byte) ([]byte, error) { return append(b, ev...), nil }); err != nil {
			t.Fatal(err)
		}
	}
	built := s.built()
	if len(built) != 1 {
		t.Fatalf("%d segments, want 1", len(built))
	}
	if size, ok := fixedSegment(built[0].value, 3); !ok || size != 303 {
		t.Fatalf("fixedSegment(built) = %d, %v; want 303, true", size, ok)
	}
	minimal := []byte{3, 1, 'a', 2, 'b', 'b', 1, 'c'}
	if _, ok := fixedSegment(minimal, 3); ok {
		t.Fatal("a minimally encoded segment passed for a built one")
	}
}
