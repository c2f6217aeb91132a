// Package e2etest holds what the end-to-end tests of the agent share:
// reading its metrics and the knobs of the long and randomised variants.
// For tests only.
package e2etest

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
)

// Long reports whether the bigger variants were asked for
// (SHARKFIN_E2E_LONG=1).
func Long() bool { return os.Getenv("SHARKFIN_E2E_LONG") == "1" }

// Seed is the seed of randomised tests: SHARKFIN_E2E_SEED, or def.
func Seed(t testing.TB, def uint64) uint64 {
	t.Helper()
	if s := os.Getenv("SHARKFIN_E2E_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("SHARKFIN_E2E_SEED=%q: %v", s, err)
		}
		return n
	}
	return def
}

// ScrapeMetrics reads the agent's /metrics at addr (host:port) and sums
// every sample by metric name, labels dropped.
func ScrapeMetrics(ctx context.Context, addr string) (map[string]float64, error) {
	out := map[string]float64{}
	err := scrape(ctx, addr, func(name, _ string, v float64) { out[name] += v })
	return out, err
}

// ScrapeSample reads the agent's /metrics at addr and sums the samples of
// the metric name whose labels contain every one of labels (each written
// as in the exposition, e.g. `kind="web"`); 0 when none does.
func ScrapeSample(ctx context.Context, addr, name string, labels ...string) (float64, error) {
	var sum float64
	err := scrape(ctx, addr, func(n, ls string, v float64) {
		if n != name {
			return
		}
		for _, l := range labels {
			if !strings.Contains(ls, l) {
				return
			}
		}
		sum += v
	})
	return sum, err
}

// scrape calls fn with the name, labels (the text between the braces) and
// value of every sample of the agent's /metrics at addr.
func scrape(ctx context.Context, addr string, fn func(name, labels string, v float64)) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			continue
		}
		name, labels := line[:sp], ""
		if i := strings.IndexByte(name, '{'); i >= 0 {
			name, labels = name[:i], name[i:]
		}
		fn(name, labels, v)
	}
	return sc.Err()
}

// FreeAddr returns a loopback address whose port was free a moment ago.
//
// The port is drawn below the kernel's ephemeral range
// (net.ipv4.ip_local_port_range), where outgoing connections never take
// theirs: a port the kernel hands to Listen(":0") is one any connect
// elsewhere may take before the agent binds it (a CI run lost its
// metrics listener so, "address already in use"). Other FreeAddr calls
// draw at random from some 20,000 ports, each checked free.
func FreeAddr(t testing.TB) string {
	t.Helper()
	low := ephemeralLow()
	for range 200 {
		port := 10000 + rand.IntN(max(low-10000, 1))
		if port >= low {
			break
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue // taken
		}
		addr := l.Addr().String()
		l.Close()
		return addr
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// ephemeralLow is the first port of the kernel's ephemeral range (32768
// where it cannot be read).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 32768
	}
	n, err := strconv.Atoi(f[0])
	if err != nil || n <= 10000 {
		return 32768
	}
	return n
}

// PeakRSS returns the peak resident set size (VmHWM) of process pid, in
// bytes; pid 0 is the calling process.
func PeakRSS(pid int) (int64, error) {
	path := "/proc/self/status"
	if pid != 0 {
		path = fmt.Sprintf("/proc/%d/status", pid)
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("%s: no VmHWM", path)
}
