// Command loggen writes the synthetic logs of package loggen, e.g. the
// 2,000,000-line combined log that `make bench` times.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/socx/sharkfin/internal/loggen"
)

// isSet reports whether the flag name was given.
func isSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func main() {
	kind := flag.String("kind", "web", "web, dns, or a high-cardinality shape: busy (2M lines, 20k clients, 2h), day (200k lines, 100k clients, 24h) or clients (set -lines, -windows, -ips, -per-visit)")
	lines := flag.Int("lines", 0, "approximate number of lines (web; sets the number of windows)")
	windows := flag.Int("windows", 60, "windows to generate")
	visitors := flag.Int("visitors", 500, "normal visitors (web) or clients (dns)")
	attackers := flag.Int("attackers", 1, "attacker IPs per type (web) or tunnel clients (dns)")
	seed := flag.Uint64("seed", 1, "random seed")
	ips := flag.Int("ips", 0, "distinct clients (busy, day, clients; 0 = the shape's)")
	perVisit := flag.Float64("per-visit", 0, "mean lines per client and window (busy, day, clients; 0 = the shape's)")
	ipOffset := flag.Int("ip-offset", 0, "shift client addresses (busy, day, clients): a later day's new clients")
	startDay := flag.Int("day", 0, "days after 2026-01-01 the log starts (busy, day, clients)")
	flag.Parse()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var err error
	switch *kind {
	case "web":
		cfg := loggen.WebConfig{Seed: *seed, Start: start, Windows: *windows, Visitors: *visitors, Crawlers: 5, AttackersPerType: *attackers}
		if *lines > 0 {
			// About 3 hits per visitor per window plus attackers; measure one window.
			per := float64(*visitors)*3.0 + float64(*attackers)*385 + 70
			cfg.Windows = max(1, int(float64(*lines)/per))
		}
		_, err = loggen.Web(os.Stdout, cfg)
	case "dns":
		_, err = loggen.DNS(os.Stdout, loggen.DNSConfig{Seed: *seed, Start: start, Windows: *windows, Clients: *visitors, Tunnels: *attackers})
	case "busy", "day", "clients":
		cfg := map[string]loggen.ClientsConfig{"busy": loggen.BusySite, "day": loggen.ManyClientsDay, "clients": {Windows: 60, Lines: 100_000, IPs: 10_000, PerVisit: 3}}[*kind]
		cfg.Seed, cfg.Start, cfg.IPOffset = *seed, start.AddDate(0, 0, *startDay), *ipOffset
		if *lines > 0 {
			cfg.Lines = *lines
		}
		if *kind == "clients" || isSet("windows") {
			cfg.Windows = *windows
		}
		if *ips > 0 {
			cfg.IPs = *ips
		}
		if *perVisit > 0 {
			cfg.PerVisit = *perVisit
		}
		_, err = loggen.Clients(os.Stdout, cfg)
	default:
		err = fmt.Errorf("-kind %q: want web, dns, busy, day or clients", *kind)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loggen:", err)
		os.Exit(1)
	}
}
