package codec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"testing"
)

func TestReader_ReadsWhatBinaryWrites(t *testing.T) {
	var b []byte
	b = binary.AppendUvarint(b, 300)
	b = binary.AppendVarint(b, -7)
	b = binary.AppendVarint(b, math.MinInt64)
	b = binary.LittleEndian.AppendUint64(b, 0x0102030405060708)
	b = binary.AppendUvarint(b, 3)
	b = append(b, "abc"...)
	b = append(b, "xy"...)
	r := NewReader(b, nil)
	if v := r.Uvarint(); v != 300 {
		t.Errorf("Uvarint = %d", v)
	}
	if v := r.Varint(); v != -7 {
		t.Errorf("Varint = %d", v)
	}
	if v := r.Varint(); v != math.MinInt64 {
		t.Errorf("Varint = %d", v)
	}
	if v := r.Uint64(); v != 0x0102030405060708 {
		t.Errorf("Uint64 = %#x", v)
	}
	if v := r.Bytes(); string(v) != "abc" || cap(v) != 3 {
		t.Errorf("Bytes = %q (cap %d)", v, cap(v))
	}
	if r.Len() != 2 {
		t.Errorf("Len = %d, want 2", r.Len())
	}
	if v := r.Next(2); string(v) != "xy" || r.Err() != nil || r.Len() != 0 {
		t.Errorf("Next = %q, err %v, len %d", v, r.Err(), r.Len())
	}
}

func TestReader_FirstErrorSticks(t *testing.T) {
	bad := errors.New("bad record")
	overlong := bytes.Repeat([]byte{0xff}, 11)
	cases := []struct {
		name string
		data []byte
		read func(r *Reader)
	}{
		{"uvarint of nothing", nil, func(r *Reader) { r.Uvarint() }},
		{"uvarint over limit", []byte{5}, func(r *Reader) { r.UvarintMax(4) }},
		{"uint64 of 7 bytes", make([]byte, 7), func(r *Reader) { r.Uint64() }},
		{"bytes past the end", []byte{5, 1, 2, 3}, func(r *Reader) { r.Bytes() }},
		{"next past the end", []byte{1, 2}, func(r *Reader) { r.Next(3) }},
		{"overlong uvarint", overlong, func(r *Reader) { r.Uvarint() }},
		{"overlong varint", overlong, func(r *Reader) { r.Varint() }},
		{"explicit Fail", []byte{1, 2}, func(r *Reader) { r.Fail() }},
	}
	for _, c := range cases {
		name, read := c.name, c.read
		r := NewReader(c.data, bad)
		read(&r)
		if !errors.Is(r.Err(), bad) {
			t.Errorf("%s: Err = %v, want %v", name, r.Err(), bad)
		}
		// Every later read is zero, and the error stays.
		if r.Uvarint() != 0 || r.Varint() != 0 || r.Uint64() != 0 || r.Bytes() != nil || r.Next(0) != nil {
			t.Errorf("%s: a read after the error returned data", name)
		}
		if r.Len() != 0 || !errors.Is(r.Err(), bad) {
			t.Errorf("%s: after more reads Len = %d, Err = %v", name, r.Len(), r.Err())
		}
	}
	var zero Reader
	zero.Uvarint()
	if !errors.Is(zero.Err(), ErrShort) {
		t.Errorf("zero Reader: Err = %v, want ErrShort", zero.Err())
	}
}

// FuzzReader reads arbitrary data with arbitrary calls: no panic, the
// data only shrinks, and once failed a Reader stays failed and empty.
func FuzzReader(f *testing.F) {
	f.Add([]byte{1, 2, 3}, []byte{0, 1, 2, 3, 4, 5})
	f.Add(binary.AppendUvarint(nil, 1<<40), []byte{5, 5, 0})
	f.Fuzz(func(t *testing.T, data, ops []byte) {
		r := NewReader(data, nil)
		for _, op := range ops {
			before, failed := r.Len(), r.Err() != nil
			switch op % 6 {
			case 0:
				r.Uvarint()
			case 1:
				r.UvarintMax(uint64(op))
			case 2:
				r.Varint()
			case 3:
				r.Uint64()
			case 4:
				r.Bytes()
			case 5:
				r.Next(uint64(op / 6))
			}
			if r.Len() > before {
				t.Fatalf("Len grew from %d to %d", before, r.Len())
			}
			if failed && (r.Err() == nil || r.Len() != 0) {
				t.Fatalf("a failed Reader recovered: err %v, len %d", r.Err(), r.Len())
			}
		}
	})
}
