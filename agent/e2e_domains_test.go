package agent_test

import (
	"bufio"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/publicsuffix"

	"github.com/socx/sharkfin/internal/e2etest"
	"github.com/socx/sharkfin/internal/enrichtest"
)

// domainInput is an input of a domain test's configuration.
type domainInput struct{ name, path, format string }

// domainConfig is what a domain test configures.
type domainConfig struct {
	inputs      []domainInput
	proxyModel  string // detect.models.proxy
	dnsModel    string // detect.models.dns
	categories  string // detect.domains.categories
	emit        string // detect.domains.emit ("" for the default)
	lateness    string // default 5s
	enrich      string // YAML of detect.domains.enrich, indented by 6 ("" for none)
	seenKeep    string // detect.domains.seen_retention ("" for the default)
	modelCheck  string // detect.model_check (the category list is checked as often)
	flushLines  int    // state.flush_lines (0: the default)
	metricsAddr string
}

// writeDomainConfig writes dir/sharkfin.yaml for c and returns a harness
// for it, with the metrics endpoint on.
func newDomainAgent(t *testing.T, dir string, c domainConfig) *agentHarness {
	t.Helper()
	if c.metricsAddr == "" {
		c.metricsAddr = e2etest.FreeAddr(t)
	}
	or := func(s, def string) string {
		if s == "" {
			return def
		}
		return s
	}
	var b strings.Builder
	fmt.Fprintf(&b, "host: e2e\ninputs:\n")
	for _, in := range c.inputs {
		fmt.Fprintf(&b, "  - name: %s\n    path: %q\n    format: %s\n    start_at: beginning\n    timezone: UTC\n", in.name, in.path, in.format)
	}
	fmt.Fprintf(&b, "state:\n  path: %q\n  flush_interval: 200ms\n  lock_timeout: 1s\n", filepath.Join(dir, "state", "state.db"))
	if c.flushLines > 0 {
		fmt.Fprintf(&b, "  flush_lines: %d\n", c.flushLines)
	}
	fmt.Fprintf(&b, "detect:\n  window: 60s\n  lateness: %s\n  emit: all\n  model_check: %s\n  models:\n", or(c.lateness, "5s"), or(c.modelCheck, "5s"))
	if c.proxyModel != "" {
		fmt.Fprintf(&b, "    proxy: %q\n", c.proxyModel)
	}
	if c.dnsModel != "" {
		fmt.Fprintf(&b, "    dns: %q\n", c.dnsModel)
	}
	fmt.Fprintf(&b, "  domains:\n    emit: %s\n", or(c.emit, "uncategorized"))
	if c.seenKeep != "" {
		fmt.Fprintf(&b, "    seen_retention: %s\n", c.seenKeep)
	}
	if c.categories != "" {
		fmt.Fprintf(&b, "    categories: %q\n", c.categories)
	}
	if c.enrich != "" {
		fmt.Fprintf(&b, "    enrich:\n%s", c.enrich)
	}
	fmt.Fprintf(&b, "output:\n  stdout: {}\nmetrics:\n  listen: %q\n", c.metricsAddr)
	path := filepath.Join(dir, "sharkfin.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, path)
	h.metrics = c.metricsAddr
	return h
}

// proxyModel trains a proxy model on the real Squid samples (the agent
// needs a model for every input's kind) and returns its path.
func proxyModel(t *testing.T, dir string) string {
	t.Helper()
	out := filepath.Join(dir, "proxy.json")
	args := []string{"train", "--format", "squid", "--k", "3", "--seed", "1", "-o", out}
	sharkfin(t, append(args, squidSamples(t)...)...)
	return out
}

// squidSamples are the real Squid access logs in ../shared/data (or
// $SHARKFIN_SHARED_DATA); the test is skipped without them, as the other
// packages' tests of the real logs are.
func squidSamples(t *testing.T) []string {
	t.Helper()
	dir := os.Getenv("SHARKFIN_SHARED_DATA")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "data")
	}
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("real logs folder %s absent (set SHARKFIN_SHARED_DATA): %v", dir, err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "squid-*", "*.log"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Squid samples in %s: %v", dir, err)
	}
	for i, f := range files {
		if files[i], err = filepath.Abs(f); err != nil {
			t.Fatal(err)
		}
	}
	return files
}

