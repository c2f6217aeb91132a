package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ByteSize is a size in bytes, written as a plain integer (1048576) or a
// number and a unit: B, KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB,
// TiB (powers of 1024). Units are case-insensitive and may follow a space;
// the number may have a fraction ("1.5GiB").
type ByteSize int64

// Units of ByteSize.
const (
	KiB ByteSize = 1 << (10 * (iota + 1))
	MiB
	GiB
	TiB
)

var byteUnits = []struct {
	name string
	size float64
}{
	{"b", 1},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12},
	{"kib", float64(KiB)}, {"mib", float64(MiB)}, {"gib", float64(GiB)}, {"tib", float64(TiB)},
}

// Int returns b as an int (for buffer sizes).
func (b ByteSize) Int() int { return int(b) }

// String writes b in the largest binary unit that divides it ("256MiB"),
// else as a plain number of bytes.
func (b ByteSize) String() string {
	for _, u := range []struct {
		size ByteSize
		name string
	}{{TiB, "TiB"}, {GiB, "GiB"}, {MiB, "MiB"}, {KiB, "KiB"}} {
		if b != 0 && b%u.size == 0 {
			return strconv.FormatInt(int64(b/u.size), 10) + u.name
		}
	}
	return strconv.FormatInt(int64(b), 10)
}

// MarshalText implements encoding.TextMarshaler.
func (b ByteSize) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler; see ParseByteSize.
func (b *ByteSize) UnmarshalText(text []byte) error {
	v, err := ParseByteSize(string(text))
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// ParseByteSize parses the text of a ByteSize. Its errors say what to write
// instead.
func ParseByteSize(s string) (ByteSize, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New(`is empty; use a size such as "256MiB"`)
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n >= 0 {
			return ByteSize(n), nil
		}
	}
	if strings.HasPrefix(s, "-") {
		return 0, fmt.Errorf("%q is negative; use a size such as \"256MiB\"", s)
	}
	i := strings.IndexFunc(s, func(r rune) bool { return !(r >= '0' && r <= '9' || r == '.') })
	if i <= 0 {
		return 0, fmt.Errorf(`%q is not a size; use a number and a unit, e.g. "512KB", "256MiB" or "1GiB"`, s)
	}
	num, unit := s[:i], strings.ToLower(strings.TrimSpace(s[i:]))
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf(`%q is not a size; use a number and a unit, e.g. "512KB", "256MiB" or "1GiB"`, s)
	}
	for _, u := range byteUnits {
		if unit != u.name {
			continue
		}
		v := math.Round(f * u.size)
		if v >= math.MaxInt64 {
			return 0, fmt.Errorf("%q is too large; use at most 8EiB", s)
		}
		return ByteSize(v), nil
	}
	return 0, fmt.Errorf(`%q has an unknown unit %q; use B, KB, MB, GB, KiB, MiB or GiB, e.g. "256MiB"`, s, s[i:])
}
