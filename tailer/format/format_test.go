package format

import (
	"errors"
	"fmt"
	"testing"

	"github.com/socx/sharkfin/record"
)

func TestFormat_ParseFormatRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		f    Format
		kind record.Kind
	}{
		{"squid", Squid, record.KindProxy},
		{"common", Common, record.KindWeb},
		{"combined", Combined, record.KindWeb},
		{"bind", Bind, record.KindDNS},
		{"auto", Auto, record.KindUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseFormat(tt.name)
			if err != nil || f != tt.f {
				t.Fatalf("ParseFormat(%q) = %v, %v; want %v", tt.name, f, err, tt.f)
			}
			if f.String() != tt.name {
				t.Errorf("String() = %q, want %q", f.String(), tt.name)
			}
			if f.Kind() != tt.kind {
				t.Errorf("Kind() = %v, want %v", f.Kind(), tt.kind)
			}
			text, err := f.MarshalText()
			if err != nil || string(text) != tt.name {
				t.Errorf("MarshalText() = %q, %v", text, err)
			}
			var g Format
			if err := g.UnmarshalText([]byte(tt.name)); err != nil || g != tt.f {
				t.Errorf("UnmarshalText(%q) = %v, %v", tt.name, g, err)
			}
		})
	}
}

func TestFormat_ParseFormatRejectsUnknown(t *testing.T) {
	for _, s := range []string{"", "unknown", "Combined", "apache", "nginx", " squid"} {
		f, err := ParseFormat(s)
		if !errors.Is(err, ErrUnknownFormat) || f != Unknown {
			t.Errorf("ParseFormat(%q) = %v, %v; want Unknown, ErrUnknownFormat", s, f, err)
		}
		var g Format = Squid
		if err := g.UnmarshalText([]byte(s)); !errors.Is(err, ErrUnknownFormat) || g != Squid {
			t.Errorf("UnmarshalText(%q) = %v (value %v); want ErrUnknownFormat, value unchanged", s, err, g)
		}
	}
	if got := Format(200).String(); got != "unknown" {
		t.Errorf("Format(200).String() = %q", got)
	}
	if got := Unknown.Kind(); got != record.KindUnknown {
		t.Errorf("Unknown.Kind() = %v", got)
	}
}

func TestParser_RejectsUnparseableFormats(t *testing.T) {
	line := []byte(`192.0.2.1 - - [01/Dec/2020:09:41:28 +0000] "GET / HTTP/1.1" 200 1`)
	for _, f := range []Format{Unknown, Auto, Format(99)} {
		p := Parser{Format: f}
		var r record.Record
		r.Status = 7
		if err := p.Parse(line, &r); err != ErrUnknownFormat {
			t.Errorf("%v: Parse error = %v, want ErrUnknownFormat", f, err)
		}
		if r.Status != 0 {
			t.Errorf("%v: Record not reset", f)
		}
	}
}

func TestReason_LabelsEverySentinel(t *testing.T) {
	sentinels := map[error]string{
		ErrEmpty: "empty", ErrNotLogLine: "not_log_line", ErrTruncated: "truncated",
		ErrMalformed: "malformed", ErrBadTime: "bad_time", ErrBadClient: "bad_client",
		ErrBadRequest: "bad_request", ErrBadStatus: "bad_status", ErrBadSize: "bad_size",
		ErrBadQuery: "bad_query", ErrUnknownFormat: "unknown_format", ErrUndetected: "undetected",
	}
	seen := map[string]bool{}
	for err, want := range sentinels {
		if got := Reason(err); got != want {
			t.Errorf("Reason(%v) = %q, want %q", err, got, want)
		}
		if got := Reason(fmt.Errorf("context: %w", err)); got != want {
			t.Errorf("Reason(wrapped %v) = %q, want %q", err, got, want)
		}
		if seen[want] {
			t.Errorf("label %q used twice", want)
		}
		seen[want] = true
	}
	if got := Reason(nil); got != "" {
		t.Errorf("Reason(nil) = %q", got)
	}
	if got := Reason(errors.New("empty line")); got != "other" {
		t.Errorf("Reason(foreign) = %q, want other", got)
	}
}
