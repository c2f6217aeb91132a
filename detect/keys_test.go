package detect

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// The key table finds what was added, nothing else, and orders the keys
// not taken exactly as sorting their strings does: IPv4 (decided by the
// 16-byte prefix), IPv6 and host names that share long prefixes, keys
// that are prefixes of others, bytes above 0x7f and NULs.
func TestKeyTable_FindAndOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	gen := func() string {
		switch rng.IntN(6) {
		case 0:
			return fmt.Sprintf("%d.%d.%d.%d", rng.IntN(256), rng.IntN(256), rng.IntN(256), rng.IntN(256))
		case 1:
			return fmt.Sprintf("2001:db8:%x::%x", rng.IntN(1<<16), rng.IntN(1<<16))
		case 2:
			return fmt.Sprintf("host-%d.a-long-shared-prefix.example.org", rng.IntN(5000))
		case 3: // a prefix of many others, or extended by a NUL
			return "2001:db8:1234:5"[:rng.IntN(16)] + string([]byte{0}[:rng.IntN(2)])
		case 4:
			return string([]byte{0xff, byte(rng.IntN(256)), byte(rng.IntN(3))})
		}
		return fmt.Sprintf("10.0.%d.%d", rng.IntN(4), rng.IntN(256))
	}
	for round := range 20 {
		var tab keyTable
		if round%2 == 1 {
			tab = sizedKeyTable(rng.IntN(5000))
		}
		in := map[string]*accum{}
		for range rng.IntN(20000) {
			k := gen()
			h := keyHash([]byte(k))
			if got := tab.find(h, []byte(k)); got != in[k] {
				t.Fatalf("round %d: find(%q) = %p, want %p", round, k, got, in[k])
			}
			if in[k] == nil {
				acc := &accum{}
				tab.add(h, k, acc)
				in[k] = acc
			}
		}
		if tab.Len() != len(in) {
			t.Fatalf("round %d: Len %d, want %d", round, tab.Len(), len(in))
		}
		var ranks []keyRank
		order := tab.keyOrder(nil, &ranks)
		var got, want []string
		for _, i := range order {
			got = append(got, tab.entries[i].key)
		}
		for k := range in {
			want = append(want, k)
		}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("round %d: %d keys out of order", round, len(want))
		}
		// Taking keys (a window closing) leaves the rest found and ordered.
		for _, i := range order[:len(order)/2] {
			k, acc := tab.take(i)
			if acc != in[k] {
				t.Fatalf("round %d: take(%q) = %p, want %p", round, k, acc, in[k])
			}
			if tab.find(keyHash([]byte(k)), []byte(k)) != nil {
				t.Fatalf("round %d: %q found after take", round, k)
			}
		}
		rest := tab.keyOrder(nil, &ranks)
		if !slices.Equal(rest, order[len(order)/2:]) || tab.Len() != len(rest) {
			t.Fatalf("round %d: after taking half, %d keys left (Len %d), want %d", round, len(rest), tab.Len(), len(order)-len(order)/2)
		}
	}
}
