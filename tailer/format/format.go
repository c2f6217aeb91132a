package format

import (
	"fmt"

	"github.com/socx/sharkfin/record"
)

// Format identifies a log line format.
type Format uint8

// Formats. Auto is not a line format: it asks the caller to detect the format
// of an input with Sniff before parsing.
const (
	Unknown  Format = iota
	Squid           // Squid native access.log
	Common          // Apache/Nginx common log format (vhost_common too)
	Combined        // Apache/Nginx combined log format (vhost_combined too)
	Bind            // BIND 9 query log
	Auto            // detect with Sniff
)

// String returns the configuration name of f ("squid", "common", "combined",
// "bind", "auto"; "unknown" otherwise).
func (f Format) String() string {
	switch f {
	case Squid:
		return "squid"
	case Common:
		return "common"
	case Combined:
		return "combined"
	case Bind:
		return "bind"
	case Auto:
		return "auto"
	}
	return "unknown"
}

// ParseFormat is the inverse of String for the configurable formats. "auto"
// yields Auto, which must be resolved with Sniff before parsing. Unknown names
// return an error wrapping ErrUnknownFormat.
func ParseFormat(s string) (Format, error) {
	switch s {
	case "squid":
		return Squid, nil
	case "common":
		return Common, nil
	case "combined":
		return Combined, nil
	case "bind":
		return Bind, nil
	case "auto":
		return Auto, nil
	}
	return Unknown, fmt.Errorf("format %q (want squid, common, combined, bind or auto): %w", s, ErrUnknownFormat)
}

// Kind returns the traffic family f describes: KindProxy for Squid, KindWeb
// for Common and Combined, KindDNS for Bind and KindUnknown for Auto and
// Unknown.
func (f Format) Kind() record.Kind {
	switch f {
	case Squid:
		return record.KindProxy
	case Common, Combined:
		return record.KindWeb
	case Bind:
		return record.KindDNS
	}
	return record.KindUnknown
}

// MarshalText implements encoding.TextMarshaler.
func (f Format) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseFormat, so
// configuration decoders reject unknown names.
func (f *Format) UnmarshalText(text []byte) error {
	v, err := ParseFormat(string(text))
	if err != nil {
		return err
	}
	*f = v
	return nil
}
