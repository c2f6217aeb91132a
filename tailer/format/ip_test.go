package format

import (
	"net/netip"
	"strings"
	"testing"
)

func TestIsIP(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"0.0.0.0", true},
		{"255.255.255.255", true},
		{"10.0.0.5", true},
		{"010.000.000.005", true}, // leading zeros tolerated
		{"256.0.0.1", false},
		{"1.2.3", false},
		{"1.2.3.4.5", false},
		{"1.2.3.", false},
		{".1.2.3", false},
		{"1..2.3", false},
		{"1.2.3.4 ", false},
		{"1.2.3.1000", false},
		{"a.b.c.d", false},
		{"::", true},
		{"::1", true},
		{"1::", true},
		{"2001:db8::1", true},
		{"2001:DB8:0:0:8:800:200C:417A", true},
		{"1:2:3:4:5:6:7:8", true},
		{"1:2:3:4:5:6:7::", true},
		{"::2:3:4:5:6:7:8", true},
		{"::ffff:192.0.2.1", true},
		{"1:2:3:4:5:6:192.0.2.1", true},
		{"fe80::1%eth0", true},
		{"fe80::1%", false},
		{"fe80::1%eth 0", false},
		{"1:2:3:4:5:6:7:8:9", false},
		{"1:2:3:4:5:6:7", false},
		{"1:2:3:4:5:6:7:8::", false},
		{"1::2::3", false},
		{":::", false},
		{":1", false},
		{"1:", false},
		{"12345::1", false},
		{"g::1", false},
		{"::ffff:1.2.3", false},
		{"::1.2.3.4:5", false},
		{"1:2:3:4:5:6:7:1.2.3.4", false},
		{"[::1]", false},
		{"", false},
		{"-", false},
	}
	for _, tt := range tests {
		if got := isIP([]byte(tt.in)); got != tt.ok {
			t.Errorf("isIP(%q) = %v, want %v", tt.in, got, tt.ok)
		}
		// Where netip has no stricter opinion (leading zeros, zones), agree with it.
		if !strings.Contains(tt.in, "%") && tt.in != "010.000.000.005" {
			_, err := netip.ParseAddr(tt.in)
			if (err == nil) != tt.ok {
				t.Errorf("isIP(%q) = %v disagrees with netip (%v)", tt.in, tt.ok, err)
			}
		}
	}
}

func TestIsHostname(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"localhost", true},
		{"crawl-66-249-66-1.googlebot.com", true},
		{"WS_12.corp.example", true},
		{"example.com.", true},
		{"a", true},
		{"1.2.3.4", false},
		{"300.1.1.1", false},
		{"123", false},
		{"-", false},
		{"-a.example", false},
		{".example", false},
		{"a..example", false},
		{"a b", false},
		{"a:80", false},
		{"unix:", false},
		{"ex\xc3\xa4mple.com", false},
		{strings.Repeat("a", 64) + ".com", false},
		{strings.Repeat("a", 63) + ".com", true},
		{strings.Repeat("a.", 127) + "b", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := isHostname([]byte(tt.in)); got != tt.ok {
			t.Errorf("isHostname(%q) = %v, want %v", tt.in, got, tt.ok)
		}
	}
}
