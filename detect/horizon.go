package detect

import (
	"cmp"
	"math"
	"slices"
)

// Horizons: what a client did over its last hour and day, so that a slow
// scanner, one or two probes a minute, piles up evidence that no single
// window shows. A web client's window carries, beside its own counts,
// hour_4xx, hour_rare_errors, day_4xx, day_rare_errors,
// hour_new_rare_errors and day_new_rare_errors: its 4xx responses, its
// failed requests to paths the vocabulary does not know (rare_errors), and
// its new rare errors (below), summed over its windows with exponentially decaying
// weights, time constants one hour and one day, the window itself
// included with weight 1 (the sums are decayed from the client's last
// window with a failure: windows without one add nothing and change no
// entry, so only windows with evidence are written to the state). A window an hour old weighs 1/e (0.37) in the
// hour sums and 0.96 in the day sums. A client that never failed has 0s.
//
// A window's new rare errors are its distinct rare-error paths that are
// not among the client's last recentPaths (4) distinct rare-error paths:
// a browser retrying one broken URL every minute, or a page with a
// couple of broken links reloaded, adds 1 once and then nothing, where a
// scanner asking for a new never-served path every minute adds 1 each
// window. Past errPathsKept distinct rare-error paths in one window
// (a probe, IsProbe, at the default --probe-rare-errors of 3) every
// further rare error counts as new. A window that adds no new rare error
// carries 0 in hour_new_rare_errors and day_new_rare_errors, whatever the
// client's sums (which it keeps): the evidence is the client's, but it is
// carried only by the windows that add to it, so that one burst of rare
// errors (a developer's broken build) does not make every window of the
// next hour an outlier, while a slow scanner, adding a new path each
// window, carries its whole hour in each. A client failing on more than
// errPathsKept paths in every window (a page of four dead links reloaded)
// adds new ones in each: a window keeps only errPathsKept paths.
//
// Decayed sums need one entry per client, not a window list: 40 bytes
// (six sums, the last window and the recent paths' 16-bit tags),
// about 90 with the map's overhead, kept only for clients whose windows
// had 4xx or rare errors. At most Horizon.max clients are kept (default
// DefaultHorizonClients, ~4.5 MiB); when the table is full a quarter of it,
// the clients whose last failure is oldest, is forgotten. A client
// without a failure for 3 days (its
// day sums down to 5%) is forgotten too, in a sweep at the first window of
// every hour of event time. The agent stores the changes with each commit (Drain), in the same
// transaction as the counts and offsets, and loads them at start, so the
// sums survive restarts and crashes.

// Horizon feature positions (in HorizonValues).
const (
	Hour4xx = iota
	HourRareErrors
	Day4xx
	DayRareErrors
	HourNewRareErrors
	DayNewRareErrors
	horizonCount
)

// recentPaths is the rare-error paths a client's entry remembers.
const recentPaths = 4

// RecentPaths are the 16-bit tags (DestKey.pathTag, keyed; 0: none) of a
// client's last distinct rare-error paths, the most recent first. Sixteen
// bits are enough: a new path is taken for a remembered one 4 times in
// 65,535.
type RecentPaths [recentPaths]uint16

// HorizonValues are a client's decayed sums.
type HorizonValues [horizonCount]float32

// Horizon time constants and bounds.
const (
	hourTau               = 3600
	dayTau                = 86400
	horizonIdle           = 3 * dayTau // seconds without a failure before a client is forgotten
	horizonSweep          = 3600       // seconds of event time between sweeps
	DefaultHorizonClients = 50_000
	filterBits            = 1 << 20 // Horizon.filter: 128 KiB
)

func filterBit(k uint64) (word int, mask uint64) {
	b := k >> (64 - 20)
	return int(b >> 6), 1 << (b & 63)
}

func (h *Horizon) mayHave(k uint64) bool {
	w, m := filterBit(k)
	return h.filter[w]&m != 0
}

func (h *Horizon) setFilter(k uint64) {
	w, m := filterBit(k)
	h.filter[w] |= m
}

