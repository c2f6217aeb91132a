// Package enrich looks up what a destination says about itself, for the
// per-domain report of proxy inputs: the names in the TLS certificate a
// bare IP address presents (TLSNames), and WHOIS (RFC 3912) records of
// addresses and registrable domains (WHOIS), starting at IANA and
// following referrals.
//
// These lookups, and delivery to Fluentd, are the only connections the
// agent opens; they are off unless detect.domains.enrich turns them on.
// Every lookup is bounded in time (a context, and a deadline per
// connection) and in size (what a server may send).
package enrich
