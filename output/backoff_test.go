package output

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestBackoff_StaysUnderTheCeiling(t *testing.T) {
	tests := []struct {
		name     string
		b        Backoff
		ceilings []time.Duration // of the successive waits
	}{
		{"doubles to the cap", Backoff{Min: 100 * time.Millisecond, Max: time.Second},
			[]time.Duration{100, 200, 400, 800, 1000, 1000, 1000}},
		{"zero uses the defaults", Backoff{},
			[]time.Duration{500, 1000, 2000, 4000, 8000, 16000, 30000, 30000}},
		{"max below min", Backoff{Min: time.Second, Max: time.Millisecond},
			[]time.Duration{1000, 1000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.b
			b.Rand = rand.New(rand.NewPCG(1, 1))
			for i, c := range tt.ceilings {
				c *= time.Millisecond
				if d := b.Next(); d < 0 || d >= c {
					t.Errorf("wait %d = %v, want in [0, %v)", i, d, c)
				}
			}
		})
	}
}

func TestBackoff_NeverOverflows(t *testing.T) {
	b := Backoff{Min: time.Nanosecond, Max: time.Duration(1<<63 - 1), Rand: rand.New(rand.NewPCG(2, 2))}
	for i := range 200 {
		if d := b.Next(); d < 0 {
			t.Fatalf("wait %d = %v", i, d)
		}
	}
}

func TestBackoff_SeededIsDeterministic(t *testing.T) {
	seq := func() []time.Duration {
		b := Backoff{Min: 10 * time.Millisecond, Max: time.Second, Rand: rand.New(rand.NewPCG(42, 7))}
		var out []time.Duration
		for range 10 {
			out = append(out, b.Next())
		}
		return out
	}
	a, b := seq(), seq()
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("wait %d: %v then %v with the same seed", i, a[i], b[i])
		}
	}
}

func TestBackoff_JitterSpreadsAndResetRestarts(t *testing.T) {
	b := Backoff{Min: time.Second, Max: time.Minute, Rand: rand.New(rand.NewPCG(5, 5))}
	for range 10 {
		b.Next()
	}
	// At the cap, full jitter spreads waits over [0, Max): their mean is
	// near Max/2 and they are not all alike.
	var sum time.Duration
	lo, hi := time.Minute, time.Duration(0)
	const n = 2000
	for range n {
		d := b.Next()
		sum += d
		lo, hi = min(lo, d), max(hi, d)
	}
	if mean := sum / n; mean < 27*time.Second || mean > 33*time.Second {
		t.Errorf("mean wait at the cap %v, want about 30s", mean)
	}
	if lo > 5*time.Second || hi < 55*time.Second {
		t.Errorf("waits at the cap span [%v, %v], want most of [0, 1m)", lo, hi)
	}
	b.Reset()
	if d := b.Next(); d >= time.Second {
		t.Errorf("first wait after Reset %v, want under Min", d)
	}
}
