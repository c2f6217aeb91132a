package format

import (
	"testing"

	"github.com/socx/sharkfin/record"
)

func TestParser_Squid(t *testing.T) {
	tests := []struct {
		name string
		line string
		want want
	}{
		{
			name: "get with user and peer",
			line: "1294011828.214   1309 10.0.0.5 TCP_MISS/200 10032 GET http://Host.Example/path?q=1 alice DIRECT/93.184.216.34 text/html",
			want: want{time: "2011-01-02T23:43:48.214Z", client: "10.0.0.5", action: "TCP_MISS", status: 200, bytes: 10032,
				method: "GET", target: "http://Host.Example/path?q=1", host: "Host.Example", user: "alice", peer: "93.184.216.34"},
		},
		{
			name: "connect target host:port",
			line: "1157689312.049   5006 10.105.21.199 TCP_MISS/200 19763 CONNECT login.yahoo.com:443 badeyek DIRECT/209.73.177.115 -",
			want: want{time: "2006-09-08T04:21:52.049Z", client: "10.105.21.199", action: "TCP_MISS", status: 200, bytes: 19763,
				method: "CONNECT", target: "login.yahoo.com:443", host: "login.yahoo.com", user: "badeyek", peer: "209.73.177.115"},
		},
		{
			name: "connect to bracketed ipv6",
			line: "1157689312.049 5 10.0.0.1 TCP_TUNNEL/200 39 CONNECT [2001:db8::1]:443 - HIER_DIRECT/2001:db8::1 -",
			want: want{time: "2006-09-08T04:21:52.049Z", client: "10.0.0.1", action: "TCP_TUNNEL", status: 200, bytes: 39,
				method: "CONNECT", target: "[2001:db8::1]:443", host: "2001:db8::1", peer: "2001:db8::1"},
		},
		{
			name: "squid 6 health check from ::1",
			line: "1754978486.449      0 ::1 NONE_NONE/000 0 - error:transaction-end-before-headers - HIER_NONE/- -",
			want: want{time: "2025-08-12T06:01:26.449Z", client: "::1", action: "NONE_NONE", status: 0,
				target: "error:transaction-end-before-headers"},
		},
		{
			name: "bad request with method dash and target slash",
			line: "1755006333.288      3 192.0.2.4 NONE_NONE/400 3831 - / - HIER_NONE/- text/html",
			want: want{time: "2025-08-12T13:45:33.288Z", client: "192.0.2.4", action: "NONE_NONE", status: 400, bytes: 3831, target: "/"},
		},
		{
			name: "denied 407 with hierarchy NONE",
			line: "1157689324.156      0 10.105.21.199 TCP_DENIED/407 1759 GET http://www.google-analytics.com/__utm.gif? - NONE/- text/html",
			want: want{time: "2006-09-08T04:22:04.156Z", client: "10.105.21.199", action: "TCP_DENIED", status: 407, bytes: 1759,
				method: "GET", target: "http://www.google-analytics.com/__utm.gif?", host: "www.google-analytics.com"},
		},
		{
			name: "url with userinfo and port",
			line: "1286536309.450 917 192.0.2.27 TCP_MISS/200 20670 GET ftp://anon:pw@ftp.example.org:2121/pub/ - DIRECT/192.0.2.9 -",
			want: want{time: "2010-10-08T11:11:49.45Z", client: "192.0.2.27", action: "TCP_MISS", status: 200, bytes: 20670,
				method: "GET", target: "ftp://anon:pw@ftp.example.org:2121/pub/", host: "ftp.example.org", peer: "192.0.2.9"},
		},
		{
			name: "ipv6 client and url host",
			line: "1286536309.450 12 2001:db8::5 TCP_MISS/304 120 GET http://[2001:db8::80]:8080/x - HIER_DIRECT/2001:db8::80 -",
			want: want{time: "2010-10-08T11:11:49.45Z", client: "2001:db8::5", action: "TCP_MISS", status: 304, bytes: 120,
				method: "GET", target: "http://[2001:db8::80]:8080/x", host: "2001:db8::80", peer: "2001:db8::80"},
		},
		{
			name: "client host name (log_fqdn), extra trailing fields, CRLF",
			line: "1286536309.450 12 ws-12.corp.example TCP_MISS/200 120 GET http://a.example/ bob DIRECT/192.0.2.1 text/html extra1 extra2\r\n",
			want: want{time: "2010-10-08T11:11:49.45Z", client: "ws-12.corp.example", action: "TCP_MISS", status: 200, bytes: 120,
				method: "GET", target: "http://a.example/", host: "a.example", user: "bob", peer: "192.0.2.1"},
		},
		{
			name: "no content type field",
			line: "1286536309.450 12 192.0.2.7 TCP_MISS_ABORTED/000 0 GET http://httpbin.org/get - HIER_DIRECT/3.232.35.54",
			want: want{time: "2010-10-08T11:11:49.45Z", client: "192.0.2.7", action: "TCP_MISS_ABORTED", method: "GET",
				target: "http://httpbin.org/get", host: "httpbin.org", peer: "3.232.35.54"},
		},
		{
			name: "negative elapsed and no fraction",
			line: "1286536309 -1 192.0.2.7 TCP_HIT/200 5 GET http://h.example/ - NONE/- -",
			want: want{time: "2010-10-08T11:11:49Z", client: "192.0.2.7", action: "TCP_HIT", status: 200, bytes: 5, method: "GET",
				target: "http://h.example/", host: "h.example"},
		},
		{
			name: "hierarchy without slash",
			line: "1286536309.1 1 192.0.2.7 TCP_HIT/200 5 GET http://h.example/ - NONE -",
			want: want{time: "2010-10-08T11:11:49.1Z", client: "192.0.2.7", action: "TCP_HIT", status: 200, bytes: 5, method: "GET",
				target: "http://h.example/", host: "h.example"},
		},
		{name: "empty", line: "  \r\n", want: want{err: ErrEmpty}},
		{name: "comment", line: "# squid log", want: want{err: ErrNotLogLine}},
		{name: "bad time", line: "12x4011828.214 1 10.0.0.5 TCP_MISS/200 1 GET http://h/ - DIRECT/1.2.3.4 -", want: want{err: ErrBadTime}},
		{name: "time beyond 2200", line: "9999999999.000 1 10.0.0.5 TCP_MISS/200 1 GET http://h/ - DIRECT/1.2.3.4 -", want: want{err: ErrBadTime}},
		{name: "bad elapsed", line: "1294011828.214 1x 10.0.0.5 TCP_MISS/200 1 GET http://h/ - DIRECT/1.2.3.4 -", want: want{err: ErrMalformed}},
		{name: "bad client", line: "1294011828.214 1 10.0.0.500 TCP_MISS/200 1 GET http://h/ - DIRECT/1.2.3.4 -", want: want{err: ErrBadClient}},
		{name: "dash client", line: "1294011828.214 1 - TCP_MISS/200 1 GET http://h/ - DIRECT/1.2.3.4 -", want: want{err: ErrBadClient}},
		{name: "code without slash", line: "1294011828.214 1 10.0.0.5 TCP_MISS 1 GET http://h/ - DIRECT/1.2.3.4 -", want: want{err: ErrMalformed}},
		{name: "bad status", line: "1294011828.214 1 10.0.0.5 TCP_MISS/2000 1 GET http://h/ - DIRECT/1.2.3.4 -", want: want{err: ErrBadStatus}},
		{name: "bad size", line: "1294011828.214 1 10.0.0.5 TCP_MISS/200 -1 GET http://h/ - DIRECT/1.2.3.4 -", want: want{err: ErrBadSize}},
		{name: "truncated after time", line: "1294011828.214", want: want{err: ErrTruncated}},
		{name: "truncated before hierarchy", line: "1294011828.214 1 10.0.0.5 TCP_MISS/200 1 GET http://h/ -", want: want{err: ErrTruncated}},
		{name: "combined line", line: `83.149.9.216 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 203 "-" "-"`, want: want{err: ErrBadTime}},
	}
	p := Parser{Format: Squid}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r record.Record
			line := []byte(tt.line)
			tt.want.check(t, line, &r, p.Parse(line, &r))
		})
	}
}

