package state

import (
	"bytes"
	"encoding/binary"
	"math"
	"slices"
	"testing"
	"time"
)

// Records are read back from disk, where a damaged file can put anything:
// decoding must fail cleanly, never panic, and what decodes must encode
// back to the same record.

func FuzzDecodeTotals(f *testing.F) {
	f.Add(appendTotals(nil, &totals{first: 1_700_000_000, last: 1_700_086_340, hits: 1 << 40, bytes: 3, windows: 1440, anomalies: 2}))
	f.Add(appendTotals(nil, &totals{})[:3])
	f.Add([]byte{totalsVersion, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, val []byte) {
		var tot totals
		if err := decodeTotals(val, &tot); err != nil {
			return
		}
		var back totals
		if err := decodeTotals(appendTotals(nil, &tot), &back); err != nil || back != tot {
			t.Fatalf("round trip: %+v, %v; want %+v", back, err, tot)
		}
	})
}

func FuzzSegmentReader(f *testing.F) {
	const start = 1_700_000_040
	enc := func(keys ...string) []byte {
		var w segWriter
		w.start(nil)
		for i, k := range keys {
			w.add(k, uint64(i)<<38, uint64(i*900), i%2 == 1)
		}
		return w.finish()
	}
	f.Add(enc("192.0.2.1", "192.0.2.10", "192.0.2.2", "2001:db8::1"))
	f.Add(enc("a.example")[:6])
	f.Add(enc())
	f.Add([]byte{segmentVersion, 0xff, 0xff, 0x7f, 0, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, val []byte) {
		r := newSegReader(val, start)
		var e segEntry
		var got []segEntry
		for r.next(&e) {
			e.key = slices.Clone(e.key)
			got = append(got, e)
		}
		if r.Err() != nil {
			return
		}
		var w segWriter
		w.start(nil)
		for i, e := range got {
			if i > 0 && bytes.Compare(e.key, got[i-1].key) <= 0 {
				return // not in the order segWriter writes: nothing to compare
			}
			w.add(string(e.key), e.hits, e.bytes, e.anomalous)
		}
		back := newSegReader(w.finish(), start)
		for i := 0; back.next(&e); i++ {
			if i >= len(got) || !bytes.Equal(e.key, got[i].key) || e.hits != got[i].hits || e.bytes != got[i].bytes || e.anomalous != got[i].anomalous || e.start != start {
				t.Fatalf("round trip: entry %d = %+v, want %+v", i, e, got)
			}
		}
		if back.Err() != nil {
			t.Fatalf("round trip: %v", back.Err())
		}
	})
}

func FuzzDecodeCheckpoint(f *testing.F) {
	cp := Checkpoint{Path: "/var/log/a.log", Dev: 1, Ino: 2, Fingerprint: 3, FingerprintLen: 4, Offset: 5, Input: "web", Updated: time.Unix(6, 7)}
	val, _ := appendCheckpoint(nil, &cp)
	f.Add(checkpointKey(nil, &cp), val)
	f.Add(checkpointKey(nil, &cp), val[:10])
	f.Add([]byte("short"), []byte{checkpointVersion})
	f.Fuzz(func(t *testing.T, key, val []byte) {
		c, err := decodeCheckpoint(key, val)
		if err != nil {
			return
		}
		k2 := checkpointKey(nil, &c)
		v2, err := appendCheckpoint(nil, &c)
		if err != nil || !bytes.Equal(k2, key) {
			t.Fatalf("decoded checkpoint %+v does not encode to its key: %v", c, err)
		}
		c2, err := decodeCheckpoint(k2, v2)
		if err != nil || c2 != c {
			t.Fatalf("round trip: %+v, %v; want %+v", c2, err, c)
		}
	})
}

func FuzzDecodeHorizons(f *testing.F) {
	f.Add(appendHorizons(nil, []HorizonUpdate{
		{Key: 1, Last: 1_700_000_040, Values: [HorizonValues]float32{3, 1, 3.5, 1}},
		{Key: 1 << 63, Delete: true},
		{Key: 7, Last: 0, Values: [HorizonValues]float32{0, 0, 1e30, 0}},
	}))
	f.Add(appendHorizons(nil, []HorizonUpdate{
		{Key: 2, Last: 1_700_000_100, Values: [HorizonValues]float32{1, 2, 1, 2, 1, 1.5}, Recent: [HorizonRecent]uint16{9, 1, 0xffff, 0}},
	}))
	// Version 1, of earlier agents: four sums, no recent paths.
	v1 := []byte{horizonV1}
	v1 = binary.BigEndian.AppendUint64(v1, 3)
	v1 = append(v1, 0)
	v1 = binary.BigEndian.AppendUint64(v1, 1_700_000_040)
	for _, x := range []float32{3, 1, 3.5, 1} {
		v1 = binary.BigEndian.AppendUint32(v1, math.Float32bits(x))
	}
	f.Add(append(v1, 0, 0, 0, 0, 0, 0, 0, 4, 1))
	f.Add([]byte{horizonVersion})
	f.Add([]byte{horizonV1})
	f.Add([]byte{horizonVersion, 0, 0, 0, 0, 0, 0, 0, 1, 2})
	f.Fuzz(func(t *testing.T, val []byte) {
		var got []HorizonUpdate
		if err := decodeHorizons(val, func(u *HorizonUpdate) { got = append(got, *u) }); err != nil {
			if len(got) != 0 {
				t.Fatalf("a damaged record applied %d updates", len(got))
			}
			return
		}
		back := appendHorizons(nil, got)
		if val[0] == horizonVersion && !bytes.Equal(back, val) {
			t.Fatalf("round trip: %x, want %x", back, val)
		}
		// A version 1 record is written again as version 2: it must read
		// back as the same updates (the new sums 0, no recent path).
		var again []HorizonUpdate
		if err := decodeHorizons(back, func(u *HorizonUpdate) { again = append(again, *u) }); err != nil || !bytes.Equal(appendHorizons(nil, again), back) {
			t.Fatalf("re-encoded %x: %v, %+v; want %+v", back, err, again, got)
		}
		for _, u := range got {
			if val[0] == horizonV1 && (u.Values[4] != 0 || u.Values[5] != 0 || u.Recent != [HorizonRecent]uint16{}) {
				t.Fatalf("version 1 entry %+v: new sums or recent paths", u)
			}
		}
	})
}
