package config

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/socx/sharkfin/record"
	"github.com/socx/sharkfin/tailer"
	"github.com/socx/sharkfin/tailer/format"
)

// StartAt is where an input starts reading a file it sees for the first
// time (no checkpoint): "end" or "beginning".
type StartAt string

// Values of StartAt.
const (
	StartAtEnd       StartAt = tailer.StartAtEnd
	StartAtBeginning StartAt = tailer.StartAtBeginning
)

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *StartAt) UnmarshalText(text []byte) error {
	return parseEnum(s, text, StartAtEnd, StartAtBeginning)
}

// Emit selects the ip_score events sent: "all" or only "anomalies". Domain
// and agent events are always sent.
type Emit string

// Values of Emit.
const (
	EmitAll       Emit = "all"
	EmitAnomalies Emit = "anomalies"
)

// UnmarshalText implements encoding.TextUnmarshaler.
func (e *Emit) UnmarshalText(text []byte) error {
	return parseEnum(e, text, EmitAll, EmitAnomalies)
}

// LogLevel is the least severe level logged: "debug", "info", "warn" or
// "error".
type LogLevel string

// Values of LogLevel.
const (
	LogDebug LogLevel = "debug"
	LogInfo  LogLevel = "info"
	LogWarn  LogLevel = "warn"
	LogError LogLevel = "error"
)

// UnmarshalText implements encoding.TextUnmarshaler.
func (l *LogLevel) UnmarshalText(text []byte) error {
	return parseEnum(l, text, LogDebug, LogInfo, LogWarn, LogError)
}

// Level returns l as a slog.Level (info for the zero value).
func (l LogLevel) Level() slog.Level {
	switch l {
	case LogDebug:
		return slog.LevelDebug
	case LogWarn:
		return slog.LevelWarn
	case LogError:
		return slog.LevelError
	}
	return slog.LevelInfo
}

// LogFormat is how log records are written to stderr: "text" (logfmt, for
// the journal) or "json".
type LogFormat string

// Values of LogFormat.
const (
	LogText LogFormat = "text"
	LogJSON LogFormat = "json"
)

// UnmarshalText implements encoding.TextUnmarshaler.
func (f *LogFormat) UnmarshalText(text []byte) error {
	return parseEnum(f, text, LogText, LogJSON)
}

// parseEnum sets *dst to text when it is one of valid.
func parseEnum[T ~string](dst *T, text []byte, valid ...T) error {
	if err := checkEnum(T(text), valid...); err != nil {
		return err
	}
	*dst = T(text)
	return nil
}

// checkEnum reports whether v is one of valid, with the fix when it is not.
func checkEnum[T ~string](v T, valid ...T) error {
	if slices.Contains(valid, v) {
		return nil
	}
	names := make([]string, len(valid))
	for i, s := range valid {
		names[i] = string(s)
	}
	if v == "" {
		return fmt.Errorf("is empty; use %s", orList(names))
	}
	return fmt.Errorf("%q is not valid; use %s", string(v), orList(names))
}

// orList quotes names and joins them: `"a"`, `"a" or "b"`, `"a", "b" or "c"`.
func orList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// Format is an input's line format: a format.Format restricted to the
// concrete formats, since the agent reads each input with one fixed format
// ("auto" detection is for `sharkfin score` and `sharkfin train`).
type Format struct{ format.Format }

// UnmarshalText implements encoding.TextUnmarshaler with format.ParseFormat.
func (f *Format) UnmarshalText(text []byte) error {
	v, err := format.ParseFormat(string(text))
	if err != nil || v.Kind() == record.KindUnknown {
		return formatError(string(text))
	}
	f.Format = v
	return nil
}

// check reports whether f is a concrete format.
func (f Format) check() error {
	if f.Format == format.Unknown {
		return fmt.Errorf("is missing; set format: to %s", orList(agentFormats()))
	}
	if f.Kind() == record.KindUnknown {
		return formatError(f.String())
	}
	return nil
}

func formatError(name string) error {
	if name == "" {
		return fmt.Errorf("is empty; use %s", orList(agentFormats()))
	}
	if v, err := format.ParseFormat(name); err == nil && v == format.Auto {
		return fmt.Errorf("%q is not valid in the agent, which reads each input with one fixed format (detection is for sharkfin score and train); use %s", name, orList(agentFormats()))
	}
	return fmt.Errorf("%q is not valid; use %s", name, orList(agentFormats()))
}

// agentFormats lists the names of the formats an input may use: those of
// package format that have a kind. Only error paths call it.
func agentFormats() []string {
	var names []string
	for i := range 256 {
		if f := format.Format(i); f.Kind() != record.KindUnknown {
			names = append(names, f.String())
		}
	}
	return names
}