func TestURLHost(t *testing.T) {
	tests := []struct{ url, host string }{
		{"http://example.com/a", "example.com"},
		{"http://Example.COM", "Example.COM"},
		{"https://example.com:8443/a?b#c", "example.com"},
		{"http://u:p@example.com/", "example.com"},
		{"http://a@b@example.com/", "example.com"},
		{"http://example.com?x", "example.com"},
		{"http://example.com:/", "example.com"},
		{"http://[::1]:3128/", "::1"},
		{"http://[::1]/", "::1"},
		{"http://[]/", null},
		{"http://[::1/", null},
		{"http:///path", null},
		{"http://host:port/", null},
		{"example.com:443", "example.com"},
		{"[2001:db8::1]:443", "2001:db8::1"},
		{"[2001:db8::1]", null},
		{"example.com:", null},
		{"example.com", null},
		{"error:transaction-end-before-headers", null},
		{"error:invalid-request", null},
		{"/", null},
		{"/a:80", null},
		{"-", null},
		{"", null},
		{":443", null},
		{"1http://x/", null},
	}
	for _, tt := range tests {
		if got := str(urlHost([]byte(tt.url))); got != tt.host {
			t.Errorf("urlHost(%q) = %q, want %q", tt.url, got, tt.host)
		}
	}
}
