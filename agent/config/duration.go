package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Duration is a non-negative time.Duration written as Go writes durations
// ("250ms", "60s", "1h30m"), with "d" for whole days in front ("7d",
// "1d12h"). A bare number is refused, except 0, because "60" could mean
// seconds or nanoseconds.
type Duration time.Duration

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// String formats d in its largest whole unit ("24h", "5m", "60s"), or as
// time.Duration does when it has a fraction of a second.
func (d Duration) String() string {
	t := time.Duration(d)
	switch {
	case t == 0:
		return "0s"
	case t%time.Hour == 0:
		return strconv.FormatInt(int64(t/time.Hour), 10) + "h"
	case t%time.Minute == 0:
		return strconv.FormatInt(int64(t/time.Minute), 10) + "m"
	case t%time.Second == 0:
		return strconv.FormatInt(int64(t/time.Second), 10) + "s"
	}
	return t.String()
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler; see ParseDuration.
func (d *Duration) UnmarshalText(text []byte) error {
	v, err := ParseDuration(string(text))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// ParseDuration parses the text of a Duration. Its errors say what to
// write instead.
func ParseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New(`is empty; use a duration such as "60s"`)
	}
	if s == "0" {
		return 0, nil
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return 0, fmt.Errorf(`%q has no unit; use e.g. "%ss" (units: ms, s, m, h, d)`, s, s)
	}
	if strings.HasPrefix(s, "-") {
		return 0, fmt.Errorf(`%q is negative; use a duration of 0 or more such as "5s"`, s)
	}
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.ParseUint(s[:i], 10, 16)
		if err != nil {
			return 0, fmt.Errorf(`%q is not a duration; use whole days in front, e.g. "7d" or "1d12h"`, s)
		}
		days = time.Duration(n) * 24 * time.Hour
		if s = s[i+1:]; s == "" {
			return Duration(days), nil
		}
	}
	t, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf(`%q is not a duration; use a number and a unit, e.g. "250ms", "60s", "24h" or "7d"`, s)
	}
	if t < 0 {
		return 0, fmt.Errorf(`%q is negative; use a duration of 0 or more such as "5s"`, s)
	}
	return Duration(days + t), nil
}