// domainCell is one destination's window, as the tests count it.
type domainCell struct {
	source, domain string
	start          int64 // Unix s
}

type domainCount struct {
	hits, bytes int64
	clients     map[string]bool
	isIP        bool
}

// countSquid counts a Squid log per destination and 60s window, on its own:
// the host of the URL (or of a CONNECT's host:port), lowercased, its
// registrable domain by golang.org/x/net/publicsuffix (an address is its
// own destination); lines naming no host (error: URLs) are counted apart.
func countSquid(t *testing.T, source, path string, into map[domainCell]*domainCount) (noHost int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Complete lines only: a last line without its newline is still being
	// written, as far as a tailer knows.
	data = data[:strings.LastIndexByte(string(data), '\n')+1]
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 7 {
			continue
		}
		ts, err := strconv.ParseFloat(fs[0], 64)
		if err != nil {
			continue
		}
		host := squidHost(fs[5], fs[6])
		if host == "" {
			noHost++
			continue
		}
		key, isIP := host, false
		if ip := net.ParseIP(host); ip != nil {
			key, isIP = ip.String(), true
		} else if reg, err := publicsuffix.EffectiveTLDPlusOne(host); err == nil {
			key = reg
		}
		cell := domainCell{source, key, int64(math.Floor(ts/60)) * 60}
		c := into[cell]
		if c == nil {
			c = &domainCount{clients: map[string]bool{}, isIP: isIP}
			into[cell] = c
		}
		n, _ := strconv.ParseInt(fs[4], 10, 64)
		c.hits++
		c.bytes += n
		c.clients[fs[2]] = true
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return noHost
}

// squidHost is the destination host of a Squid request: the authority of
// an absolute URL, or a CONNECT's host:port, without user, port or IPv6
// brackets, lowercased; "" when the URL names none.
func squidHost(method, url string) string {
	var auth string
	if i := strings.Index(url, "://"); i > 0 {
		auth = url[i+3:]
		if j := strings.IndexAny(auth, "/?#"); j >= 0 {
			auth = auth[:j]
		}
		if j := strings.LastIndexByte(auth, '@'); j >= 0 {
			auth = auth[j+1:]
		}
	} else if method == "CONNECT" {
		auth = url
	} else {
		return ""
	}
	if h, _, err := net.SplitHostPort(auth); err == nil {
		auth = h
	}
	auth = strings.TrimSuffix(strings.Trim(auth, "[]"), ".")
	return strings.ToLower(auth)
}

