package format

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestDaysFromCivil_MatchesTimePackage(t *testing.T) {
	for d := time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC); d.Year() < 2200; d = d.AddDate(0, 0, 1) {
		if got, want := daysFromCivil(d.Year(), int(d.Month()), d.Day()), d.Unix()/86400; got != want {
			t.Fatalf("daysFromCivil(%v) = %d, want %d", d.Format("2006-01-02"), got, want)
		}
	}
	if got := int64(maxUnix); got != time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC).Unix() {
		t.Fatalf("maxUnix = %d is not 2200-01-01", got)
	}
}

// randomInstant returns a pseudo-random instant in [1970, 2200) and a zone
// with a random offset within ±23:59.
func randomInstant(rng *rand.Rand) (time.Time, *time.Location) {
	sec := rng.Int64N(maxUnix)
	off := (rng.IntN(2*24*60-1) - (24*60 - 1)) * 60
	return time.Unix(sec, int64(rng.IntN(1e9))), time.FixedZone("Z", off)
}

func TestParseCLFTime_MatchesTimeParse(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const layout = "02/Jan/2006:15:04:05 -0700"
	for range 20000 {
		tm, zone := randomInstant(rng)
		s := tm.In(zone).Format(layout)
		got, ok := parseCLFTime([]byte(s))
		want := tm.Truncate(time.Second)
		if sec := want.Unix(); sec < 0 || sec >= maxUnix || want.In(zone).Year() >= 2200 || want.In(zone).Year() < 1970 {
			if ok {
				t.Fatalf("parseCLFTime(%q) accepted an instant outside the range", s)
			}
			continue
		}
		if !ok || got != want.UnixNano() {
			t.Fatalf("parseCLFTime(%q) = %d, %v; want %d", s, got, ok, want.UnixNano())
		}
	}
}

func TestParseBindTime_MatchesTimeParse(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	locs := []*time.Location{time.UTC, time.FixedZone("E", 9*3600), time.FixedZone("W", -7*3600-1800)}
	if ny, err := time.LoadLocation("America/New_York"); err == nil {
		locs = append(locs, ny)
	}
	for range 20000 {
		tm, _ := randomInstant(rng)
		loc := locs[rng.IntN(len(locs))]
		tm = tm.In(loc).Truncate(time.Millisecond)
		if y := tm.Year(); y < 1970 || y >= 2200 || tm.Unix() >= maxUnix {
			continue
		}
		layout := "02-Jan-2006 15:04:05.000"
		if rng.IntN(2) == 0 {
			layout = "2-Jan-2006 15:04:05.000"
		}
		s := tm.Format(layout)
		var c civil
		date, clk := s[:len(s)-13], s[len(s)-12:]
		if !parseBindDate([]byte(date), &c) || !parseClockFrac([]byte(clk), &c) || !c.valid() {
			t.Fatalf("rejected %q", s)
		}
		got, ok := c.unixNano(loc)
		want, err := time.ParseInLocation(layout, s, loc)
		if err != nil {
			t.Fatal(err)
		}
		if !ok || got != want.UnixNano() {
			t.Fatalf("%q in %v = %d, %v; want %d", s, loc, got, ok, want.UnixNano())
		}
	}
}

func TestParseEpoch(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1294011828.214", 1294011828214000000, true},
		{"1294011828", 1294011828000000000, true},
		{"1294011828.5", 1294011828500000000, true},
		{"1294011828.123456789", 1294011828123456789, true},
		{"0.000", 0, true},
		{"7258118399.999", 7258118399999000000, true},
		{"7258118400.000", 0, false},
		{"12940118280.214", 0, false},
		{"1294011828.", 0, false},
		{"1294011828.1234567890", 0, false},
		{".214", 0, false},
		{"-1294011828.214", 0, false},
		{"1294011828,214", 0, false},
		{"1294011828.21x", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseEpoch([]byte(tt.in))
		if ok != tt.ok || got != tt.want {
			t.Errorf("parseEpoch(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseCLFTime_Rejects(t *testing.T) {
	for _, s := range []string{
		"", "17/May/2015:10:05:03", "17/May/2015:10:05:03 +000", "17/May/2015:10:05:03 +00000",
		"17/May/2015:10:05:03 0000", "17/May/2015:10:05:03 +2400", "17/May/2015:10:05:03 +0060",
		"7/May/2015:10:05:03 +0000 ", "17-May-2015:10:05:03 +0000", "17/May/2015 10:05:03 +0000",
		"00/May/2015:10:05:03 +0000", "31/Apr/2015:10:05:03 +0000", "29/Feb/2015:10:05:03 +0000",
		"17/May/2015:10:60:03 +0000", "17/May/2015:10:05:61 +0000", "17/May/1969:10:05:03 +0000",
		"17/May/2200:10:05:03 +0000", "17/Mai/2015:10:05:03 +0000", "17/May/20x5:10:05:03 +0000",
		"1x/May/2015:10:05:03 +0000", "17/May/2015:1x:05:03 +0000",
	} {
		if _, ok := parseCLFTime([]byte(s)); ok {
			t.Errorf("parseCLFTime(%q) accepted", s)
		}
	}
	// Case-insensitive months and the ±hh:mm offset form are accepted.
	for _, s := range []string{"17/MAY/2015:10:05:03 +0000", "17/may/2015:10:05:03 +0000"} {
		if got, ok := parseCLFTime([]byte(s)); !ok || got != time.Date(2015, 5, 17, 10, 5, 3, 0, time.UTC).UnixNano() {
			t.Errorf("parseCLFTime(%q) = %d, %v", s, got, ok)
		}
	}
}

func TestParseISOTime(t *testing.T) {
	est := time.FixedZone("EST", -5*3600)
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2022-07-07T16:34:01.123Z", time.Date(2022, 7, 7, 16, 34, 1, 123e6, time.UTC), true},
		{"2022-07-07T16:34:01Z", time.Date(2022, 7, 7, 16, 34, 1, 0, time.UTC), true},
		{"2022-07-07T16:34:01.123", time.Date(2022, 7, 7, 16, 34, 1, 123e6, est), true},
		{"2022-07-07T16:34:01.123+02:00", time.Date(2022, 7, 7, 14, 34, 1, 123e6, time.UTC), true},
		{"2022-07-07T16:34:01.123-0130", time.Date(2022, 7, 7, 18, 4, 1, 123e6, time.UTC), true},
		{"2022-07-07t16:34:01z", time.Date(2022, 7, 7, 16, 34, 1, 0, time.UTC), true},
		{"2022-07-07 16:34:01Z", time.Time{}, false},
		{"2022-02-30T16:34:01Z", time.Time{}, false},
		{"2022-07-07T16:34:01.Z", time.Time{}, false},
		{"2022-07-07T16:34:01+2", time.Time{}, false},
		{"2022-07-07T16:34:01ZZ", time.Time{}, false},
		{"1969-12-31T23:59:59Z", time.Time{}, false},
		{"1970-01-01T00:30:00+01:00", time.Time{}, false},
	}
	for _, tt := range tests {
		got, ok := parseISOTime([]byte(tt.in), est)
		if ok != tt.ok || (ok && got != tt.want.UnixNano()) {
			t.Errorf("parseISOTime(%q) = %v, %v; want %v, %v", tt.in, time.Unix(0, got).UTC(), ok, tt.want.UTC(), tt.ok)
		}
	}
}
