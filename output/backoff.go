package output

import (
	"math/rand/v2"
	"time"
)

// Default bounds of a zero Backoff.
const (
	DefaultBackoffMin = 500 * time.Millisecond
	DefaultBackoffMax = 30 * time.Second
)

// Backoff computes the waits between retries of a failing delivery: capped
// exponential backoff with full jitter. The n-th wait (from 0) is drawn
// uniformly from [0, min(Max, Min·2ⁿ)), so agents that lost the same
// receiver spread their reconnections instead of coming back in step.
// A zero Backoff uses DefaultBackoffMin and DefaultBackoffMax.
//
// A Backoff is not safe for concurrent use.
type Backoff struct {
	Min, Max time.Duration
	// Rand draws the jitter; nil uses the runtime's random source. Tests
	// pass a seeded one to get a fixed sequence.
	Rand *rand.Rand

	attempt int
}

// Next returns the wait before the next retry and counts the attempt.
func (b *Backoff) Next() time.Duration {
	lo, hi := b.Min, b.Max
	if lo <= 0 {
		lo = DefaultBackoffMin
	}
	if hi <= 0 {
		hi = DefaultBackoffMax
	}
	if hi < lo {
		hi = lo
	}
	ceiling := hi
	if b.attempt < 62 && lo <= hi>>b.attempt {
		ceiling = lo << b.attempt
	}
	if ceiling < hi {
		b.attempt++
	}
	if b.Rand != nil {
		return time.Duration(b.Rand.Int64N(int64(ceiling)))
	}
	return time.Duration(rand.Int64N(int64(ceiling)))
}

// Reset starts the sequence again, after a success.
func (b *Backoff) Reset() { b.attempt = 0 }
