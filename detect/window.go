package detect

import (
	"errors"
	"fmt"
	"github.com/socx/sharkfin/event"
	"math"
	"slices"
	"time"

	"github.com/socx/sharkfin/record"
)

// OverflowKey is the key under which a window counts the lines of sources
// beyond WindowConfig.MaxKeys. It is reported like any other key, so an
// overflow is visible downstream and never silently dropped; no parser
// gives a client this key (see event.OverflowKey), so no log line can
// pass for the overflow row.
const OverflowKey = event.OverflowKey

// WindowConfig sets how records are grouped.
type WindowConfig struct {
	Kind record.Kind
	// Window is the tumbling window length (default 60s). Windows are
	// aligned to the Unix epoch.
	Window time.Duration
	// Lateness is how far behind the newest event time a line may be and
	// still land in its own window (default 5s). Older lines are late.
	Lateness time.Duration
	// MaxKeys caps the keys tracked per window (0 = no cap). Lines of
	// further keys are counted under OverflowKey.
	MaxKeys int
	// MaxFuture is how far past Now a line's time may be (default
	// DefaultMaxFuture). A later line is not counted (AggregatorStats.Future):
	// it would move the watermark past the present, and every line after it
	// would be late until the clock caught up (for a year-2099 line, for
	// good; the watermark is in the state).
	MaxFuture time.Duration
	// Now is the wall clock MaxFuture is measured from (nil: time.Now).
	Now func() time.Time
	// CloseBatch bounds the keys one close call emits (0 = all). The agent
	// sets it so that closing a window of a flood's 100,000 keys is spread
	// over several commits (ContinueClose) instead of building every event
	// at once; the rest of a closing window stays in the snapshot.
	CloseBatch int
	// ByDest keys the windows by destination (record.Record.Dest: the
	// registrable domain, or a bare address) instead of by client: the
	// per-domain counters of proxy and DNS inputs. Records without a
	// destination are counted in AggregatorStats.NoDest only.
	ByDest bool
	// Seen, if set, remembers the destinations counted: a destination's
	// window reports New the first time (ByDest), and a DNS client's
	// new_domain_share is the share of its queries to destinations first
	// seen in that window. Aggregators of one node share one.
	Seen *Seen
	// Allow, if set, matches allowlisted lines (client windows): a key's
	// window all of whose lines match is Result.Allowed.
	Allow *Allow
	// Horizon, if set, keeps the web clients' hour and day sums (see
	// Horizon): their windows' hour_ and day_ features. Without one those
	// are the window's own counts.
	Horizon *Horizon
	// DestKey is the key of the destinations' hash (record.Record.DestHash,
	// see DestKey): a ByDest aggregator hashes the keys it restores with
	// it. It must be the key of the Destinations that fill the records.
	DestKey DestKey
}

