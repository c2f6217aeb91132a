package detect

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/socx/sharkfin/internal/codec"
	"github.com/socx/sharkfin/record"
)

// Snapshot versions (the first byte). Versions 2 and 3 are still read:
// version 2's accumulators carry every kind's fields; version 3's DNS
// clients lack the registrable-domain fields (they restore as 0, and a
// domain's queries as its distinct names). A destination aggregator's
// snapshots (WindowConfig.ByDest) have a version of their own, so that
// neither kind of aggregator takes the other's.
const (
	snapshotV2      = 2
	snapshotV3      = 3
	snapshotV4      = 4
	snapshotV5      = 5 // version 4 and the allowlisted lines of a key (read as 0 from older)
	snapshotV6      = 6 // version 5 and a web key's rare-path counts (read as 0 from older)
	snapshotVersion = 7 // version 6 and, after a web key's rare errors if it has any, their paths (errOther, errPaths; from older, every rare error is in errOther)
	snapshotDest    = 0x41
)

// version is the first byte of a's snapshots.
func (a *Aggregator) version() byte {
	if a.cfg.ByDest {
		return snapshotDest
	}
	return snapshotVersion
}

// Window flags in a snapshot.
const (
	flagClosing = 1
	flagFrozen  = 2
)

// ErrBadSnapshot is returned for snapshots that cannot be decoded.
var ErrBadSnapshot = errors.New("bad aggregator snapshot")

// Snapshot is the aggregator's state split for the agent's commits. Main
// is rewritten by every commit; the keys of a closing window, which takes
// no more lines, are stored once, apart, and Main only records how far its
// close has got. Closing a flood's window of 100,000 keys a few thousand
// keys per commit then writes each key once instead of rewriting every
// key still to emit at every commit.
type Snapshot struct {
	Main []byte
	// Frozen holds, by window start, the keys of windows that began
	// closing since the previous Snapshot (store them with Main).
	Frozen map[int64][]byte
	// Drop lists the starts of frozen windows that have finished closing
	// (or are unknown, after Restore): their stored keys can go.
	Drop []int64
}

// Snapshot returns the state to commit and marks closing windows frozen:
// from now on Main refers to their keys in Frozen (or in an earlier
// Snapshot's Frozen), which the caller must store in the same transaction
// as Main. Restore reads them back.
func (a *Aggregator) Snapshot() Snapshot {
	var s Snapshot
	for start, w := range a.windows {
		if !w.closing || w.frozen {
			continue
		}
		a.sortOrder(w)
		w.order, w.next, w.frozen = w.order[w.next:], 0, true
		if s.Frozen == nil {
			s.Frozen = make(map[int64][]byte)
		}
		b := []byte{a.version()}
		b = binary.AppendVarint(b, start)
		s.Frozen[start] = a.appendKeys(b, w, w.order)
	}
	s.Main = a.appendMain(nil, false)
	s.Drop, a.dropped = a.dropped, nil
	return s
}

// sortOrder sets w.order (once) to w's keys in emit order.
func (a *Aggregator) sortOrder(w *Window) {
	if w.order != nil {
		return
	}
	w.order = w.keys.keyOrder(make([]int32, 0, w.keys.Len()), &a.ranks)
	w.next = 0
}

// MarshalBinary encodes the aggregator's open windows, watermark, horizon
// and counters in one self-contained snapshot (frozen windows' keys
// included) so that an aggregator restored from it resumes with exactly
// these counts. The encoding is deterministic.
func (a *Aggregator) MarshalBinary() ([]byte, error) {
	return a.appendMain(nil, true), nil
}

