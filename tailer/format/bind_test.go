package format

import (
	"testing"
	"time"

	"github.com/socx/sharkfin/record"
)

func TestParser_Bind(t *testing.T) {
	tests := []struct {
		name string
		line string
		want want
	}{
		{
			name: "single-digit day with object address",
			line: "7-Jul-2022 16:34:13.003 queries: info: client @0x55adcc672cc0 192.0.2.2#80 (example.net): query: example.net IN ANY +E(0) (198.51.100.44)",
			want: want{time: "2022-07-07T16:34:13.003Z", client: "192.0.2.2", host: "example.net", qtype: "ANY"},
		},
		{
			name: "two-digit day",
			line: "07-Jul-2022 16:34:01.123 queries: info: client @0x7f0000000000 192.0.2.1#53114 (Example.COM): query: Example.COM IN A +E(0)K (192.0.2.53)",
			want: want{time: "2022-07-07T16:34:01.123Z", client: "192.0.2.1", host: "Example.COM", qtype: "A"},
		},
		{
			name: "without object address (BIND 9.9)",
			line: "17-Jan-2013 09:01:02.500 queries: info: client 192.0.2.1#53114 (example.com): query: example.com IN AAAA + (192.0.2.53)",
			want: want{time: "2013-01-17T09:01:02.5Z", client: "192.0.2.1", host: "example.com", qtype: "AAAA"},
		},
		{
			name: "without category and severity",
			line: "07-Jul-2022 16:34:01.123 client @0x7f 192.0.2.1#53114 (example.com): query: example.com IN MX +E(0)K (192.0.2.53)",
			want: want{time: "2022-07-07T16:34:01.123Z", client: "192.0.2.1", host: "example.com", qtype: "MX"},
		},
		{
			name: "severity only",
			line: "07-Jul-2022 16:34:01.123 info: client @0x7f 192.0.2.1#53114 (example.com): query: example.com IN TXT - (192.0.2.53)",
			want: want{time: "2022-07-07T16:34:01.123Z", client: "192.0.2.1", host: "example.com", qtype: "TXT"},
		},
		{
			name: "ipv6 client",
			line: "07-Jul-2022 16:34:01.123 queries: info: client @0x7f 2001:db8::1#40000 (example.com): query: example.com IN A +E(0) (2001:db8::53)",
			want: want{time: "2022-07-07T16:34:01.123Z", client: "2001:db8::1", host: "example.com", qtype: "A"},
		},
		{
			name: "BIND 9.6 without name in parentheses and server",
			line: "07-Jul-2009 16:34:01.123 queries: info: client 192.0.2.1#1024: query: example.com IN NS +",
			want: want{time: "2009-07-07T16:34:01.123Z", client: "192.0.2.1", host: "example.com", qtype: "NS"},
		},
		{
			name: "view",
			line: "07-Jul-2022 16:34:01.123 queries: info: client @0x7f 192.0.2.1#5353 (example.com): view internal: query: example.com IN SOA +E(0)K (192.0.2.53)",
			want: want{time: "2022-07-07T16:34:01.123Z", client: "192.0.2.1", host: "example.com", qtype: "SOA"},
		},
		{
			name: "tsig key after port",
			line: "07-Jul-2022 16:34:01.123 queries: info: client @0x7f 192.0.2.1#5353/key ddns-key (example.com): query: example.com IN SOA -SE(0) (192.0.2.53)",
			want: want{time: "2022-07-07T16:34:01.123Z", client: "192.0.2.1", host: "example.com", qtype: "SOA"},
		},
		{
			name: "chaos class and numeric type, ECS suffix",
			line: "07-Jul-2022 16:34:01.123 queries: info: client @0x7f 192.0.2.1#5353 (version.bind): query: version.bind CH TYPE65534 + (192.0.2.53) [ECS 192.0.2.0/24/0]",
			want: want{time: "2022-07-07T16:34:01.123Z", client: "192.0.2.1", host: "version.bind", qtype: "TYPE65534"},
		},
		{
			name: "root query, no fraction",
			line: "07-Jul-2022 16:34:01 queries: info: client @0x7f 192.0.2.1#5353 (.): query: . IN NS -E(0)D (192.0.2.53)",
			want: want{time: "2022-07-07T16:34:01Z", client: "192.0.2.1", host: ".", qtype: "NS"},
		},
		{
			name: "iso8601-utc",
			line: "2022-07-07T16:34:01.123Z queries: info: client @0x7f 192.0.2.1#5353 (example.com): query: example.com IN A +E(0) (192.0.2.53)",
			want: want{time: "2022-07-07T16:34:01.123Z", client: "192.0.2.1", host: "example.com", qtype: "A"},
		},
		{
			name: "iso8601 with offset",
			line: "2022-07-07T18:34:01.123+02:00 queries: info: client @0x7f 192.0.2.1#5353 (example.com): query: example.com IN A +E(0) (192.0.2.53)",
			want: want{time: "2022-07-07T16:34:01.123Z", client: "192.0.2.1", host: "example.com", qtype: "A"},
		},
		{
			name: "iso8601 local",
			line: "2022-07-07T16:34:01.123 queries: info: client @0x7f 192.0.2.1#5353 (example.com): query: example.com IN A +E(0) (192.0.2.53)",
			want: want{time: "2022-07-07T16:34:01.123Z", client: "192.0.2.1", host: "example.com", qtype: "A"},
		},
		{name: "empty", line: "\n", want: want{err: ErrEmpty}},
		{name: "comment", line: "# named", want: want{err: ErrNotLogLine}},
		{name: "other category", line: "07-Jul-2022 16:34:01.123 general: notice: running", want: want{err: ErrNotLogLine}},
		{
			name: "query failure",
			line: "07-Jul-2022 16:34:01.123 query-errors: info: client @0x7f 192.0.2.1#53 (x.example): query failed (SERVFAIL) for x.example/IN/A at query.c:6880",
			want: want{err: ErrNotLogLine},
		},
		{
			name: "denied query",
			line: "07-Jul-2022 16:34:01.123 security: info: client @0x7f 192.0.2.1#53 (x.example): query (cache) 'x.example/A/IN' denied",
			want: want{err: ErrNotLogLine},
		},
		{
			name: "update message",
			line: "07-Jul-2022 16:34:01.123 update-security: error: client @0x7f 192.0.2.1#53/key k: update 'zone/IN' denied",
			want: want{err: ErrNotLogLine},
		},
		{name: "no timestamp", line: "client @0x7f 192.0.2.1#53 (x.example): query: x.example IN A + (192.0.2.53)", want: want{err: ErrBadTime}},
		{name: "day 32", line: "32-Jul-2022 16:34:01.123 queries: info: client 192.0.2.1#53 (x): query: x IN A +", want: want{err: ErrBadTime}},
		{name: "bad month", line: "7-Jux-2022 16:34:01.123 queries: info: client 192.0.2.1#53 (x): query: x IN A +", want: want{err: ErrBadTime}},
		{name: "two-digit year", line: "7-Jul-22 16:34:01.123 queries: info: client 192.0.2.1#53 (x): query: x IN A +", want: want{err: ErrBadTime}},
		{name: "bad clock", line: "7-Jul-2022 16:34 queries: info: client 192.0.2.1#53 (x): query: x IN A +", want: want{err: ErrBadTime}},
		{name: "bad fraction", line: "7-Jul-2022 16:34:01.12x queries: info: client 192.0.2.1#53 (x): query: x IN A +", want: want{err: ErrBadTime}},
		{name: "bad iso", line: "2022-13-07T16:34:01.123Z queries: info: client 192.0.2.1#53 (x): query: x IN A +", want: want{err: ErrBadTime}},
		{name: "three prefixes", line: "7-Jul-2022 16:34:01.123 a: b: c: client 192.0.2.1#53 (x): query: x IN A +", want: want{err: ErrNotLogLine}},
		{name: "ends after prefix", line: "7-Jul-2022 16:34:01.123 queries: info:", want: want{err: ErrTruncated}},
		{name: "ends after client", line: "7-Jul-2022 16:34:01.123 queries: info: client @0x7f", want: want{err: ErrTruncated}},
		{name: "ends after address", line: "7-Jul-2022 16:34:01.123 queries: info: client @0x7f 192.0.2.1#53 (x):", want: want{err: ErrTruncated}},
		{name: "bad client", line: "7-Jul-2022 16:34:01.123 queries: info: client 300.0.2.1#53 (x): query: x IN A +", want: want{err: ErrBadClient}},
		{name: "client without port", line: "7-Jul-2022 16:34:01.123 queries: info: client 192.0.2.1 (x): query: x IN A +", want: want{err: ErrBadClient}},
		{name: "client port not numeric", line: "7-Jul-2022 16:34:01.123 queries: info: client 192.0.2.1#x (x): query: x IN A +", want: want{err: ErrBadClient}},
		{name: "host name client", line: "7-Jul-2022 16:34:01.123 queries: info: client ns.example#53 (x): query: x IN A +", want: want{err: ErrBadClient}},
		{name: "no type", line: "7-Jul-2022 16:34:01.123 queries: info: client 192.0.2.1#53 (x): query: x IN", want: want{err: ErrTruncated}},
		{name: "lower-case type", line: "7-Jul-2022 16:34:01.123 queries: info: client 192.0.2.1#53 (x): query: x in a +", want: want{err: ErrBadQuery}},
	}
	p := Parser{Format: Bind, Location: time.UTC}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r record.Record
			line := []byte(tt.line)
			tt.want.check(t, line, &r, p.Parse(line, &r))
		})
	}
}

