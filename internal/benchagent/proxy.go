package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/socx/sharkfin/internal/enrichtest"
)

// proxyLog writes a forward proxy's day in Squid's native format: clients
// workstations browsing, most requests to a few hundred popular sites and
// a long tail of rarely asked domains (each new, uncategorized, a lookup
// to make), some CONNECTs to the bare address 127.0.0.1 (a lookup of its
// certificate); minutes of event time. It returns the lines written.
func proxyLog(path string, minutes, perMinute, clients int) (int, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	rnd := uint64(42)
	next := func(n int) int {
		rnd ^= rnd << 13
		rnd ^= rnd >> 7
		rnd ^= rnd << 17
		return int(rnd % uint64(n))
	}
	base := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC).Unix()
	lines, tail := 0, 0
	for m := range minutes {
		for i := range perMinute {
			t := base + int64(m*60) + int64(i*60/perMinute)
			client := fmt.Sprintf("10.%d.%d.%d", 1+next(4), next(256), 1+next(clients/1024+1))
			var method, url string
			switch r := next(100); {
			case r < 70:
				method, url = "GET", fmt.Sprintf("http://www.site%d.com/p/%d", next(300), next(5000))
			case r < 90:
				method, url = "CONNECT", fmt.Sprintf("api.site%d.net:443", next(300))
			case r < 97:
				tail++
				method, url = "GET", fmt.Sprintf("http://cdn%d.longtail%d.org/x", next(9), tail)
			default:
				method, url = "CONNECT", "127.0.0.1:443"
			}
			fmt.Fprintf(w, "%d.%03d %6d %s TCP_MISS/200 %d %s %s - HIER_DIRECT/192.0.2.1 text/html\n",
				t, next(1000), 20+next(900), client, 200+next(60000), method, url)
			lines++
		}
	}
	return lines, w.Flush()
}

// proxyEnrich measures a proxy's catch-up (every line counted, every event
// delivered) with the enrichment lookups off, and on with every target a
// black hole (WHOIS and TLS servers that accept and never answer): the
// lookups must cost ingestion nothing (goal: within 5%). Runs alternate,
// each beside mawk on the same file.
func proxyEnrich(bin string, runs int) error {
	bin, _ = filepath.Abs(bin)
	dir, err := os.MkdirTemp("", "sharkfin-bench-proxy-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "access.log")
	n, err := proxyLog(path, 120, 5000, 4000)
	if err != nil {
		return err
	}
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	model := filepath.Join(dir, "proxy.json")
	if out, err := exec.Command(bin, "train", "--format", "squid", "--k", "4", "--seed", "1", "-o", model, path).CombinedOutput(); err != nil {
		return fmt.Errorf("train the proxy model: %v\n%s", err, out)
	}
	hole, stop, err := enrichtest.ListenBlackHole()
	if err != nil {
		return err
	}
	defer stop()
	_, holePort, _ := net.SplitHostPort(hole)
	config := func(enrich bool) func(string, int) string {
		return func(sdir string, port int) string {
			e := ""
			if enrich {
				e = fmt.Sprintf("    enrich: { tls: true, whois: true, whois_server: %q, tls_port: %s, timeout: 5s, rate: 1000, workers: 8 }\n", hole, holePort)
			}
			return fmt.Sprintf(`inputs:
  - name: proxy
    path: %s
    format: squid
    start_at: beginning
state: { path: %s/state.db }
detect:
  window: 60s
  lateness: 5s
  emit: all
  models: { proxy: %s }
  domains:
    emit: uncategorized
%soutput: { stdout: {} }
metrics: { listen: "127.0.0.1:%d" }
`, path, sdir, model, e, port)
		}
	}
	variants := []string{"off", "black-holed"}
	want := map[string]float64{}
	for i, v := range variants {
		a, err := startWith(bin, config(i == 1))
		if err != nil {
			return err
		}
		err = a.waitSettled(n, st.Size(), 10*time.Minute)
		want[v] = a.metric("sharkfin_events_queued_total")
		a.stop()
		if err != nil {
			return fmt.Errorf("enrichment %s: %w", v, err)
		}
	}
	if want["off"] != want["black-holed"] {
		return fmt.Errorf("events: %v with enrichment off, %v black-holed", want["off"], want["black-holed"])
	}
	res := map[string]*result{"mawk": {}, "off": {}, "black-holed": {}}
	var dropped, queued float64
	for range runs {
		res["mawk"].add(best(1, func() error { return exec.Command("mawk", `{c[$3]++} END {for (k in c) n++; print n}`, path).Run() }))
		for i, v := range variants {
			a, err := startWith(bin, config(i == 1))
			if err != nil {
				return err
			}
			if err := a.waitDelivered(n, st.Size(), want[v], 10*time.Minute); err != nil {
				a.stop()
				return fmt.Errorf("enrichment %s: %w", v, err)
			}
			res[v].add(time.Since(a.started))
			if c := a.cpu(); c > 0 {
				res[v].cpu = append(res[v].cpu, fmt.Sprintf("%.2f", c.Seconds()))
			}
			if i == 1 {
				ctxQueued, ctxDropped := a.metricLabels("sharkfin_enrich_lookups_total", "queued"), a.metricLabels("sharkfin_enrich_lookups_total", "dropped")
				queued, dropped = max(queued, ctxQueued), max(dropped, ctxDropped)
			}
			a.stop()
		}
	}
	m, off, on := res["mawk"].best.Seconds(), res["off"].best.Seconds(), res["black-holed"].best.Seconds()
	fmt.Printf("\n== proxy catch-up, enrichment off and black-holed (best of %d; %d Squid lines, 2h, %.0f events, every one delivered)\n", runs, n, want["off"])
	fmt.Printf("%-28s %9s %12s %9s  %s\n", "", "seconds", "lines/s", "x mawk", "runs (s); agent CPU (s)")
	fmt.Printf("%-28s %9.3f %12.0f %9s  %s\n", "mawk '{c[$3]++}'", m, float64(n)/m, "1.00", strings.Join(res["mawk"].runs, " "))
	for _, v := range variants {
		b := res[v].best.Seconds()
		fmt.Printf("%-28s %9.3f %12.0f %9.2f  %s; %s\n", "enrichment "+v, b, float64(n)/b, m/b, strings.Join(res[v].runs, " "), strings.Join(res[v].cpu, " "))
	}
	fmt.Printf("black-holed / off: %.3f (goal <= 1.05); lookups queued %.0f, dropped (queue full) %.0f\n", on/off, queued, dropped)
	return nil
}