// appendMain encodes the aggregator; frozen windows refer to their stored
// keys unless inline is set.
func (a *Aggregator) appendMain(b []byte, inline bool) []byte {
	b = append(b, a.version())
	b = binary.AppendVarint(b, a.width)
	b = binary.AppendVarint(b, a.watermark)
	b = binary.AppendVarint(b, a.horizon)
	for _, v := range []int64{a.stats.Lines, a.stats.Late, a.stats.Overflowed, a.stats.Windows, a.stats.KeyWindows} {
		b = binary.AppendVarint(b, v)
	}
	if a.cfg.ByDest {
		b = binary.AppendVarint(b, a.stats.NoDest)
	}
	starts := make([]int64, 0, len(a.windows))
	for s := range a.windows {
		starts = append(starts, s)
	}
	slices.Sort(starts)
	b = binary.AppendUvarint(b, uint64(len(starts)))
	for _, s := range starts {
		w := a.windows[s]
		b = binary.AppendVarint(b, w.Start)
		b = binary.AppendVarint(b, w.Lines)
		b = binary.AppendVarint(b, w.Overflowed)
		var flags byte
		if w.closing {
			flags |= flagClosing
		}
		if w.frozen && !inline {
			flags |= flagFrozen
		}
		b = append(b, flags)
		switch {
		case flags&flagFrozen != 0:
			b = binary.AppendUvarint(b, uint64(w.next))
		case w.order != nil: // closing: what is left, in order
			b = a.appendKeys(b, w, w.order[w.next:])
		default:
			b = a.appendKeys(b, w, w.keys.keyOrder(nil, &a.ranks))
		}
		if w.overflow != nil {
			b = append(b, 1)
			b = w.overflow.appendBinary(b, a.cfg.Kind, a.cfg.ByDest)
		} else {
			b = append(b, 0)
		}
	}
	return b
}

// appendKeys encodes keys of w with their accumulators.
func (a *Aggregator) appendKeys(b []byte, w *Window, keys []int32) []byte {
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, i := range keys {
		e := &w.keys.entries[i]
		b = binary.AppendUvarint(b, uint64(len(e.key)))
		b = append(b, e.key...)
		b = e.acc.appendBinary(b, a.cfg.Kind, a.cfg.ByDest)
	}
	return b
}

// appendBinary encodes acc: web keys their counters and distinct paths
// only, proxy and DNS keys everything.
func (acc *accum) appendBinary(b []byte, kind record.Kind, dest bool) []byte {
	for _, v := range [...]int64{acc.hits, int64(acc.s2xx), int64(acc.s3xx), int64(acc.s4xx), int64(acc.s5xx), acc.bytes, int64(acc.post)} {
		b = binary.AppendVarint(b, v)
	}
	if !dest {
		b = binary.AppendUvarint(b, uint64(acc.allowed))
	}
	if kind == record.KindWeb {
		b = binary.AppendUvarint(b, uint64(acc.rare))
		b = binary.AppendUvarint(b, uint64(acc.rareErr))
		if acc.rareErr > 0 { // most keys have none: no bytes for their paths
			b = binary.AppendUvarint(b, uint64(acc.errOther))
			for _, p := range acc.errPaths {
				b = binary.AppendUvarint(b, uint64(p))
			}
		}
		return appendSet(b, &acc.distinct)
	}
	b = acc.appendExt(b)
	if dest {
		b = acc.appendDest(b)
	}
	return b
}

// appendDest encodes a destination's own fields.
func (acc *accum) appendDest(b []byte) []byte {
	d := acc.ext().dest
	if d == nil {
		d = &destExt{}
	}
	b = appendSet(b, &d.hosts)
	for _, list := range [...][]string{d.clients[:d.nc], d.users[:d.nu], d.names[:d.nn]} {
		b = binary.AppendUvarint(b, uint64(len(list)))
		for _, x := range list {
			b = binary.AppendUvarint(b, uint64(len(x)))
			b = append(b, x...)
		}
	}
	var ip byte
	if d.isIP {
		ip = 1
	}
	b = append(b, ip)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(d.subEntropySum))
	return binary.AppendVarint(b, d.maxNameLen)
}

// appendExt encodes the fields past the common counters (all of version 2).
func (acc *accum) appendExt(b []byte) []byte {
	e := acc.ext()
	for _, v := range [...]int64{e.denied, e.connect, e.qnameLenSum, e.maxQNameLen, e.txtAny, int64(e.maxSubdomains), e.maxRegLen, e.randomDomains} {
		b = binary.AppendVarint(b, v)
	}
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(e.maxEntropy))
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(e.maxRegEntropy))
	b = appendSet(b, &acc.distinct)
	b = appendSet(b, &e.ipDest)
	b = binary.AppendUvarint(b, uint64(len(e.perDomain)))
	ks := make([]uint64, 0, len(e.perDomain))
	for k := range e.perDomain {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	for _, k := range ks {
		st := e.perDomain[k]
		b = binary.LittleEndian.AppendUint64(b, k)
		b = binary.AppendVarint(b, int64(st.names))
		b = binary.AppendVarint(b, int64(st.queries))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(st.entropy))
	}
	return b
}