// TestAgent_DomainCountsOnRealSquid: the real Squid samples give one
// domain event per destination and window whose hits, bytes, clients and
// is_ip equal what the test counts on its own; lines naming no
// destination (error: URLs) are counted in
// sharkfin_lines_without_destination_total; every destination is new in
// its first window only.
func TestAgent_DomainCountsOnRealSquid(t *testing.T) {
	dir := t.TempDir()
	samples := squidSamples(t)
	want := map[domainCell]*domainCount{}
	var inputs []domainInput
	noHost := map[string]int{}
	for i, s := range samples {
		name := fmt.Sprintf("squid%d", i)
		inputs = append(inputs, domainInput{name, s, "squid"})
		noHost[name] = countSquid(t, name, s, want)
	}
	h := newDomainAgent(t, dir, domainConfig{inputs: inputs, proxyModel: proxyModel(t, dir), emit: "all", lateness: "10s",
		// The samples are of 2006, 2010 and 2025: remember destinations
		// across those years (by default one unseen for 90 days of event
		// time is forgotten, and new again).
		seenKeep: "200000h"})
	h.startReady()
	events := newEventLog(h)
	var got []*printed
	if !waitFor(60*time.Second, func() bool {
		events.refresh()
		got = events.domainEvents()
		return len(got) >= len(want)
	}) {
		t.Fatalf("%d domain events within 60s, want %d", len(got), len(want))
	}
	seenNew := map[string]int64{}
	for _, p := range got {
		e := p.ev
		cell := domainCell{e.Source, e.Domain, e.WindowStart.Unix()}
		w := want[cell]
		if w == nil {
			t.Errorf("unexpected domain event %s", p.raw)
			continue
		}
		if e.Hits != w.hits || e.Bytes != w.bytes || e.Clients != int64(len(w.clients)) || e.IsIP != w.isIP || e.Kind != "proxy" {
			t.Errorf("%+v: hits %d bytes %d clients %d is_ip %v kind %s, want %d %d %d %v proxy",
				cell, e.Hits, e.Bytes, e.Clients, e.IsIP, e.Kind, w.hits, w.bytes, len(w.clients), w.isIP)
		}
		for _, ip := range e.ClientIPs {
			if !w.clients[ip] {
				t.Errorf("%+v: client %s listed, not one of the window's", cell, ip)
			}
		}
		if len(e.ClientIPs) != min(4, len(w.clients)) {
			t.Errorf("%+v: %d client IPs listed, want %d", cell, len(e.ClientIPs), min(4, len(w.clients)))
		}
		if !e.Uncategorized || e.Category != nil {
			t.Errorf("%+v: no category list, yet categorized: %s", cell, p.raw)
		}
		if e.New {
			if _, dup := seenNew[e.Domain]; dup {
				t.Errorf("%s new twice", e.Domain)
			}
			seenNew[e.Domain] = e.WindowStart.Unix()
		}
		delete(want, cell)
	}
	for cell, w := range want {
		t.Errorf("no domain event for %+v (%d hits)", cell, w.hits)
	}
	// Each destination is new exactly once: in the first of its windows
	// the agent counted (the inputs run side by side, over different
	// years). first_seen is the earliest window seen so far: the new
	// window's own start, and never after any window's start.
	for _, p := range got {
		e := p.ev
		if _, ok := seenNew[e.Domain]; !ok {
			t.Errorf("%s: never new", e.Domain)
		}
		if e.FirstSeen.After(e.WindowStart) || (e.New && !e.FirstSeen.Equal(e.WindowStart)) {
			t.Errorf("%s window %s new %v: first_seen %s", e.Domain, e.WindowStart, e.New, e.FirstSeen)
		}
	}
	for name, n := range noHost {
		if got := h.sample("sharkfin_lines_without_destination_total", "input", name); got != float64(n) {
			t.Errorf("%s: %v lines without a destination, want %d", name, got, n)
		}
		if late := h.sample("sharkfin_lines_late_total", "input", name); late != 0 {
			t.Errorf("%s: %v late lines", name, late)
		}
	}
	if n := events.dups + len(events.badJSON) + len(events.diff); n != 0 {
		t.Errorf("dups %d bad %v diff %v", events.dups, events.badJSON, events.diff)
	}
	t.Logf("%d domain events from %d samples match the independent counts (%v lines without a destination)", len(got), len(samples), noHost)
}

// squidLine is a Squid native log line of a GET (or a CONNECT when url is
// host:port) at t.
func squidLine(t time.Time, client, method, url string, bytes int) string {
	return fmt.Sprintf("%d.%03d %6d %s TCP_MISS/200 %d %s %s - HIER_DIRECT/192.0.2.1 text/html\n",
		t.Unix(), t.Nanosecond()/1e6, 120, client, bytes, method, url)
}

