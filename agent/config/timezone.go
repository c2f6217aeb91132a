package config

import (
	"fmt"
	"time"
)

// Timezone is an IANA time zone name ("UTC", "Europe/Paris"), checked with
// time.LoadLocation when it is decoded. The zero value is the agent's local
// time zone.
type Timezone struct {
	name string
	loc  *time.Location
}

// ParseTimezone loads the zone called name; "" is the local zone.
func ParseTimezone(name string) (Timezone, error) {
	if name == "" {
		return Timezone{}, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return Timezone{}, fmt.Errorf(`%q is not a known time zone (%w); use an IANA name such as "UTC" or "Europe/Paris", or remove the key for the local zone`, name, err)
	}
	return Timezone{name: name, loc: loc}, nil
}

// String returns the zone name as configured ("" for local).
func (z Timezone) String() string { return z.name }

// Location returns the zone; time.Local for the zero value.
func (z Timezone) Location() *time.Location {
	if z.loc == nil {
		return time.Local
	}
	return z.loc
}

// IsZero reports whether z is the local zone (for omitempty).
func (z Timezone) IsZero() bool { return z.name == "" }

// MarshalText implements encoding.TextMarshaler.
func (z Timezone) MarshalText() ([]byte, error) { return []byte(z.name), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseTimezone.
func (z *Timezone) UnmarshalText(text []byte) error {
	v, err := ParseTimezone(string(text))
	if err != nil {
		return err
	}
	*z = v
	return nil
}