func appendSet(b []byte, s *u64set) []byte {
	b = binary.AppendUvarint(b, uint64(s.Len()))
	hs := make([]uint64, 0, s.Len())
	s.Each(func(h uint64) { hs = append(hs, h) })
	slices.Sort(hs)
	for _, h := range hs {
		b = binary.LittleEndian.AppendUint64(b, h)
	}
	return b
}

// decoder reads a snapshot, remembering the first error (ErrBadSnapshot).
type decoder struct{ codec.Reader }

// UnmarshalBinary replaces the aggregator's state with a snapshot made by
// MarshalBinary (or the Main of a Snapshot without frozen windows) of an
// aggregator with the same window length.
func (a *Aggregator) UnmarshalBinary(data []byte) error {
	return a.Restore(data, nil)
}

// Restore replaces the aggregator's state with a Snapshot's Main and the
// frozen windows' keys stored from it (by window start). Stored keys of no
// window in main are put in the next Snapshot's Drop. On error the
// aggregator is unchanged.
func (a *Aggregator) Restore(main []byte, frozen map[int64][]byte) error {
	if len(main) == 0 {
		return fmt.Errorf("%w: empty", ErrBadSnapshot)
	}
	ver := main[0]
	switch {
	case a.cfg.ByDest && ver == snapshotDest:
	case !a.cfg.ByDest && (ver == snapshotVersion || ver == snapshotV6 || ver == snapshotV5 || ver == snapshotV4 || ver == snapshotV3 || ver == snapshotV2):
	default:
		return fmt.Errorf("%w: unknown version %d", ErrBadSnapshot, ver)
	}
	v2 := ver == snapshotV2
	d := &decoder{codec.NewReader(main[1:], ErrBadSnapshot)}
	if w := d.Varint(); d.Err() == nil && w != a.width {
		return fmt.Errorf("%w: window %v differs from configured %v", ErrBadSnapshot, w, a.width)
	}
	wm, hz := d.Varint(), d.Varint()
	var st AggregatorStats
	st.Lines, st.Late, st.Overflowed, st.Windows, st.KeyWindows = d.Varint(), d.Varint(), d.Varint(), d.Varint(), d.Varint()
	if ver == snapshotDest {
		st.NoDest = d.Varint()
	}
	limit := uint64(len(main))
	windows := make(map[int64]*Window)
	used := map[int64]bool{}
	nw := d.UvarintMax(limit)
	for range nw {
		if d.Err() != nil {
			break
		}
		w := &Window{Start: d.Varint()}
		w.End = w.Start + a.width
		w.Lines, w.Overflowed = d.Varint(), d.Varint()
		var flags byte
		if f := d.Next(1); d.Err() == nil {
			flags = f[0]
		}
		if v2 && flags > flagClosing || flags > flagClosing|flagFrozen || flags == flagFrozen {
			d.Fail()
			break
		}
		w.closing = flags&flagClosing != 0
		if flags&flagFrozen != 0 {
			next := d.UvarintMax(limit)
			blob, ok := frozen[w.Start]
			if d.Err() == nil && !ok {
				return fmt.Errorf("%w: the stored keys of closing window %d are missing", ErrBadSnapshot, w.Start)
			}
			if err := a.restoreFrozen(w, blob, next, ver); err != nil {
				return err
			}
			used[w.Start] = true
		} else {
			a.decodeKeys(d, w, limit, ver, nil)
		}
		if flag := d.Next(1); d.Err() == nil && flag[0] == 1 {
			w.overflow = d.accum(limit, a.cfg.Kind, ver)
		}
		if _, dup := windows[w.Start]; dup {
			d.Fail()
		}
		windows[w.Start] = w
	}
	if d.Err() == nil && d.Len() != 0 {
		d.Fail()
	}
	if d.Err() != nil {
		return fmt.Errorf("%w: truncated or corrupt", d.Err())
	}
	// A watermark or horizon past the clock's limit (a line from the
	// future, stored by a release that counted it, or a clock set back
	// since): the windows past the limit are dropped, as their lines would
	// be now (Stats.Future), and the watermark falls back to the windows
	// left, so that the lines of the present are not all late. A horizon
	// past it (the future windows were closed too) is not known for the
	// windows before them: it goes, so that no line is refused as late for
	// it (a line of an already closed window then makes a second event of
	// that window, with the same event id).
	if lim := a.cfg.Now().UnixNano() + int64(a.cfg.MaxFuture); wm > lim || hz > lim {
		if hz > lim {
			hz = 0
		}
		wm = hz
		for s, w := range windows {
			if s > lim {
				st.Future += w.Lines
				delete(windows, s)
				used[s] = false // its stored keys, if any, go
				continue
			}
			wm = max(wm, w.Start)
		}
	}
	a.windows, a.watermark, a.horizon, a.stats = windows, wm, hz, st
	a.future = 0
	a.last = nil
	a.nextClose, a.closing = maxInt64, false
	a.dropped = a.dropped[:0]
	for s := range frozen {
		if !used[s] {
			a.dropped = append(a.dropped, s)
		}
	}
	slices.Sort(a.dropped)
	for _, w := range windows {
		if w.closing {
			a.closing = true
		} else if c := w.End + a.lateness; c < a.nextClose {
			a.nextClose = c
		}
	}
	return nil
}