// browsing is a proxy's traffic: 20 workstations browsing 40 categorized
// sites (a few requests a minute each, over www., static. and CONNECT),
// and a workstation beaconing every 60 s to one uncategorized domain, for
// minutes from base. It returns the lines per minute, the first minute
// each site is asked for, and the category CSV.
func browsing(base time.Time, minutes int, beacon string) (lines [][]string, firstMinute map[string]int, csv string) {
	firstMinute = map[string]int{}
	var cats strings.Builder
	cats.WriteString("domain,category\n")
	for d := range 40 {
		fmt.Fprintf(&cats, "site-%02d.com,news\n", d)
	}
	rnd := uint64(7)
	next := func(n int) int {
		rnd ^= rnd << 13
		rnd ^= rnd >> 7
		rnd ^= rnd << 17
		return int(rnd % uint64(n))
	}
	for m := range minutes {
		var ls []string
		for s := range 60 {
			at := base.Add(time.Duration(m)*time.Minute + time.Duration(s)*time.Second)
			for range 2 { // about 2 requests a second
				d := next(40)
				site := fmt.Sprintf("site-%02d.com", d)
				if _, ok := firstMinute[site]; !ok {
					firstMinute[site] = m
				}
				client := fmt.Sprintf("10.1.0.%d", 10+next(20))
				switch next(3) {
				case 0:
					ls = append(ls, squidLine(at, client, "GET", "http://www."+site+"/article/"+strconv.Itoa(next(1000)), 1000+next(50000)))
				case 1:
					ls = append(ls, squidLine(at, client, "GET", "http://static."+site+"/img/"+strconv.Itoa(next(100))+".png", 100+next(9000)))
				default:
					ls = append(ls, squidLine(at, client, "CONNECT", "www."+site+":443", 5000+next(90000)))
				}
			}
			if s == 17 {
				ls = append(ls, squidLine(at, "10.1.0.66", "GET", "http://"+beacon+"/ping?id=42", 311))
			}
		}
		lines = append(lines, ls)
	}
	return lines, firstMinute, cats.String()
}

// killOnceCommitted kills the agent (kill -9) once it has read written
// lines of input and committed since.
func (h *agentHarness) killOnceCommitted(input string, written int) {
	h.t.Helper()
	if !waitFor(30*time.Second, func() bool {
		return h.sample("sharkfin_lines_read_total", "input", input) == float64(written)
	}) {
		h.t.Fatalf("%d lines of %s not read within 30s", written, input)
	}
	commits := h.sample("sharkfin_state_commits_total")
	if !waitFor(10*time.Second, func() bool { return h.sample("sharkfin_state_commits_total") > commits }) {
		h.t.Fatal("no commit within 10s")
	}
	h.kill()
}

// appendLines appends the lines of minutes to path and returns how many.
func appendLines(t *testing.T, path string, minutes [][]string) int {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	for _, m := range minutes {
		for _, l := range m {
			if _, err := f.WriteString(l); err != nil {
				t.Fatal(err)
			}
			n++
		}
	}
	return n
}