// HorizonChange is a client's entry to store (Delete: to remove), keyed by
// the client's hash.
type HorizonChange struct {
	Key    uint64
	Last   int64 // window start of the last update, Unix seconds
	Values HorizonValues
	Recent RecentPaths
	Delete bool
}

type hzEntry struct {
	last   int64
	v      HorizonValues
	recent RecentPaths
}

// Horizon keeps the decayed sums of one input's clients. Not safe for
// concurrent use: the aggregator that owns it updates it.
type Horizon struct {
	key       DestKey
	max       int
	m         map[uint64]hzEntry
	track     bool
	dirty     []uint64 // changed since Drain (repeats possible)
	sweptHour int64    // the hour of event time last swept
	// filter has a bit set for every key with an entry (and, until the
	// next sweep rebuilds it, for some forgotten since): most clients
	// never fail, and a clear bit spares their window the map lookup.
	filter  []uint64
	idle    []hzIdle // evict's scratch
	evicted int64
}

// NewHorizon returns an empty horizon of at most max clients (0: the
// default), hashing clients with key (the node's, so that stored entries
// match after a restart). track keeps the changes for Drain.
func NewHorizon(max int, key DestKey, track bool) *Horizon {
	h := &Horizon{key: key, max: cmp.Or(max, DefaultHorizonClients), m: make(map[uint64]hzEntry),
		filter: make([]uint64, filterBits/64)}
	h.track = track
	return h
}

// Len is the clients kept; Evicted counts those forgotten for room.
func (h *Horizon) Len() int       { return len(h.m) }
func (h *Horizon) Evicted() int64 { return h.evicted }

// decayed returns e's sums carried to time t (Unix seconds).
func (e *hzEntry) decayed(t int64) HorizonValues {
	dt := float64(max(t-e.last, 0))
	fh, fd := float32(math.Exp(-dt/hourTau)), float32(math.Exp(-dt/dayTau))
	v := e.v
	v[Hour4xx] *= fh
	v[HourRareErrors] *= fh
	v[Day4xx] *= fd
	v[DayRareErrors] *= fd
	v[HourNewRareErrors] *= fh
	v[DayNewRareErrors] *= fd
	return v
}

// failures is what a client's window adds to its horizon: its 4xx, its
// rare errors, and the paths of these (accum.errPaths, errOther).
type failures struct {
	n4xx, rareErr uint32
	paths         [errPathsKept]uint16
	other         uint16
}

// fresh returns the window's new rare errors (see above): its paths not
// among r as it was before the window. It then records them in r, the
// most recent first: a path seen again moves to the front, so a client
// cycling through a few broken URLs keeps them.
func (f *failures) fresh(r *RecentPaths) uint32 {
	n := uint32(f.other)
	before := *r
	for _, p := range f.paths {
		if p == 0 {
			break
		}
		if !slices.Contains(before[:], p) {
			n++
		}
		i := slices.Index(r[:], p)
		if i < 0 {
			i = len(r) - 1
		}
		copy(r[1:i+1], r[:i])
		r[0] = p
	}
	return n
}

// observe adds a client's window (start in Unix seconds) with its
// failures, and returns the client's sums.
func (h *Horizon) observe(client string, start int64, f *failures) HorizonValues {
	if hour := start - start%horizonSweep; hour != h.sweptHour {
		h.sweep(hour)
	}
	k := h.key.hashString(client)
	n4xx, rareErr := f.n4xx, f.rareErr
	if n4xx == 0 && rareErr == 0 && !h.mayHave(k) {
		return HorizonValues{}
	}
	e, ok := h.m[k]
	if n4xx == 0 && rareErr == 0 {
		// Nothing to add: the sums decayed to now, the entry (and the
		// state) unchanged, so that only windows with evidence are written.
		if !ok {
			return HorizonValues{}
		}
		return e.decayed(start).withoutNew()
	}
	if !ok && len(h.m) >= h.max {
		h.evict()
	}
	if ok {
		e.v = e.decayed(start)
	}
	x, r := float32(n4xx), float32(rareErr)
	e.v[Hour4xx] += x
	e.v[Day4xx] += x
	e.v[HourRareErrors] += r
	e.v[DayRareErrors] += r
	var fresh uint32
	if rareErr > 0 {
		fresh = f.fresh(&e.recent)
		e.v[HourNewRareErrors] += float32(fresh)
		e.v[DayNewRareErrors] += float32(fresh)
	}
	e.last = max(e.last, start)
	h.m[k] = e
	h.setFilter(k)
	h.mark(k)
	if fresh == 0 {
		return e.v.withoutNew()
	}
	return e.v
}

