package config

import (
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestDuration_UnmarshalText(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		err  string // part of the error; "" for none
	}{
		{"60s", 60 * time.Second, ""},
		{"24h", 24 * time.Hour, ""},
		{"250ms", 250 * time.Millisecond, ""},
		{"1h30m", 90 * time.Minute, ""},
		{"7d", 7 * 24 * time.Hour, ""},
		{"1d12h", 36 * time.Hour, ""},
		{"0", 0, ""},
		{"0s", 0, ""},
		{" 5s ", 5 * time.Second, ""},
		{"60", 0, `"60s"`},
		{"1.5", 0, "no unit"},
		{"-5s", 0, "negative"},
		{"-1d", 0, "negative"},
		{"", 0, "empty"},
		{"5 seconds", 0, "not a duration"},
		{"1.5d", 0, "whole days"},
		{"d", 0, "not a duration"},
	} {
		var d Duration
		err := d.UnmarshalText([]byte(tc.in))
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%q: %v", tc.in, err)
		case tc.err == "" && d.Std() != tc.want:
			t.Errorf("%q = %v, want %v", tc.in, d.Std(), tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: error %v, want one with %q", tc.in, err, tc.err)
		}
	}
}

func TestDuration_String(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", 60 * time.Second: "1m", 24 * time.Hour: "24h", 90 * time.Second: "90s",
		250 * time.Millisecond: "250ms", 1500 * time.Millisecond: "1.5s",
	} {
		if got := Duration(d).String(); got != want {
			t.Errorf("%v: %q, want %q", d, got, want)
		}
		var back Duration
		if err := back.UnmarshalText([]byte(Duration(d).String())); err != nil || back.Std() != d {
			t.Errorf("%v: round trip gave %v, %v", d, back.Std(), err)
		}
	}
}

func TestByteSize_UnmarshalText(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ByteSize
		err  string
	}{
		{"256MiB", 256 << 20, ""},
		{"1GiB", 1 << 30, ""},
		{"512KB", 512_000, ""},
		{"512kb", 512_000, ""},
		{"1048576", 1 << 20, ""},
		{"0", 0, ""},
		{"1.5GiB", 3 << 29, ""},
		{"10 MiB", 10 << 20, ""},
		{"2TB", 2e12, ""},
		{"100B", 100, ""},
		{"12XB", 0, "unknown unit"},
		{"MiB", 0, "not a size"},
		{"-1", 0, "negative"},
		{"-1MiB", 0, "negative"},
		{"", 0, "empty"},
		{"1.2.3MiB", 0, "not a size"},
		{"99999999TiB", 0, "too large"},
	} {
		var b ByteSize
		err := b.UnmarshalText([]byte(tc.in))
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%q: %v", tc.in, err)
		case tc.err == "" && b != tc.want:
			t.Errorf("%q = %d, want %d", tc.in, b, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: error %v, want one with %q", tc.in, err, tc.err)
		}
	}
}

func TestByteSize_String(t *testing.T) {
	for b, want := range map[ByteSize]string{0: "0", 256 * MiB: "256MiB", GiB: "1GiB", 1000: "1000", 3 * KiB: "3KiB"} {
		if got := b.String(); got != want {
			t.Errorf("%d: %q, want %q", b, got, want)
		}
	}
}

func TestTimezone_UnmarshalText(t *testing.T) {
	var z Timezone
	if err := z.UnmarshalText([]byte("UTC")); err != nil || z.Location() != time.UTC {
		t.Errorf("UTC: %v, %v", z.Location(), err)
	}
	if err := z.UnmarshalText([]byte("")); err != nil || z.Location() != time.Local {
		t.Errorf("empty: %v, %v; want local", z.Location(), err)
	}
	if err := z.UnmarshalText([]byte("../../etc/passwd")); err == nil {
		t.Error("a path was accepted as a time zone")
	}
}

func TestFormat_UnmarshalText(t *testing.T) {
	for _, name := range []string{"squid", "common", "combined", "bind"} {
		var f Format
		if err := f.UnmarshalText([]byte(name)); err != nil || f.String() != name {
			t.Errorf("%s: %v, %v", name, f, err)
		}
	}
	for _, name := range []string{"auto", "unknown", "", "Combined"} {
		var f Format
		if err := f.UnmarshalText([]byte(name)); err == nil {
			t.Errorf("%q accepted", name)
		}
	}
}

func TestLogLevel_Level(t *testing.T) {
	for l, want := range map[LogLevel]slog.Level{LogDebug: slog.LevelDebug, LogInfo: slog.LevelInfo, LogWarn: slog.LevelWarn, LogError: slog.LevelError, "": slog.LevelInfo} {
		if got := l.Level(); got != want {
			t.Errorf("%q: %v, want %v", l, got, want)
		}
	}
}