// SetDefaults fills zero fields.
func (c *WindowConfig) SetDefaults() {
	if c.Window == 0 {
		c.Window = 60 * time.Second
	}
	if c.Lateness == 0 {
		c.Lateness = 5 * time.Second
	}
	if c.MaxFuture == 0 {
		c.MaxFuture = DefaultMaxFuture
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// DefaultMaxFuture is WindowConfig.MaxFuture's default: a day, more than
// any time zone's offset, so a log whose zone-less times are read in the
// wrong zone is still counted (shifted), while a clock set years ahead, or
// one stray line of one, is not.
const DefaultMaxFuture = 24 * time.Hour

// Validate checks the configuration.
func (c *WindowConfig) Validate() error {
	switch {
	case c.Kind == record.KindUnknown:
		return errors.New("window: kind is not set")
	case c.Window < time.Second:
		return fmt.Errorf("window: %s is shorter than 1s; use e.g. 60s", c.Window)
	case c.Window%time.Second != 0:
		return fmt.Errorf("window: %s is not a whole number of seconds", c.Window)
	case c.Lateness < 0:
		return fmt.Errorf("lateness: %s is negative", c.Lateness)
	case c.CloseBatch < 0:
		return fmt.Errorf("close batch: %d is negative", c.CloseBatch)
	case c.MaxKeys < 0:
		return fmt.Errorf("max keys: %d is negative", c.MaxKeys)
	case c.MaxFuture < 0:
		return fmt.Errorf("max future: %s is negative", c.MaxFuture)
	}
	return nil
}

// Window is one tumbling window's state.
type Window struct {
	Start, End int64 // Unix nanoseconds
	keys       keyTable
	overflow   *accum
	Lines      int64 // lines counted in this window
	// closing is set once the window is due: its remaining keys are being
	// emitted (CloseBatch at a time) and new lines for it are late.
	closing    bool
	Overflowed int64 // lines counted under OverflowKey
	// order is the closing window's keys (indexes in keys.entries) in
	// emit (key) order, sorted once when closing starts; order[:next] are
	// emitted.
	order []int32
	next  int
	// frozen is set once a snapshot has stored order[next:] with their
	// counts apart from the main snapshot (Snapshot): a closing window takes
	// no more lines, so later commits only store how far it has got.
	frozen bool
}

// Keys returns the number of keys tracked (excluding the overflow bucket).
func (w *Window) Keys() int { return w.keys.Len() }

// AggregatorStats are cumulative counts.
type AggregatorStats struct {
	Lines      int64 // records added (including late ones)
	Late       int64 // records older than the closed horizon
	Future     int64 // records dated more than MaxFuture past the clock, not counted
	Overflowed int64 // records counted under OverflowKey
	Windows    int64 // windows closed
	KeyWindows int64 // (key, window) results emitted
	NoDest     int64 // records naming no destination (ByDest)
}

// Aggregator groups records into tumbling event-time windows per source key.
// It is not safe for concurrent use.
type Aggregator struct {
	cfg       WindowConfig
	tagKey    DestKey // keys the rare-error paths' tags (accum.addRareError)
	width     int64
	lateness  int64
	windows   map[int64]*Window
	watermark int64 // newest event time seen
	horizon   int64 // windows ending at or before this are closed
	nextClose int64 // smallest End+lateness of an open window (MaxInt64 if none)
	// future is the latest time a line may have: the clock plus
	// MaxFuture, read again only when a line is past it.
	future  int64
	closing bool    // a window is part way through closing
	last    *Window // the window of the last Add, if still open
	free    []*accum
	stats   AggregatorStats
	vec     []float64
	// dropped holds the starts of frozen windows closed since the last
	// Snapshot: their stored keys can go.
	dropped []int64
	pending []pendingAdd // AddAll's scratch
	ranks   []keyRank    // keyOrder's scratch
	// lastKeys is the number of keys of the last window that began
	// closing: a new window's table starts with room for about as many.
	lastKeys int
	destRes  DestResult // Result.Dest, reused
}

// NewAggregator returns an empty aggregator.
func NewAggregator(cfg WindowConfig) (*Aggregator, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	// The rare-error paths' tags are keyed by the horizon's key (the
	// node's, kept in the state: a restored window's tags match the
	// restarted agent's and the stored recent paths).
	tagKey := cfg.DestKey
	if cfg.Horizon != nil {
		tagKey = cfg.Horizon.key
	}
	return &Aggregator{
		cfg:       cfg,
		tagKey:    tagKey,
		width:     int64(cfg.Window),
		lateness:  int64(cfg.Lateness),
		windows:   make(map[int64]*Window),
		nextClose: maxInt64,
		vec:       make([]float64, 0, 16),
	}, nil
}

const maxInt64 = int64(^uint64(0) >> 1)

// TagKey is the key of the rare-error paths' tags: the one parse workers
// give TagRareError for records that come here.
func (a *Aggregator) TagKey() *DestKey { return &a.tagKey }

// Config returns the effective configuration.
func (a *Aggregator) Config() WindowConfig { return a.cfg }

// Stats returns cumulative counts.
func (a *Aggregator) Stats() AggregatorStats { return a.stats }

// Watermark is the newest event time seen (Unix ns), 0 before any record.
func (a *Aggregator) Watermark() int64 { return a.watermark }

// OpenWindows is the number of windows not yet closed.
func (a *Aggregator) OpenWindows() int { return len(a.windows) }

// alignDown returns the start of the window holding t.
func (a *Aggregator) alignDown(t int64) int64 {
	s := t - t%a.width
	if t < 0 && t%a.width != 0 {
		s -= a.width
	}
	return s
}

// Add counts r in its window and reports false when r is late (its window
// already closed, or the watermark has passed its end plus lateness so that
// Advance would close it) or dated more than MaxFuture past the clock; such
// records are counted in Stats (Late, Future) and otherwise ignored.
func (a *Aggregator) Add(r *record.Record) bool {
	if a.cfg.ByDest && r.Dest == nil {
		a.stats.NoDest++
		return true
	}
	acc := a.locate(r)
	if acc == nil {
		return false
	}
	a.count(acc, r)
	return true
}

// count adds r to acc.
func (a *Aggregator) count(acc *accum, r *record.Record) {
	if a.cfg.ByDest {
		acc.addDest(a.cfg.Kind, r, &a.tagKey)
	} else {
		acc.add(a.cfg.Kind, r, &a.tagKey)
		if a.cfg.Allow != nil && a.cfg.Allow.match(r) {
			inc(&acc.allowed)
		}
	}
}

// AddAll adds recs in order as Add does, calling Advance(fn) after any
// record that makes a window due, and reports how many were late (or
// from the future: AggregatorStats.Future). It
// finds every record's accumulator first and counts the records into
// them after (before any window closes): the lookups of consecutive
// records, each a likely cache miss, then overlap, and so do the counts.
func (a *Aggregator) AddAll(recs []record.Record, fn func(*Result)) (late int) {
	pend := a.pending[:0]
	flush := func() {
		if a.cfg.ByDest {
			for _, p := range pend {
				p.acc.addDest(a.cfg.Kind, p.r, &a.tagKey)
			}
		} else if al := a.cfg.Allow; al != nil {
			for _, p := range pend {
				p.acc.add(a.cfg.Kind, p.r, &a.tagKey)
				if al.match(p.r) {
					inc(&p.acc.allowed)
				}
			}
		} else {
			for _, p := range pend {
				p.acc.add(a.cfg.Kind, p.r, &a.tagKey)
			}
		}
		pend = pend[:0]
	}
	for i := range recs {
		r := &recs[i]
		if a.cfg.ByDest && r.Dest == nil {
			a.stats.NoDest++
			continue
		}
		if acc := a.locate(r); acc != nil {
			pend = append(pend, pendingAdd{acc, r})
		} else {
			late++
		}
		if a.watermark >= a.nextClose {
			flush()
			a.Advance(fn)
		}
	}
	flush()
	clear(pend[:min(len(recs), cap(pend))]) // what this call used: drop its pointers
	a.pending = pend[:0]
	return late
}

// pendingAdd is a record AddAll has located and not yet counted.
type pendingAdd struct {
	acc *accum
	r   *record.Record
}

// locate is Add up to counting r: it returns r's accumulator, opening its
// window and key as needed, or nil when r is late.
func (a *Aggregator) locate(r *record.Record) *accum {
	a.stats.Lines++
	if r.Time > a.future && a.fromFuture(r.Time) {
		a.stats.Future++
		return nil
	}
	start := a.alignDown(r.Time)
	// Late: the window was closed, or the watermark has already passed its
	// end plus lateness (Advance would close it), even if it was never open.
	if end := start + a.width; end <= a.horizon || end+a.lateness <= a.watermark {
		a.stats.Late++
		return nil
	}
	w := a.last // consecutive lines mostly fall in the same window
	if w == nil || w.Start != start {
		w = a.windows[start]
		if w == nil {
			w = &Window{Start: start, End: start + a.width, keys: sizedKeyTable(a.lastKeys + a.lastKeys/8)}
			a.windows[start] = w
			if c := w.End + a.lateness; c < a.nextClose {
				a.nextClose = c
			}
		}
		a.last = w
	}
	w.Lines++
	key, h := r.Client, r.ClientHash
	if a.cfg.ByDest {
		key, h = r.Dest, r.DestHash
	} else if !r.Hashed {
		h = keyHash(r.Client)
	}
	acc := w.keys.find(h, key)
	if acc == nil {
		if a.cfg.MaxKeys > 0 && w.keys.Len() >= a.cfg.MaxKeys {
			if w.overflow == nil {
				w.overflow = a.newAccum()
			}
			acc = w.overflow
			w.Overflowed++
			a.stats.Overflowed++
		} else {
			acc = a.newAccum()
			w.keys.add(h, string(key), acc)
		}
	}
	if r.Time > a.watermark {
		a.watermark = r.Time
	}
	return acc
}

// fromFuture reports whether t is past the clock plus MaxFuture, reading
// the clock again.
func (a *Aggregator) fromFuture(t int64) bool {
	a.future = a.cfg.Now().UnixNano() + int64(a.cfg.MaxFuture)
	return t > a.future
}

// maxFree bounds the accumulators kept for reuse: enough for the keys of a
// busy window to allocate nothing, few enough that a flood's window (up to
// MaxKeys keys) is given back to the garbage collector once it closes.
const maxFree = 8192

func (a *Aggregator) recycle(acc *accum) {
	if len(a.free) < maxFree {
		a.free = append(a.free, acc)
	}
}

func (a *Aggregator) newAccum() *accum {
	if n := len(a.free); n > 0 {
		acc := a.free[n-1]
		a.free = a.free[:n-1]
		return acc
	}
	return &accum{}
}

// Result is one key's features in one closed window. Vector is reused after
// the callback returns; copy what you keep.
type Result struct {
	Start, End int64
	Key        string
	Vector     []float64
	// Dest is set for a destination's window (WindowConfig.ByDest); it is
	// reused after the callback returns too.
	Dest *DestResult
	// Allowed: every line of the key's window matched WindowConfig.Allow.
	Allowed bool
}

// Due reports whether Advance would close a window now.
func (a *Aggregator) Due() bool { return a.watermark >= a.nextClose }

// Advance closes every window whose end plus lateness the watermark has
// passed, calling fn for each key of each closed window in time then key
// order.
func (a *Aggregator) Advance(fn func(*Result)) {
	if a.watermark < a.nextClose {
		return
	}
	a.CloseThrough(a.watermark-a.lateness, fn)
}

// CloseThrough closes every window ending at or before t (Unix ns),
// regardless of the watermark: the agent calls it when the input has been
// idle, and `sharkfin score` calls it with MaxInt64 at end of input.
func (a *Aggregator) CloseThrough(t int64, fn func(*Result)) {
	a.closeThrough(t, true, fn)
}

// CloseIdle closes every window ending at or before t, like CloseThrough,
// but moves the late horizon only to the end of the windows it closed, not
// to t: t is wall-clock time, and a replay of old logs that pauses must
// not make every later line late. Lines of a closed window are late
// either way (its event was emitted).
func (a *Aggregator) CloseIdle(t int64, fn func(*Result)) {
	a.closeThrough(t, false, fn)
}

func (a *Aggregator) closeThrough(t int64, eventTime bool, fn func(*Result)) {
	var due []int64
	next := maxInt64
	for s, w := range a.windows {
		if w.End <= t || w.closing {
			due = append(due, s)
		} else if c := w.End + a.lateness; c < next {
			next = c
		}
	}
	a.nextClose = next
	if eventTime && t != maxInt64 {
		if h := a.alignDown(t); h > a.horizon {
			a.horizon = h
		}
	}
	slices.Sort(due)
	for _, s := range due { // lines of a closing window are late from now on
		w := a.windows[s]
		w.closing = true
		if w.End > a.horizon {
			a.horizon = w.End
		}
	}
	budget := a.cfg.CloseBatch
	if budget <= 0 {
		budget = maxInt
	}
	for _, s := range due {
		w := a.windows[s]
		if !a.emit(w, fn, &budget) {
			a.closing = true
			return
		}
		delete(a.windows, s)
		if a.last == w {
			a.last = nil
		}
	}
	a.closing = false
}

const maxInt = int(^uint(0) >> 1)

// Closing reports whether a window is part way through closing (CloseBatch
// reached): call ContinueClose, after committing what was emitted.
func (a *Aggregator) Closing() bool { return a.closing }

// ContinueClose emits the next CloseBatch keys of the closing windows.
func (a *Aggregator) ContinueClose(fn func(*Result)) {
	if a.closing {
		a.closeThrough(minInt64, false, fn)
	}
}

const minInt64 = -maxInt64 - 1

// emit calls fn for the keys of w in key order, at most *budget of them,
// removing each; it reports whether the window is done (every key and the
// overflow emitted).
func (a *Aggregator) emit(w *Window, fn func(*Result), budget *int) bool {
	if w.order == nil {
		a.lastKeys = w.keys.Len()
	}
	a.sortOrder(w)
	res := Result{Start: w.Start, End: w.End}
	if a.cfg.ByDest {
		res.Dest = &a.destRes
	}
	for w.next < len(w.order) {
		if *budget <= 0 {
			return false
		}
		*budget--
		h := w.keys.entries[w.order[w.next]].hash
		k, acc := w.keys.take(w.order[w.next])
		w.next++
		if acc == nil { // cannot happen: order is the keys not taken
			continue
		}
		res.Key = k
		res.Allowed = acc.allowed > 0 && int64(acc.allowed) == min(acc.hits, math.MaxUint32)
		a.vec = a.vector(acc, w, k, h, a.vec)
		res.Vector = a.vec
		fn(&res)
		acc.reset()
		a.recycle(acc)
		a.stats.KeyWindows++
	}
	if w.overflow != nil {
		if *budget <= 0 {
			return false
		}
		*budget--
		res.Key = OverflowKey
		res.Allowed = false
		a.vec = a.vector(w.overflow, w, "", 0, a.vec)
		res.Vector = a.vec
		fn(&res)
		w.overflow.reset()
		a.recycle(w.overflow)
		w.overflow = nil
		a.stats.KeyWindows++
	}
	a.stats.Windows++
	if w.frozen {
		a.dropped = append(a.dropped, w.Start)
	}
	return true
}

// vector writes the features of a key's accumulator in window w: a
// client's (accum.vector), or a destination's counters (destVector),
// filling a.destRes and marking the destination seen. key is "" for the
// overflow row, which is not remembered.
func (a *Aggregator) vector(acc *accum, w *Window, key string, h uint64, out []float64) []float64 {
	if !a.cfg.ByDest {
		var hv *HorizonValues
		if a.cfg.Kind == record.KindWeb && key != "" && a.cfg.Horizon != nil {
			f := acc.failures()
			v := a.cfg.Horizon.observe(key, w.Start/1e9, &f)
			hv = &v
		}
		return acc.vector(a.cfg.Kind, out, a.cfg.Seen, w.Start, hv)
	}
	if acc.accExt != nil && acc.dest != nil {
		acc.dest.fill(&a.destRes)
	} else {
		a.destRes = DestResult{}
	}
	if key != "" && a.cfg.Seen != nil {
		first, isNew := a.cfg.Seen.observe(h, key, w.Start/1e9)
		a.destRes.New, a.destRes.FirstSeen = isNew, first*1e9
	} else if key != "" {
		a.destRes.FirstSeen = w.Start
	}
	return acc.destVector(a.cfg.Kind, out)
}
