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

func main() {
	kind := flag.String("kind", "web", "web or dns")
	lines := flag.Int("lines", 0, "approximate number of lines (web; sets the number of windows)")
	windows := flag.Int("windows", 60, "windows to generate")
	visitors := flag.Int("visitors", 500, "normal visitors (web) or clients (dns)")
	attackers := flag.Int("attackers", 1, "attacker IPs per type (web) or tunnel clients (dns)")
	seed := flag.Uint64("seed", 1, "random seed")
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
	default:
		err = fmt.Errorf("-kind %q: want web or dns", *kind)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loggen:", err)
		os.Exit(1)
	}
}