// TestAgent_BeaconFlaggedNewOnceThroughKill: a workstation beaconing every
// 60 s to one uncategorized domain among normal browsing of categorized
// sites. With detect.domains.emit uncategorized, the beacon's domain has
// a domain event in every window, flagged uncategorized, with exactly one
// hit each, and is new in the first only, through a kill -9 and a
// restart part way; each categorized site has one event, when it is new,
// and never again (the seen destinations survive the kill).
func TestAgent_BeaconFlaggedNewOnceThroughKill(t *testing.T) {
	dir := t.TempDir()
	const minutes, beacon = 20, "upd.zqxjcdn.xyz"
	base := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	lines, firstMinute, csv := browsing(base, minutes, beacon)
	cats := filepath.Join(dir, "categories.csv")
	if err := os.WriteFile(cats, []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "access.log")
	h := newDomainAgent(t, dir, domainConfig{inputs: []domainInput{{"proxy", logPath, "squid"}},
		proxyModel: proxyModel(t, dir), categories: cats, lateness: "2s"})
	written := appendLines(t, logPath, lines[:minutes/2])
	h.startReady()
	h.killOnceCommitted("proxy", written)
	h.startReady()
	written += appendLines(t, logPath, lines[minutes/2:])
	events := newEventLog(h)
	beaconWindows := map[int64]*printed{}
	if !waitFor(60*time.Second, func() bool {
		events.refresh()
		for _, p := range events.domainEvents() {
			if p.ev.Domain == "zqxjcdn.xyz" {
				beaconWindows[p.ev.WindowStart.Unix()] = p
			}
		}
		return len(beaconWindows) == minutes
	}) {
		t.Fatalf("beacon events in %d windows within 60s, want %d", len(beaconWindows), minutes)
	}
	newOnes := 0
	for m := range minutes {
		p := beaconWindows[base.Add(time.Duration(m)*time.Minute).Unix()]
		if p == nil {
			t.Errorf("minute %d: no beacon event", m)
			continue
		}
		e := p.ev
		if e.Hits != 1 || e.Bytes != 311 || e.Clients != 1 || !e.Uncategorized || e.Category != nil || e.IsIP ||
			len(e.ClientIPs) != 1 || e.ClientIPs[0] != "10.1.0.66" || len(e.Hosts) != 1 || e.Hosts[0] != beacon ||
			!e.FirstSeen.Equal(base) {
			t.Errorf("minute %d: %s", m, p.raw)
		}
		if e.New {
			newOnes++
			if m != 0 {
				t.Errorf("beacon new in minute %d", m)
			}
		}
	}
	if newOnes != 1 {
		t.Errorf("beacon new in %d windows, want 1", newOnes)
	}
	// Every categorized site: one event, in the window it was new, with
	// its category; the kill made none new twice.
	sites := map[string]int{}
	for _, p := range events.domainEvents() {
		e := p.ev
		if e.Domain == "zqxjcdn.xyz" {
			continue
		}
		sites[e.Domain]++
		if !e.New || e.Uncategorized || e.Category == nil || *e.Category != "news" {
			t.Errorf("categorized site sent when not new or without its category: %s", p.raw)
		}
		if m, ok := firstMinute[e.Domain]; !ok || !e.WindowStart.Equal(base.Add(time.Duration(m)*time.Minute)) {
			t.Errorf("%s new in window %s, first asked for in minute %d", e.Domain, e.WindowStart, m)
		}
	}
	for site := range firstMinute {
		if sites[site] != 1 {
			t.Errorf("%s: %d events, want 1", site, sites[site])
		}
	}
	if len(events.badJSON)+len(events.diff) != 0 {
		t.Errorf("bad %v diff %v", events.badJSON, events.diff)
	}
	// The state says the same, read while the agent runs: by any host of
	// the domain, and among the top domains.
	out, err := exec.Command(sharkfinBinary(t), "state", "-c", h.cfg, "domain", "UPD.zqxjcdn.xyz").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "domain zqxjcdn.xyz first seen on this node in the window of 2026-11-02T09:00:00Z") ||
		!strings.Contains(string(out), fmt.Sprintf("hits %d bytes %d windows %d flagged %d", minutes, 311*minutes, minutes, minutes)) {
		t.Errorf("sharkfin state domain: %v\n%s", err, out)
	}
	out, err = exec.Command(sharkfinBinary(t), "state", "-c", h.cfg, "top", "--kind", "domain", "-n", "50").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "zqxjcdn.xyz") || !strings.Contains(string(out), "site-00.com") || !strings.Contains(string(out), "flagged") {
		t.Errorf("sharkfin state top --kind domain: %v\n%s", err, out)
	}
	t.Logf("beacon: %d windows flagged uncategorized, new once; %d sites new once each; %d events re-sent after the kill (same ids)",
		len(beaconWindows), len(sites), events.dups)
}

// waitDomainEvent waits up to 20 s for the domain event of domain in the
// window starting at start.
func waitDomainEvent(t *testing.T, events *eventLog, domain string, start time.Time) *jsonEvent {
	t.Helper()
	var ev *jsonEvent
	if !waitFor(20*time.Second, func() bool {
		events.refresh()
		for _, p := range events.domainEvents() {
			if p.ev.Domain == domain && p.ev.WindowStart.Equal(start) {
				ev = &p.ev
				return true
			}
		}
		return false
	}) {
		t.Fatalf("no event of %s in the window of %s", domain, start)
	}
	return ev
}