// restoreFrozen decodes the stored keys of a frozen window, of which the
// first next are emitted.
func (a *Aggregator) restoreFrozen(w *Window, blob []byte, next uint64, ver byte) error {
	// A closing window's keys are stored once: under a Main written
	// since, by a newer release, they keep the version of the release
	// that began closing it (client snapshots, from version 3 on).
	if len(blob) == 0 || ver == snapshotV2 || (blob[0] != ver && !(!a.cfg.ByDest && blob[0] >= snapshotV3 && blob[0] < ver)) {
		return fmt.Errorf("%w: closing window %d: unknown version", ErrBadSnapshot, w.Start)
	}
	ver = blob[0]
	d := &decoder{codec.NewReader(blob[1:], ErrBadSnapshot)}
	if s := d.Varint(); d.Err() == nil && s != w.Start {
		return fmt.Errorf("%w: closing window %d: keys stored for window %d", ErrBadSnapshot, w.Start, s)
	}
	var order []int32
	a.decodeKeys(d, w, uint64(len(blob)), ver, &order)
	if d.Err() == nil && (d.Len() != 0 || next > uint64(len(order))) {
		d.Fail()
	}
	if d.Err() != nil {
		return fmt.Errorf("%w: closing window %d: truncated or corrupt", d.Err(), w.Start)
	}
	for _, i := range order[:next] { // emitted before the snapshot
		w.keys.take(i)
	}
	w.order, w.next, w.frozen = order, int(next), true
	return nil
}

// decodeKeys reads a key section into w.keys (and, if order is set, the
// keys' indexes in w.keys.entries in stored order).
func (a *Aggregator) decodeKeys(d *decoder, w *Window, limit uint64, ver byte, order *[]int32) {
	nk := d.UvarintMax(limit)
	if order != nil && d.Err() == nil {
		*order = make([]int32, 0, nk)
	}
	prev := ""
	for i := range nk {
		if d.Err() != nil {
			return
		}
		kb := d.Next(d.UvarintMax(limit))
		h := a.keyHash(kb)
		// A frozen window's keys are stored in emit order: sorted, so a
		// key out of order is damage (and so is a duplicate anywhere).
		if w.keys.find(h, kb) != nil || (order != nil && i > 0 && string(kb) <= prev) {
			d.Fail()
			return
		}
		k := string(kb)
		w.keys.add(h, k, d.accum(limit, a.cfg.Kind, ver))
		if order != nil {
			*order = append(*order, int32(len(w.keys.entries)-1))
			prev = k
		}
	}
}

