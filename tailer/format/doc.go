// Package format parses access-log lines into record.Record values.
//
// Supported formats:
//
//   - Squid: the native access.log format of Squid 2.x to 6.x
//     ("1294011828.214   1309 10.0.0.5 TCP_MISS/200 10032 GET http://host/path user DIRECT/93.184.216.34 text/html").
//   - Common and Combined: the Apache/Nginx common and combined log formats,
//     including the vhost_combined and vhost_common variants whose first field is
//     "vhost[:port]" (detected per line), and lines with extra trailing fields.
//   - Bind: the BIND 9 query log ("07-Jul-2022 16:34:01.123 queries: info: client
//     @0x7f... 192.0.2.1#53114 (example.com): query: example.com IN A +E(0)K (192.0.2.53)"),
//     with or without the category/severity prefix and the client object address,
//     with the default or ISO 8601 print-time layouts.
//
// The parsers are hand-written pure functions over []byte. Parser.Parse fills a
// caller-supplied *record.Record and allocates nothing: the byte-slice fields of
// the Record alias the line (they are valid only until the line's buffer is
// reused) and rejections are reported with package-level sentinel errors, so a
// caller can count them by reason (see Reason) on the hot path.
//
// Values are kept as logged. In particular host names are not lower-cased (compare
// them case-insensitively downstream), escapes inside quoted web-log fields
// (\" and \xHH) are not decoded, and a request line that is not
// "METHOD target [protocol]" (for example the raw bytes of a TLS handshake sent to
// a plain-HTTP port, which Apache logs as "\x16\x03\x01") is accepted with a nil
// Method and the raw request as Target: such lines are real traffic worth counting.
//
// Clients must be IPv4 or IPv6 addresses; web and Squid logs may also carry
// a host name there (HostnameLookups, log_fqdn), which is accepted when it is
// a syntactically valid name. Empty, "-" and garbage clients are rejected.
//
// Parsing is linear in the line length and does not limit it; capping line
// length is the reader's job.
//
// Sniff detects the format of an input from its first lines, for the "auto"
// setting. Reason turns a rejection into a short metric label.
//
// Times are converted to Unix nanoseconds (UTC). Apache times carry their own
// offset, Squid times are epoch seconds, and BIND times without a zone are read in
// Parser.Location (time.Local when nil). Times before 1970 or from the year 2200
// on are rejected with ErrBadTime.
package format
