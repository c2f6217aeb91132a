package domain

import (
	"net/netip"
	"strings"
	"testing"
)

// FuzzParseIPv6 checks the allocation-free IPv6 parser against net/netip.
func FuzzParseIPv6(f *testing.F) {
	for _, s := range []string{"::", "::1", "1::", "2001:db8::1", "::ffff:1.2.3.4", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:1.2.3.4",
		"1:2:3:4:5:6:7::", "::1:2:3:4:5:6:7", "1::2::3", "12345::", "1:2:3:4:5:6:7:8:9", ":1", "1:", "::01.2.3.4", "fe80::1%eth0", "1:2:3:4:5:6:7:1.2.3.4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !strings.Contains(s, ":") || strings.Contains(s, "%") {
			return
		}
		got, ok := parseIPv6([]byte(s))
		want, err := netip.ParseAddr(s)
		if ok != (err == nil) {
			t.Fatalf("%q: parseIPv6 ok %v, netip %v", s, ok, err)
		}
		if ok && got != want.As16() {
			t.Fatalf("%q: %x, netip %x", s, got, want.As16())
		}
	})
}
