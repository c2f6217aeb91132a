package config

import (
	"errors"
	"fmt"
	"net"
	"strconv"
)

// errorf is fmt.Errorf for messages that wrap nothing.
func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

// checkRange checks that lo <= d <= hi.
func checkRange(d, lo, hi Duration) error {
	switch {
	case d < lo:
		return errorf("%s is too short; use at least %s", d, lo)
	case d > hi:
		return errorf("%s is too long; use at most %s", d, hi)
	}
	return nil
}

// checkSize checks that lo <= b <= hi.
func checkSize(b, lo, hi ByteSize) error {
	switch {
	case b < lo:
		return errorf("%s is too small; use at least %s", b, lo)
	case b > hi:
		return errorf("%s is too large; use at most %s", b, hi)
	}
	return nil
}

// checkHostPort checks a TCP address host:port with a port from 1 to
// 65535; the host may be empty when emptyHost is set (all interfaces).
func checkHostPort(addr, example string, emptyHost bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		var ae *net.AddrError
		if errors.As(err, &ae) {
			return errorf("%q is not host:port (%s); use e.g. %s", addr, ae.Err, example)
		}
		return errorf("%q is not host:port; use e.g. %s", addr, example)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return errorf("%q has a bad port %q; use a number from 1 to 65535, e.g. %s", addr, port, example)
	}
	if host == "" && !emptyHost {
		return errorf("%q has no host; use e.g. %s", addr, example)
	}
	return nil
}
