// Package loggen generates deterministic synthetic access logs with planted
// attackers and ground truth, for detection tests and benchmarks.
//
// Web traffic: normal visitors browse a site of a few hundred pages
// (Zipf-distributed, with assets, occasional 404s, redirects and the odd
// form POST), a few well-behaved crawlers fetch pages at a steady pace, and
// the planted attackers are:
//   - dirscan: a directory scanner, bursts of 404s over many distinct paths;
//   - bruteforce: a password brute-forcer, POSTs to a login answered 401/200;
//   - scraper: a high rate of 200s over distinct paths;
//   - slowscan: a slow scanner, a few hits per window, all 404.
//
// DNS traffic: resolver clients asking for popular names, and a tunnel client
// sending base32 data in long subdomains.
//
// The same Config and Seed always produce the same bytes.
package loggen
