package state

import (
	"bytes"
	"reflect"
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

func FuzzDecodeChunk(f *testing.F) {
	const hour = 472_222
	ws := []winRec{
		{start: hour * chunkSpan, hits: 3, bytes: 900},
		{start: hour*chunkSpan + 60, hits: 1 << 40, bytes: 1, anomalous: true},
		{start: hour*chunkSpan + 3599},
	}
	f.Add(appendChunk(nil, ws))
	f.Add(appendChunk(nil, ws)[:5])
	f.Add(appendChunk(nil, nil))
	f.Add([]byte{chunkVersion, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, val []byte) {
		ws, err := decodeChunk(val, hour, nil)
		if err != nil {
			return
		}
		for i, w := range ws {
			if i > 0 && w.start < ws[i-1].start {
				return // not what appendChunk writes: nothing to compare
			}
			if w.start/chunkSpan != hour {
				return
			}
		}
		back, err := decodeChunk(appendChunk(nil, ws), hour, nil)
		if err != nil || !reflect.DeepEqual(back, ws) && len(ws) > 0 {
			t.Fatalf("round trip: %+v, %v; want %+v", back, err, ws)
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