// writeAtomic replaces path with data by a rename, as a deployment tool
// does.
func writeAtomic(t *testing.T, path, data string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestAgent_CategoriesReloadAndRejection: the category list is reloaded
// when it changes, without a restart: a domain listed from then on is
// categorized in its next windows. A list that does not load is rejected
// with its file and line (an agent event and a metric), and the last good
// one stays in use.
func TestAgent_CategoriesReloadAndRejection(t *testing.T) {
	dir := t.TempDir()
	base := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	cats := filepath.Join(dir, "categories.csv")
	writeAtomic(t, cats, "domain,category\nsite-00.com,news\n")
	logPath := filepath.Join(dir, "access.log")
	h := newDomainAgent(t, dir, domainConfig{inputs: []domainInput{{"proxy", logPath, "squid"}},
		proxyModel: proxyModel(t, dir), categories: cats, emit: "all", lateness: "1s", modelCheck: "200ms"})
	h.startReady()
	events := newEventLog(h)
	// window m: one request to site-00.com and one to c2.zqxjcdn.xyz;
	// the next window's first line closes it.
	minute := func(m int) {
		at := base.Add(time.Duration(m) * time.Minute)
		appendLines(t, logPath, [][]string{{squidLine(at, "10.0.0.1", "GET", "http://www.site-00.com/", 100),
			squidLine(at.Add(time.Second), "10.0.0.2", "GET", "http://c2.zqxjcdn.xyz/p", 100)}})
	}
	category := func(m int, domain string) (cat string, found bool) {
		t.Helper()
		ev := waitDomainEvent(t, events, domain, base.Add(time.Duration(m)*time.Minute))
		if ev.Category == nil {
			if !ev.Uncategorized {
				t.Errorf("%s minute %d: no category, not uncategorized", domain, m)
			}
			return "", false
		}
		return *ev.Category, true
	}
	minute(0)
	minute(1)
	if c, ok := category(0, "site-00.com"); !ok || c != "news" {
		t.Errorf("site-00.com: %q %v", c, ok)
	}
	if _, ok := category(0, "zqxjcdn.xyz"); ok {
		t.Error("zqxjcdn.xyz categorized before it was listed")
	}
	// List it (a subdomain listing covers only that host: list the
	// registrable domain) and wait until the list in use has 2 names.
	writeAtomic(t, cats, "domain,category\nsite-00.com,news\nzqxjcdn.xyz,malware\n")
	if !waitFor(10*time.Second, func() bool { return h.sample("sharkfin_category_list_domains") == 2 }) {
		t.Fatal("the changed list was not loaded within 10s")
	}
	minute(2)
	if c, ok := category(1, "zqxjcdn.xyz"); !ok || c != "malware" {
		t.Errorf("after the reload, zqxjcdn.xyz: %q %v", c, ok)
	}
	// A broken list: rejected, the last good one kept.
	writeAtomic(t, cats, "domain,category\nsite-00.com,news\nthis line has no comma\n")
	if !waitFor(10*time.Second, func() bool { return h.sample("sharkfin_category_list_rejections_total") == 1 }) {
		t.Fatal("the broken list was not rejected within 10s")
	}
	minute(3)
	if c, ok := category(2, "zqxjcdn.xyz"); !ok || c != "malware" {
		t.Errorf("after a rejected reload, zqxjcdn.xyz: %q %v (the last good list must stay)", c, ok)
	}
	rejected := events.agentEvents("category list rejected")
	if len(rejected) != 1 || !strings.Contains(rejected[0].ev.Detail["error"], "categories.csv") ||
		!strings.Contains(rejected[0].ev.Detail["error"], ":3") {
		t.Errorf("rejection events %d: %+v (want the file and line 3)", len(rejected), rejected)
	}
}

// TestAgent_EnrichmentFromLoopbackServers: bare-IP destinations of a Squid
// log point at a TLS server on loopback presenting a certificate with
// known names, and WHOIS is asked of a loopback server that refers to
// another. The first window of a destination goes out without enrichment
// (the lookup is queued, never waited for); its next windows carry the
// certificate's names and the WHOIS record of the most specific server;
// a second sight is a cache hit (one query); after the TTL it is looked up
// again. An uncategorized domain gets the WHOIS of its registrable domain.
func TestAgent_EnrichmentFromLoopbackServers(t *testing.T) {
	dir := t.TempDir()
	port := enrichtest.TLSServer(t, "c2.evil.example", "www.evil.example")
	iana, rir := enrichtest.NewWhois(t, false), enrichtest.NewWhois(t, false)
	iana.Answer("127.0.0.1", "refer: "+rir.Addr()+"\n\ninetnum: 127.0.0.0 - 127.255.255.255\n")
	rir.Answer("127.0.0.1", "inetnum: 127.0.0.0 - 127.0.0.255\nnetname: LOOPNET\norg-name: Loopback Hosting\ncountry: ZZ\ncreated: 2019-05-05\n")
	iana.Answer("zqxjcdn.xyz", "refer: "+rir.Addr()+"\n")
	rir.Answer("zqxjcdn.xyz", "Domain Name: zqxjcdn.xyz\nRegistrant Organization: Fresh Names\nRegistrant Country: RU\nCreation Date: 2026-11-28T00:00:00Z\n")
	logPath := filepath.Join(dir, "access.log")
	enrich := fmt.Sprintf("      tls: true\n      whois: true\n      whois_server: %s\n      tls_port: %s\n      timeout: 2s\n      rate: 50\n      ttl: 3s\n",
		iana.Addr(), port)
	h := newDomainAgent(t, dir, domainConfig{inputs: []domainInput{{"proxy", logPath, "squid"}},
		proxyModel: proxyModel(t, dir), emit: "all", lateness: "1s", enrich: enrich})
	h.startReady()
	events := newEventLog(h)
	base := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	minute := func(m int) {
		at := base.Add(time.Duration(m) * time.Minute)
		appendLines(t, logPath, [][]string{{squidLine(at, "10.0.0.7", "CONNECT", "127.0.0.1:443", 4000),
			squidLine(at.Add(time.Second), "10.0.0.7", "GET", "http://c2.zqxjcdn.xyz/p", 100)}})
	}
	event := func(m int, domain string) *jsonEvent {
		t.Helper()
		return waitDomainEvent(t, events, domain, base.Add(time.Duration(m)*time.Minute))
	}
	lookupsDone := func(n float64) {
		t.Helper()
		if !waitFor(10*time.Second, func() bool { return h.sample("sharkfin_enrich_lookups_total", "outcome", "done") >= n }) {
			t.Fatalf("%v lookups done within 10s", n)
		}
	}
	minute(0)
	minute(1) // closes minute 0 (lateness 1s)
	if e := event(0, "127.0.0.1"); !e.IsIP || e.Enrichment != nil {
		t.Errorf("minute 0: first sight already enriched or not a bare IP: %+v", e)
	}
	lookupsDone(2) // the address and the domain
	minute(2)
	ip, dom := event(1, "127.0.0.1"), event(1, "zqxjcdn.xyz")
	if ip.Enrichment == nil || strings.Join(ip.Enrichment.TLSNames, ",") != "c2.evil.example,www.evil.example" ||
		ip.Enrichment.Whois == nil || ip.Enrichment.Whois.Org != "Loopback Hosting" || ip.Enrichment.Whois.Country != "ZZ" ||
		ip.Enrichment.Whois.Created != "2019-05-05" || ip.Enrichment.Whois.Server != rir.Addr() {
		t.Errorf("minute 1, the address: enrichment %+v", ip.Enrichment)
	}
	if dom.Enrichment == nil || dom.Enrichment.Whois == nil || dom.Enrichment.Whois.Org != "Fresh Names" ||
		dom.Enrichment.Whois.Created != "2026-11-28" || len(dom.Enrichment.TLSNames) != 0 {
		t.Errorf("minute 1, the domain: enrichment %+v", dom.Enrichment)
	}
	if n := iana.Asked("127.0.0.1"); n != 1 {
		t.Errorf("IANA asked about the address %d times after two sights, want 1 (cached)", n)
	}
	// After the TTL (3s) the next sight asks again.
	// Each poll writes the next minute, closing the last: a new sight.
	m := 3
	if !waitFor(15*time.Second, func() bool {
		minute(m)
		m++
		return iana.Asked("127.0.0.1") == 2
	}) {
		t.Fatalf("the expired result was not looked up again (IANA asked %d times)", iana.Asked("127.0.0.1"))
	}
}