// withoutNew returns v with the new rare errors' sums at 0: the values of a
// window that adds no new rare error.
func (v HorizonValues) withoutNew() HorizonValues {
	v[HourNewRareErrors], v[DayNewRareErrors] = 0, 0
	return v
}

func (h *Horizon) mark(k uint64) {
	if h.track {
		h.dirty = append(h.dirty, k)
	}
}

// sweep forgets the clients whose last failure is horizonIdle before hour, the start
// of an hour of event time. It depends on the hour alone, not on when in
// the hour it runs, and sweeping again changes nothing: an agent restarted
// from its last commit sweeps the hour again and forgets what the
// uninterrupted run would have.
func (h *Horizon) sweep(hour int64) {
	h.sweptHour = hour
	clear(h.filter)
	for k, e := range h.m {
		if hour-e.last >= horizonIdle {
			delete(h.m, k)
			h.mark(k)
			continue
		}
		h.setFilter(k)
	}
}

type hzIdle struct {
	last int64
	key  uint64
}

// sortIdle fills h.idle with the entries, last failure first.
func (h *Horizon) sortIdle() {
	h.idle = h.idle[:0]
	for k, e := range h.m {
		h.idle = append(h.idle, hzIdle{e.last, k})
	}
	slices.SortFunc(h.idle, func(a, b hzIdle) int { return cmp.Or(cmp.Compare(a.last, b.last), cmp.Compare(a.key, b.key)) })
}

// evict forgets the quarter of the clients whose last failure is oldest (ties broken by
// key, so that the same table always loses the same clients).
func (h *Horizon) evict() {
	h.sortIdle()
	for _, x := range h.idle[:max(1, len(h.idle)/4)] {
		delete(h.m, x.key)
		h.mark(x.key)
		h.evicted++
	}
}

// Drain returns the entries changed since the last Drain, in key order,
// and forgets the changes.
func (h *Horizon) Drain() []HorizonChange {
	if len(h.dirty) == 0 {
		return nil
	}
	slices.Sort(h.dirty)
	keys := slices.Compact(h.dirty)
	out := make([]HorizonChange, 0, len(keys))
	for _, k := range keys {
		e, ok := h.m[k]
		out = append(out, HorizonChange{Key: k, Last: e.last, Values: e.v, Recent: e.recent, Delete: !ok})
	}
	h.dirty = h.dirty[:0]
	return out
}

// Load adds a stored entry (at start, before any window closes; then
// Trim). The first window closed after loading sweeps its hour (again:
// see sweep).
func (h *Horizon) Load(key uint64, last int64, v HorizonValues, recent RecentPaths) {
	h.m[key] = hzEntry{last: last, v: v, recent: recent}
	h.setFilter(key)
}

// Trim forgets, after Load, the entries past the bound (a lowered
// detect.horizon_clients): those whose last failure is oldest, as evict
// does. Drain then deletes them from the state too.
func (h *Horizon) Trim() {
	if len(h.m) <= h.max {
		return
	}
	h.sortIdle()
	for _, x := range h.idle[:len(h.m)-h.max] {
		delete(h.m, x.key)
		h.mark(x.key)
		h.evicted++
	}
}

// HorizonKey is the key a client's entry is stored under, for a node
// whose destination key is k (the state's).
func HorizonKey(k DestKey, client string) uint64 { return k.hashString(client) }

// Values returns a client's sums carried to t (Unix seconds), for `state`.
func (h *Horizon) Values(client string, t int64) (HorizonValues, bool) {
	e, ok := h.m[h.key.hashString(client)]
	if !ok {
		return HorizonValues{}, false
	}
	return e.decayed(t), true
}