func (d *decoder) accum(limit uint64, kind record.Kind, ver byte) *accum {
	v2, v3 := ver == snapshotV2, ver == snapshotV3
	acc := &accum{}
	var vs [7]int64
	for i := range vs {
		vs[i] = d.Varint()
	}
	acc.hits, acc.bytes = vs[0], vs[5]
	acc.s2xx, acc.s3xx, acc.s4xx, acc.s5xx, acc.post = d.u32(vs[1]), d.u32(vs[2]), d.u32(vs[3]), d.u32(vs[4]), d.u32(vs[6])
	if ver == snapshotVersion || ver == snapshotV6 || ver == snapshotV5 {
		acc.allowed = uint32(min(d.Uvarint(), math.MaxUint32))
	}
	if kind == record.KindWeb && (ver == snapshotVersion || ver == snapshotV6) {
		acc.rare = uint32(min(d.Uvarint(), math.MaxUint32))
		acc.rareErr = uint32(min(d.Uvarint(), math.MaxUint32))
		acc.errOther = uint16(min(acc.rareErr, math.MaxUint16))
	}
	if kind == record.KindWeb && ver == snapshotVersion && acc.rareErr > 0 {
		acc.errOther = uint16(min(d.Uvarint(), math.MaxUint16))
		for i := range acc.errPaths {
			acc.errPaths[i] = uint16(min(d.Uvarint(), math.MaxUint16))
		}
	}
	if kind == record.KindWeb && !v2 {
		d.set(limit, &acc.distinct)
		return acc
	}
	e := &accExt{}
	var xs [8]int64
	nx := len(xs)
	if v2 || v3 {
		nx = 6
	}
	for i := range nx {
		xs[i] = d.Varint()
	}
	e.denied, e.connect, e.qnameLenSum, e.maxQNameLen, e.txtAny = xs[0], xs[1], xs[2], xs[3], xs[4]
	e.maxSubdomains, e.maxRegLen, e.randomDomains = int32(xs[5]), xs[6], xs[7]
	e.maxEntropy = math.Float64frombits(d.Uint64())
	if !v2 && !v3 {
		e.maxRegEntropy = math.Float64frombits(d.Uint64())
	}
	d.set(limit, &acc.distinct)
	d.set(limit, &e.ipDest)
	if n := d.UvarintMax(limit / 9); n > 0 {
		e.perDomain = make(map[uint64]domainStat, n)
		for range n {
			k := d.Uint64()
			st := domainStat{names: int32(d.Varint())}
			st.queries = st.names
			if !v2 && !v3 {
				st.queries = int32(d.Varint())
				st.entropy = math.Float64frombits(d.Uint64())
			}
			e.perDomain[k] = st
		}
		if v2 || v3 {
			// Keyed by a hash this release no longer computes (the
			// destinations' is keyed now: DestKey): kept, the same
			// domains would count twice and as never seen.
			e.perDomain = nil
		}
	}
	if ver == snapshotDest {
		e.dest = d.dest(limit)
	}
	if kind != record.KindWeb {
		acc.accExt = e
	}
	return acc
}

// u32 narrows a decoded counter: negative is damage; beyond 2^32-1 (a
// version 2 count) saturates as counting does.
func (d *decoder) u32(v int64) uint32 {
	if v < 0 {
		d.Fail()
		return 0
	}
	return uint32(min(v, math.MaxUint32))
}

// dest decodes a destination's own fields (appendDest).
func (d *decoder) dest(limit uint64) *destExt {
	x := &destExt{}
	d.set(limit, &x.hosts)
	for _, list := range [...]*[destKeep]string{&x.clients, &x.users, &x.names} {
		n := d.UvarintMax(destKeep)
		for i := range n {
			list[i] = string(d.Next(d.UvarintMax(limit)))
		}
		switch list {
		case &x.clients:
			x.nc = uint8(n)
		case &x.users:
			x.nu = uint8(n)
		default:
			x.nn = uint8(n)
		}
	}
	if f := d.Next(1); d.Err() == nil {
		x.isIP = f[0] == 1
	}
	x.subEntropySum = math.Float64frombits(d.Uint64())
	x.maxNameLen = d.Varint()
	return x
}

func (d *decoder) set(limit uint64, s *u64set) {
	n := d.UvarintMax(limit / 8)
	for range n {
		s.Add(d.Uint64())
	}
}