func TestParser_BindLocation(t *testing.T) {
	line := []byte("7-Jul-2022 16:34:13.003 queries: info: client 192.0.2.2#80 (x.example): query: x.example IN A +")
	utcTime := time.Date(2022, 7, 7, 16, 34, 13, 3e6, time.UTC)
	tests := []struct {
		name string
		loc  *time.Location
		want time.Time
	}{
		{"utc", time.UTC, utcTime},
		{"fixed east", time.FixedZone("X", 5*3600+30*60), utcTime.Add(-(5*time.Hour + 30*time.Minute))},
		{"fixed west", time.FixedZone("Y", -3*3600), utcTime.Add(3 * time.Hour)},
		{"nil is local", nil, time.Date(2022, 7, 7, 16, 34, 13, 3e6, time.Local)},
	}
	if berlin, err := time.LoadLocation("Europe/Berlin"); err == nil {
		tests = append(tests, struct {
			name string
			loc  *time.Location
			want time.Time
		}{"dst zone", berlin, utcTime.Add(-2 * time.Hour)})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Parser{Format: Bind, Location: tt.loc}
			var r record.Record
			if err := p.Parse(line, &r); err != nil {
				t.Fatal(err)
			}
			if got := time.Unix(0, r.Time); !got.Equal(tt.want) {
				t.Errorf("Time = %v, want %v", got.UTC(), tt.want.UTC())
			}
		})
	}
}

func TestParser_BindClientPort(t *testing.T) {
	const head = "07-Jul-2022 16:34:01.123 queries: info: client @0x7f "
	const tail = " (x.example): query: x.example IN A +E(0) (192.0.2.53)"
	tests := []struct {
		addr string
		err  error
	}{
		{"192.0.2.1#53", nil},
		{"192.0.2.1#65535", nil},
		{"192.0.2.1#53/key k", nil},
		{"192.0.2.1#", ErrBadClient},
		{"192.0.2.1#5x", ErrBadClient},
		{"192.0.2.1#123456", ErrBadClient},
		{"192.0.2.1#/key k", ErrBadClient},
		{"#53", ErrBadClient},
		{"2001:db8::1#53", nil},
	}
	p := Parser{Format: Bind, Location: time.UTC}
	for _, tt := range tests {
		var r record.Record
		if err := p.Parse([]byte(head+tt.addr+tail), &r); err != tt.err {
			t.Errorf("%s: error %v, want %v", tt.addr, err, tt.err)
		}
	}
}
