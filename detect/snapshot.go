package detect

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/socx/sharkfin/record"
)

// snapshotVersion is the first byte of an aggregator snapshot.
const snapshotVersion = 2

// ErrBadSnapshot is returned for snapshots that cannot be decoded.
var ErrBadSnapshot = errors.New("bad aggregator snapshot")

// MarshalBinary encodes the aggregator's open windows, watermark, horizon
// and counters so that an agent restarted after a crash resumes with
// exactly the counts it had committed. The encoding is deterministic.
func (a *Aggregator) MarshalBinary() ([]byte, error) {
	b := []byte{snapshotVersion}
	b = binary.AppendVarint(b, a.width)
	b = binary.AppendVarint(b, a.watermark)
	b = binary.AppendVarint(b, a.horizon)
	for _, v := range []int64{a.stats.Lines, a.stats.Late, a.stats.Overflowed, a.stats.Windows, a.stats.KeyWindows} {
		b = binary.AppendVarint(b, v)
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
		if w.closing {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
		keys := make([]string, 0, len(w.keys))
		for k := range w.keys {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = binary.AppendUvarint(b, uint64(len(keys)))
		for _, k := range keys {
			b = binary.AppendUvarint(b, uint64(len(k)))
			b = append(b, k...)
			b = w.keys[k].appendBinary(b)
		}
		if w.overflow != nil {
			b = append(b, 1)
			b = w.overflow.appendBinary(b)
		} else {
			b = append(b, 0)
		}
	}
	return b, nil
}

func (acc *accum) appendBinary(b []byte) []byte {
	e := acc.ext()
	for _, v := range [...]int64{acc.hits, acc.s2xx, acc.s3xx, acc.s4xx, acc.s5xx, acc.bytes, acc.post,
		e.denied, e.connect, e.qnameLenSum, e.maxQNameLen, e.txtAny, int64(e.maxSubdomains)} {
		b = binary.AppendVarint(b, v)
	}
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(e.maxEntropy))
	b = appendSet(b, &acc.distinct)
	b = appendSet(b, &e.ipDest)
	b = binary.AppendUvarint(b, uint64(len(e.perDomain)))
	ks := make([]uint64, 0, len(e.perDomain))
	for k := range e.perDomain {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	for _, k := range ks {
		b = binary.LittleEndian.AppendUint64(b, k)
		b = binary.AppendVarint(b, int64(e.perDomain[k]))
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

// decoder reads a snapshot, remembering the first error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = ErrBadSnapshot
	}
	d.b = nil
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) uvarint(limit uint64) uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 || v > limit {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) u64() uint64 {
	if len(d.b) < 8 {
		d.fail()
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *decoder) bytes(n uint64) []byte {
	if uint64(len(d.b)) < n {
		d.fail()
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

// UnmarshalBinary replaces the aggregator's state with a snapshot made by
// MarshalBinary of an aggregator with the same window length.
func (a *Aggregator) UnmarshalBinary(data []byte) error {
	if len(data) == 0 || data[0] != snapshotVersion {
		return fmt.Errorf("%w: unknown version", ErrBadSnapshot)
	}
	d := &decoder{b: data[1:]}
	if w := d.varint(); d.err == nil && w != a.width {
		return fmt.Errorf("%w: window %v differs from configured %v", ErrBadSnapshot, w, a.width)
	}
	wm, hz := d.varint(), d.varint()
	var st AggregatorStats
	st.Lines, st.Late, st.Overflowed, st.Windows, st.KeyWindows = d.varint(), d.varint(), d.varint(), d.varint(), d.varint()
	limit := uint64(len(data))
	windows := make(map[int64]*Window)
	nw := d.uvarint(limit)
	for range nw {
		if d.err != nil {
			break
		}
		w := &Window{Start: d.varint(), keys: map[string]*accum{}}
		w.End = w.Start + a.width
		w.Lines, w.Overflowed = d.varint(), d.varint()
		if flag := d.bytes(1); d.err == nil && flag[0] == 1 {
			w.closing = true
		}
		nk := d.uvarint(limit)
		for range nk {
			if d.err != nil {
				break
			}
			k := string(d.bytes(d.uvarint(limit)))
			w.keys[k] = d.accum(limit, a.cfg.Kind == record.KindWeb)
		}
		if flag := d.bytes(1); d.err == nil && flag[0] == 1 {
			w.overflow = d.accum(limit, a.cfg.Kind == record.KindWeb)
		}
		windows[w.Start] = w
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail()
	}
	if d.err != nil {
		return fmt.Errorf("%w: truncated or corrupt", d.err)
	}
	a.windows, a.watermark, a.horizon, a.stats = windows, wm, hz, st
	a.nextClose, a.closing = maxInt64, false
	for _, w := range windows {
		if w.closing {
			a.closing = true
		} else if c := w.End + a.lateness; c < a.nextClose {
			a.nextClose = c
		}
	}
	return nil
}

func (d *decoder) accum(limit uint64, web bool) *accum {
	acc := &accum{}
	e := &accExt{}
	var vs [13]int64
	for i := range vs {
		vs[i] = d.varint()
	}
	acc.hits, acc.s2xx, acc.s3xx, acc.s4xx, acc.s5xx, acc.bytes, acc.post = vs[0], vs[1], vs[2], vs[3], vs[4], vs[5], vs[6]
	e.denied, e.connect, e.qnameLenSum, e.maxQNameLen, e.txtAny = vs[7], vs[8], vs[9], vs[10], vs[11]
	e.maxSubdomains = int32(vs[12])
	e.maxEntropy = math.Float64frombits(d.u64())
	for _, s := range []*u64set{&acc.distinct, &e.ipDest} {
		n := d.uvarint(limit / 8)
		for range n {
			s.Add(d.u64())
		}
	}
	if n := d.uvarint(limit / 9); n > 0 {
		e.perDomain = make(map[uint64]int32, n)
		for range n {
			k := d.u64()
			e.perDomain[k] = int32(d.varint())
		}
	}
	if !web {
		acc.accExt = e
	}
	return acc
}
