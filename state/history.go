package state

import (
	"cmp"
	"errors"
	"fmt"
	"time"
)

// History kinds: the key is a client IP address or a destination domain.
const (
	KindIP     = "ip"
	KindDomain = "domain"
)

// Orders for Top.
const (
	ByHits      = "hits"
	ByBytes     = "bytes"
	ByAnomalies = "anomalies"
	ByLastSeen  = "last_seen"
)

// Record versions: the first byte of an encoded totals record and segment.
const (
	totalsVersion  = 1
	segmentVersion = 1
)

// HistoryUpdate adds one window's counts for one key.
type HistoryUpdate struct {
	Kind        string // KindIP or KindDomain
	Key         string
	WindowStart time.Time // stored to the second
	Hits, Bytes int64     // not negative
	Anomalous   bool
}

// WindowCount is one window of a History.
type WindowCount struct {
	Start       time.Time
	Hits, Bytes int64
	Anomalous   bool
}

// History is what the store remembers of one key. Times are window starts,
// to the second, in UTC.
type History struct {
	Key                 string
	FirstSeen, LastSeen time.Time
	// Hits and Bytes are totals over every window applied since the key
	// was last forgotten (unseen for longer than the retention).
	Hits, Bytes int64
	// Windows counts the window entries applied (one per input and
	// window: a key seen on two inputs in one window counts twice),
	// Anomalies those of them that were anomalous.
	Windows, Anomalies int
	// Recent holds the windows within Options.Retention of LastSeen,
	// oldest first; the entries of one window (several inputs, several
	// commits) are summed, anomalous if one was.
	Recent []WindowCount
}

// totals is the stored summary of a key, times in Unix seconds.
type totals struct {
	first, last        int64
	hits, bytes        uint64
	windows, anomalies uint64
}

// add folds the entry e into t.
func (t *totals) add(e *segEntry) {
	if t.windows == 0 { // empty
		t.first, t.last = e.start, e.start
	}
	t.first, t.last = min(t.first, e.start), max(t.last, e.start)
	t.hits += e.hits
	t.bytes += e.bytes
	t.windows++
	if e.anomalous {
		t.anomalies++
	}
}

// merge adds the totals o to t.
func (t *totals) merge(o *totals) {
	if o.windows == 0 {
		return
	}
	if t.windows == 0 {
		*t = *o
		return
	}
	t.first, t.last = min(t.first, o.first), max(t.last, o.last)
	t.hits += o.hits
	t.bytes += o.bytes
	t.windows += o.windows
	t.anomalies += o.anomalies
}

// kindBuckets are the buckets and meta keys of one history kind.
type kindBuckets struct {
	index    string // key -> totals
	segments string // window start u64 | seq u64 -> segment
	unfolded string // segment key -> entries uvarint: not folded yet
	newest   string // meta: newest window start applied, u64 seconds
	sweep    string // meta: the index key the retention sweep is past
	i        int    // the kind's position in kinds
}

var (
	ipBuckets     = kindBuckets{bucketHistoryIP, bucketSegmentsIP, bucketUnfoldedIP, metaNewestIP, metaSweepIP, 0}
	domainBuckets = kindBuckets{bucketHistoryDomain, bucketSegmentsDomain, bucketUnfoldedDomain, metaNewestDomain, metaSweepDomain, 1}
	kinds         = []string{KindIP, KindDomain}
)

// historyBuckets returns the buckets of a kind.
func historyBuckets(kind string) (kindBuckets, error) {
	switch kind {
	case KindIP:
		return ipBuckets, nil
	case KindDomain:
		return domainBuckets, nil
	}
	return kindBuckets{}, fmt.Errorf("unknown history kind %q (want %q or %q)", kind, KindIP, KindDomain)
}

// export turns t into a History for key.
func (t *totals) export(key string) History {
	return History{
		Key:       key,
		FirstSeen: time.Unix(t.first, 0).UTC(),
		LastSeen:  time.Unix(t.last, 0).UTC(),
		Hits:      int64(t.hits),
		Bytes:     int64(t.bytes),
		Windows:   int(t.windows),
		Anomalies: int(t.anomalies),
	}
}

func validUpdate(u *HistoryUpdate) error {
	ws := u.WindowStart.Unix()
	if u.Key == "" || u.Hits < 0 || u.Bytes < 0 || ws < 0 {
		return errors.New("empty key, negative count or window out of range")
	}
	if len(u.Key) > maxHistoryKey {
		return fmt.Errorf("key of %d bytes; at most %d", len(u.Key), maxHistoryKey)
	}
	return nil
}

// maxHistoryKey bounds a history key: an IP address or a domain name
// (253 bytes) fits with room to spare.
const maxHistoryKey = 1024

// compareUpdates orders updates by kind, window start, then key: the
// order of segments and of the entries inside one.
func compareUpdates(x, y *HistoryUpdate) int {
	if c := cmp.Compare(x.Kind, y.Kind); c != 0 {
		return c
	}
	if c := cmp.Compare(x.WindowStart.Unix(), y.WindowStart.Unix()); c != 0 {
		return c
	}
	return cmp.Compare(x.Key, y.Key)
}

// sortUpdates returns updates by kind, window start and key, equal ones in
// their order (a stable sort). A commit holds the results of a few
// windows, each already in key order (windows emit their keys sorted), so
// it merges the runs already in order, pairwise: a few passes over the
// updates instead of a full sort (in the order of n log n comparisons only
// when nothing is in order).
func sortUpdates(updates []HistoryUpdate) []*HistoryUpdate {
	n := len(updates)
	order := make([]*HistoryUpdate, n)
	for i := range updates {
		order[i] = &updates[i]
	}
	bounds := []int{0} // where the runs start, then n
	for i := 1; i < n; i++ {
		if compareUpdates(order[i-1], order[i]) > 0 {
			bounds = append(bounds, i)
		}
	}
	bounds = append(bounds, n)
	if len(bounds) <= 2 {
		return order
	}
	buf := make([]*HistoryUpdate, n)
	next := make([]int, 0, len(bounds))
	for len(bounds) > 2 {
		next = next[:0]
		for j := 0; j+1 < len(bounds); j += 2 {
			lo, mid, hi := bounds[j], bounds[j+1], n
			if j+2 < len(bounds) {
				hi = bounds[j+2]
			}
			mergeUpdates(buf[lo:hi], order[lo:mid], order[mid:hi])
			next = append(next, lo)
		}
		next = append(next, n)
		order, buf = buf, order
		bounds, next = next, bounds
	}
	return order
}

// mergeUpdates merges sorted a and b into dst, a's first among equals.
func mergeUpdates(dst, a, b []*HistoryUpdate) {
	i, j, k := 0, 0, 0
	for i < len(a) && j < len(b) {
		if compareUpdates(b[j], a[i]) < 0 {
			dst[k] = b[j]
			j++
		} else {
			dst[k] = a[i]
			i++
		}
		k++
	}
	k += copy(dst[k:], a[i:])
	copy(dst[k:], b[j:])
}
