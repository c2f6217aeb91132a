package pipeline

import (
	"bufio"
	"encoding/base32"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/socx/sharkfin/detect"
	"github.com/socx/sharkfin/event"
	"github.com/socx/sharkfin/record"
	"github.com/socx/sharkfin/tailer/format"
)

// bindSample is the real resolver log in ../shared/data (read at test time
// only: its licence does not let us copy it).
func bindSample(t *testing.T) []string {
	t.Helper()
	path := filepath.Join(sharedData(t), "bind-sample", "queries-head2000.log")
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("the real BIND sample: %v", err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// bindClient is the client address of a BIND query log line.
func bindClient(line string) string {
	_, rest, _ := strings.Cut(line, " client ")
	fs := strings.Fields(rest)
	if len(fs) > 1 && strings.HasPrefix(fs[0], "@0x") {
		fs = fs[1:]
	}
	if len(fs) == 0 {
		return ""
	}
	ip, _, _ := strings.Cut(fs[0], "#")
	return ip
}

// bindLine is a BIND 9 query log line as the sample writes them.
func bindLine(at time.Time, client, name, qtype string) string {
	return fmt.Sprintf("%d-%s-%d %s queries: info: client @0x55adcc672cc0 %s#%d (%s): query: %s IN %s +E(0) (172.20.101.44)",
		at.Day(), at.Format("Jan"), at.Year(), at.Format("15:04:05.000"), client, 40000+at.Nanosecond()%20000, name, name, qtype)
}

// plantDNS adds, over [from, to), tunnels clients each sending an
// iodine-style TXT query every 100 ms (two long base32 labels of upstream
// data under one tunnel domain), and dgas clients each resolving a random
// .com or .net name every 125 ms (40 names per 5 s window, as malware
// hunting for its C2 does). It returns the lines and the planted clients'
// labels.
func plantDNS(from, to time.Time, tunnels, dgas int, seed uint64) ([]string, map[string]string) {
	rng := rand.New(rand.NewPCG(seed, 0x1d0))
	enc := base32.StdEncoding.WithPadding(base32.NoPadding)
	label := map[string]string{}
	var out []string
	payload := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		return strings.ToLower(enc.EncodeToString(b))
	}
	for i := range tunnels {
		ip := fmt.Sprintf("10.66.0.%d", 1+i)
		label[ip] = "tunnel"
		for at := from.Add(time.Duration(i) * 7 * time.Millisecond); at.Before(to); at = at.Add(100 * time.Millisecond) {
			name := payload(35)[:56] + "." + payload(30)[:44] + ".t" + fmt.Sprint(i) + ".iodine-relay.net"
			out = append(out, bindLine(at, ip, name, "TXT"))
		}
	}
	const letters = "abcdefghijklmnopqrstuvwxyz0123456789"
	for i := range dgas {
		ip := fmt.Sprintf("10.77.0.%d", 1+i)
		label[ip] = "dga"
		for at := from.Add(time.Duration(i) * 11 * time.Millisecond); at.Before(to); at = at.Add(125 * time.Millisecond) {
			n := 10 + rng.IntN(9)
			b := make([]byte, n)
			for j := range b {
				b[j] = letters[rng.IntN(26)] // DGA labels are mostly letters
				if rng.IntN(8) == 0 {
					b[j] = letters[rng.IntN(len(letters))]
				}
			}
			out = append(out, bindLine(at, ip, string(b)+[]string{".com", ".net"}[rng.IntN(2)], "A"))
		}
	}
	return out, label
}

// sortByTime orders BIND lines of one day by their clock time.
func sortByTime(lines []string) {
	clock := func(l string) string {
		fs := strings.SplitN(l, " ", 3)
		if len(fs) < 2 {
			return ""
		}
		return fs[1]
	}
	slices.SortStableFunc(lines, func(a, b string) int { return strings.Compare(clock(a), clock(b)) })
}

// dnsEvents runs BIND lines through a pipeline of 5 s windows scoring with
// m (nil: none), with seen as the node's memory of destinations.
func dnsEvents(t *testing.T, lines []string, m *detect.Model, seen *detect.Seen) []*event.Event {
	t.Helper()
	path := filepath.Join(t.TempDir(), "q.log")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	evs, st := runFile(t, path, Config{Host: "h", Source: "dns", Model: m, Seen: seen, DestKey: nodeKey,
		Parser: format.Parser{Format: format.Bind, Location: time.UTC},
		Window: detect.WindowConfig{Window: 5 * time.Second}})
	if st.Rejected != 0 || st.Late != 0 {
		t.Fatalf("%d lines rejected (%v), %d late", st.Rejected, st.Reasons, st.Late)
	}
	return evs
}

// nodeKey is the destination hash key of the node the tests run as.
var nodeKey = detect.NewDestKey()

// warmSeen returns a Seen that knows the destinations of lines: what a
// node that has resolved them before remembers.
func warmSeen(t *testing.T, lines []string) *detect.Seen {
	t.Helper()
	seen := detect.NewSeen(0, 0, nodeKey)
	dnsEvents(t, lines, nil, seen)
	return seen
}

// TestDetection_DNSRealResolver plants DNS tunnels (iodine-style TXT
// queries of long base32 labels under one domain) and DGA clients (40
// random .com/.net names per 5 s window) in the real resolver log of
// ../shared/data, and measures, with 5 s windows, the share of the
// planted clients' windows flagged and of the real clients' windows.
//
// No real window is scored by a model trained on it: the real clients are
// split in two halves by address; a model is trained on each half (with
// the default DNS features) and scores the other half and the planted
// clients. The node's memory of destinations (for new_domain_share) is
// the other half's traffic, as a resolver knows what its other clients
// asked.
func TestDetection_DNSRealResolver(t *testing.T) {
	real := bindSample(t)
	half := func(ip string) int {
		h := fnv.New32a()
		h.Write([]byte(ip))
		return int(h.Sum32() % 2)
	}
	var halves [2][]string
	for _, l := range real {
		ip := bindClient(l)
		if ip == "" {
			t.Fatalf("no client in %q", l)
		}
		halves[half(ip)] = append(halves[half(ip)], l)
	}
	from := time.Date(2022, 7, 7, 16, 34, 10, 0, time.UTC)
	to := time.Date(2022, 7, 7, 16, 34, 25, 0, time.UTC)
	planted, labels := plantDNS(from, to, 5, 5, 42)
	per := map[string]rate{}
	for h := range 2 {
		train, test := halves[h], halves[1-h]
		m := trainOn(t, dnsEvents(t, train, nil, warmSeen(t, test)), record.KindDNS)
		m.Window = "5s"
		mixed := append(slices.Clone(test), planted...)
		sortByTime(mixed)
		for _, ev := range dnsEvents(t, mixed, m, warmSeen(t, train)) {
			l := labels[ev.SrcIP]
			if l == "" {
				l = "real"
			}
			r := per[l]
			r.total++
			if ev.Anomalous {
				r.hit++
			}
			per[l] = r
		}
	}
	for _, l := range []string{"tunnel", "dga"} {
		if r := per[l]; r.total == 0 || r.frac() < 0.9 {
			t.Errorf("%s: %.3f of windows flagged (%d/%d), want >= 0.9", l, r.frac(), r.hit, r.total)
		}
	}
	if r := per["real"]; r.total < 100 || r.frac() > 0.02 {
		t.Errorf("real client-windows: %.3f flagged (%d/%d), want <= 0.02", r.frac(), r.hit, r.total)
	}
	t.Logf("5 s windows, real BIND traffic of %d lines: tunnel %d/%d flagged, DGA %d/%d, real client-windows %d/%d (%.2f%%)",
		len(real), per["tunnel"].hit, per["tunnel"].total, per["dga"].hit, per["dga"].total,
		per["real"].hit, per["real"].total, 100*per["real"].frac())
}
