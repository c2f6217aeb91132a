package pipeline

import (
	"bufio"
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/socx/sharkfin/detect"
	"github.com/socx/sharkfin/event"
	"github.com/socx/sharkfin/record"
	"github.com/socx/sharkfin/tailer/format"
)

// A real site's log: its lines with their event times, in time order.
type siteLog struct {
	name  string
	lines []timedLine
}

type timedLine struct {
	at     int64 // Unix ns
	client string
	text   string
}

// realSites reads the team's real web logs (../shared/data), one site each.
func realSites(t *testing.T) []siteLog {
	t.Helper()
	root := sharedData(t)
	sets := []struct {
		name  string
		files []string
	}{
		{"realserver-2020", nil},
		{"wordpress-2025", []string{"wordpress-2025/access.log"}},
		{"elastic-apache", []string{"elastic-apache/apache_logs"}},
		{"realserver-vhosts", nil},
	}
	for i := 14; i >= 1; i-- { // the rotation set, oldest first
		sets[0].files = append(sets[0].files, fmt.Sprintf("realserver-2020/access.log.%d", i))
	}
	for i := 7; i >= 0; i-- { // vhost_combined, the same server's other sites
		f := "realserver-2020/other_vhosts_access.log"
		if i > 0 {
			f += fmt.Sprintf(".%d", i)
		}
		sets[3].files = append(sets[3].files, f)
	}
	p := format.Parser{Format: format.Combined, Location: time.UTC}
	var sites []siteLog
	for _, set := range sets {
		if only := os.Getenv("SHARKFIN_EVAL_SITES"); only != "" && !slices.Contains(strings.Split(only, ","), set.name) {
			continue
		}
		s := siteLog{name: set.name}
		for _, f := range set.files {
			fh, err := os.Open(filepath.Join(root, f))
			if err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(fh)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			var r record.Record
			for sc.Scan() {
				if p.Parse(sc.Bytes(), &r) != nil {
					continue
				}
				s.lines = append(s.lines, timedLine{r.Time, string(r.Client), sc.Text()})
			}
			fh.Close()
			if err := sc.Err(); err != nil {
				t.Fatal(err)
			}
		}
		slices.SortStableFunc(s.lines, func(a, b timedLine) int { return cmp.Compare(a.at, b.at) })
		sites = append(sites, s)
	}
	return sites
}

// heldOutSite was added after the model's defaults were chosen on the
// others, to see them on a site they were not tuned to. Its figures are
// reported apart from the others' totals, with floors of their own: on it
// the default model misses the scraper (see the README, "What it
// catches"). The flood rule, which catches its brute force, was added after
// it was seen here.
const heldOutSite = "realserver-vhosts"

// Planted traffic labels.
const (
	labelReal    = "real"
	labelProber  = "slow prober"
	labelTrickle = "trickle scanner"
	// labelClean are the real windows of clients without a 4xx response
	// that day (day_4xx 0): not scanners.
	labelClean = "real, no 4xx that day"
	// labelExploit are the real windows of clients that, somewhere in the
	// site's log, asked for a well-known exploit target (exploitPaths):
	// real attackers, which a flag finds rightly. labelBenign are the
	// other real windows: the false alerts are among them.
	labelExploit = "real, exploit client"
	labelBenign  = "real, others"
	// labelHuman are labelBenign's windows of clients whose user agent
	// never declared a crawler ("bot", "crawl", "spider"), which a site
	// may allowlist by user agent (inputs[].allow).
	labelHuman = "real, others, no declared crawler"
	// labelAudited are labelBenign's windows of clients that the hand audit
	// (testdata/audit.tsv) did not find to be scanners or scrapers: what
	// is flagged among them is a false alert.
	labelAudited = "real, audited benign"
	labelScan    = "directory scan"
	labelBrute   = "brute force"
	labelScrape  = "scraper"
)

// probePaths are what a slow prober asks: sensitive files no site serves.
var probePaths = []string{
	"/.env.bak", "/wp-config.php.bak", "/.git/config", "/backup.sql", "/config.php~", "/.aws/credentials",
	"/db.sql.gz", "/.svn/entries", "/admin/.htpasswd", "/dump.sql", "/site.tar.gz", "/.ssh/id_rsa",
	"/web.config.old", "/phpinfo.php", "/.DS_Store", "/wp-content/debug.log", "/config.json.bak",
	"/database.yml", "/.npmrc", "/server-status", "/backup.zip", "/old/index.php.bak", "/.htaccess.bak",
	"/secrets.yml", "/api/.env", "/app/config/parameters.yml", "/storage/logs/laravel.log", "/.vscode/sftp.json",
	"/credentials.json", "/www.zip",
}

// exploitPaths are request targets of mass exploitation and vulnerability
// scanning, as published by scanners and exploit databases (phpunit's
// eval-stdin, ThinkPHP's invokefunction, Liferay's jsonws, router and
// appliance CGIs, leaked dotfiles, admin panels a site does not run, path
// traversal, Log4Shell). They serve only as ground truth here, to tell the
// real log's attackers from its other clients: the detector never sees
// them. Matched case-insensitively anywhere in the request line.
var exploitPaths = []string{
	"eval-stdin.php", "invokefunction", "/api/jsonws", "xdebug_session_start", "/solr/admin", "wp-file-manager",
	"/.env", "/.git/", "/.aws/", "/.ssh/", "/.svn/", "/.ds_store", "/phpmyadmin", "/pma/", "/myadmin", "/mysqladmin",
	"/adminer", "/hnap1", "/boaform", "/gponform", "/cgi-bin/", "/setup.cgi", "/shell.php", "/manager/html",
	"/actuator", "/jenkins", "/druid/", "/_ignition", "/telescope", "/owa/", "/autodiscover", "/remote/login",
	"/wp-config.php", "/etc/passwd", "../", "%2e%2e", "${jndi", "/bin/sh", "wget%20", "wget+", "/containers/json",
	"/vendor/phpunit", "/phpinfo", "/server-status", "/admin/config.php", "/config/getuser", "/login.action", "/struts",
	"/debug/default/view", "/sftp-config.json", "/.vscode/", "/xmlrpc.php", "/wp-admin/setup-config.php",
	"/mifs/", "/ecp/", "/dana-na/", "/jmx-console", "/invoker/", "/hudson", "/nmaplowercheck",
	"/portal/redlion", "/ctrlt/", "/tmui/", "/cf_scripts/", "/evox/", "/editblackandwhitelist", "/.htpasswd",
	// Added after a hand audit of the flagged "others" (README, "Who the
	// others are"), each checked to match no legitimate client of these
	// four logs: ThinkPHP and IPTV-panel probes, an absolute URL as the
	// request target (open-proxy checks), C2 stager hunting, WordPress
	// user enumeration, webshell hunting, FCKeditor, Joomla's admin (none
	// of the four sites runs Joomla).
	"/thinkphp", "/stalker_portal", " http://", "stager64", "/wp/v2/users", "?author=", "alfacgiapi",
	"/wordpresscore/", "/fckeditor", "/administrator/",
}

// exploitClients returns the clients of lines that asked for an
// exploitPaths target.
func exploitClients(lines []timedLine) map[string]bool {
	out := map[string]bool{}
	for _, l := range lines {
		if out[l.client] {
			continue
		}
		_, req, ok := strings.Cut(l.text, `"`)
		if !ok {
			continue
		}
		req, _, _ = strings.Cut(req, `"`)
		req = strings.ToLower(req)
		for _, p := range exploitPaths {
			if strings.Contains(req, p) {
				out[l.client] = true
				break
			}
		}
	}
	return out
}

// auditedAttackers returns the clients of site that testdata/audit.tsv
// classes as scanners or scrapers. A line that is not a known site, an
// address, a known class and evidence fails the test: a typo must not
// turn an attacker into a benign client.
func auditedAttackers(t *testing.T, site string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "audit.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	sites := []string{"realserver-2020", "wordpress-2025", "elastic-apache", heldOutSite}
	classes := []string{"scanner", "scraper", "crawler", "self", "person", "unsure"}
	out := map[string]bool{}
	for i, line := range slices.Collect(strings.Lines(string(b))) {
		if strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(strings.TrimRight(line, "\r\n"), "\t")
		if len(f) != 4 || !slices.Contains(sites, f[0]) || !slices.Contains(classes, f[2]) || f[3] == "" {
			t.Fatalf("testdata/audit.tsv:%d: want site, client, class (%v) and evidence, tab-separated: %q", i+1, classes, line)
		}
		if _, err := netip.ParseAddr(f[1]); err != nil {
			t.Fatalf("testdata/audit.tsv:%d: %v", i+1, err)
		}
		if f[0] == site && (f[2] == "scanner" || f[2] == "scraper") {
			out[f[1]] = true
		}
	}
	return out
}

// declaredCrawlers returns the clients of lines whose user agent (the
// last quoted field) says "bot", "crawl" or "spider".
func declaredCrawlers(lines []timedLine) map[string]bool {
	out := map[string]bool{}
	for _, l := range lines {
		low := strings.ToLower(l.text)
		if i := strings.LastIndex(low, `" "`); i > 0 && (strings.Contains(low[i:], "bot") || strings.Contains(low[i:], "crawl") || strings.Contains(low[i:], "spider")) {
			out[l.client] = true
		}
	}
	return out
}

// plant writes the planted attackers' lines over a site's time span: each
// label's clients are from their own documentation range, so no real
// client is one of them.
func plant(rng *rand.Rand, first, last int64, realPaths []string) ([]timedLine, map[string]string) {
	labels := map[string]string{}
	var out []timedLine
	line := func(at time.Time, ip, method, path string, status, size int, ua string) {
		out = append(out, timedLine{at.UnixNano(), ip, fmt.Sprintf(`%s - - [%s] "%s %s HTTP/1.1" %d %d "-" "%s"`,
			ip, at.Format("02/Jan/2006:15:04:05 -0700"), method, path, status, size, ua)})
		labels[ip] = labelOf(ip)
	}
	minute := func() time.Time { // a random whole minute within the span
		m := (first + rng.Int64N(max(last-first, 1))) / int64(time.Minute) * int64(time.Minute)
		return time.Unix(0, m).UTC()
	}
	// Slow probers: 4 addresses, 8 minutes each spread over the span,
	// 3-6 never-served sensitive paths a minute, all 404.
	for p := range 4 {
		ip := fmt.Sprintf("198.51.100.%d", 10+p)
		for range 8 {
			at := minute()
			n := 3 + rng.IntN(4)
			for _, j := range rng.Perm(len(probePaths))[:n] {
				at = at.Add(time.Duration(1+rng.IntN(10)) * time.Second)
				line(at, ip, "GET", probePaths[j], 404, 180+rng.IntN(40), "Mozilla/5.0 (Windows NT 10.0; Win64; x64)")
			}
		}
	}
	// Trickle scanners: 2 addresses, each 90 minutes of one or two
	// never-served paths a minute, all 404.
	for p := range 2 {
		ip := fmt.Sprintf("198.51.100.%d", 50+p)
		at := minute()
		for range 90 {
			for range 1 + rng.IntN(2) {
				line(at.Add(time.Duration(rng.IntN(50))*time.Second), ip, "GET", probePaths[rng.IntN(len(probePaths))]+fmt.Sprint(rng.IntN(100)), 404, 180+rng.IntN(40), "Mozilla/5.0 (X11; Linux x86_64)")
			}
			at = at.Add(time.Minute)
		}
	}
	// Fast attackers, 5 minutes each of 3 addresses a kind.
	for a := range 3 {
		scan, brute, scrape := fmt.Sprintf("203.0.113.%d", 10+a), fmt.Sprintf("203.0.113.%d", 40+a), fmt.Sprintf("203.0.113.%d", 70+a)
		for range 5 {
			at := minute()
			for i := range 90 { // a directory scan: 90 guesses a minute
				line(at.Add(time.Duration(i)*600*time.Millisecond), scan, "GET", fmt.Sprintf("/%s%d/", []string{"admin", "backup", "test", "old", "dev"}[i%5], rng.IntN(1000)), 404, 200, "gobuster/3.6")
			}
			at = minute()
			for i := range 40 { // password guessing
				line(at.Add(time.Duration(i)*1400*time.Millisecond), brute, "POST", "/wp-login.php", 200, 4200, "Mozilla/5.0")
			}
			at = minute()
			for i := range 150 { // a scraper taking the site's pages
				line(at.Add(time.Duration(i)*390*time.Millisecond), scrape, "GET", realPaths[rng.IntN(len(realPaths))], 200, 9000+rng.IntN(9000), "python-requests/2.31")
			}
		}
	}
	return out, labels
}

func labelOf(ip string) string {
	switch {
	case strings.HasPrefix(ip, "198.51.100.5"):
		return labelTrickle
	case strings.HasPrefix(ip, "198.51.100."):
		return labelProber
	case strings.HasPrefix(ip, "203.0.113.1"):
		return labelScan
	case strings.HasPrefix(ip, "203.0.113.4"):
		return labelBrute
	case strings.HasPrefix(ip, "203.0.113.7"):
		return labelScrape
	}
	return labelReal
}

// windowsOf runs lines through a pipeline.
func windowsOf(t *testing.T, lines []timedLine, cfg Config) []*event.Event {
	t.Helper()
	cfg.Host, cfg.Source = "h", "eval"
	cfg.Parser = format.Parser{Format: format.Combined, Location: time.UTC}
	cfg.DestKey = detect.DestKeyFromSeed(1) // the same tags of rare-error paths every run
	var evs []*event.Event
	p, err := New(cfg, func(ev *event.Event) {
		if !ev.Overflow {
			evs = append(evs, ev.Clone())
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lines {
		p.Line([]byte(l.text))
	}
	p.Flush()
	if st := p.Stats(); st.Rejected > 0 {
		t.Fatalf("%d lines rejected: %v", st.Rejected, st.Reasons)
	}
	return evs
}

// offlineHorizonNames are horizons the agent does not keep, computed by
// the evaluation for every client to measure whether they would pay off
// (SHARKFIN_EVAL_FEATURES=...,day_active): decayed sums, as the agent's
// (time constants an hour and a day), of the windows' distinct paths,
// rare hits, and of the windows themselves (windows active); of its hits,
// and the hour's and day's rare errors as a share of them
// (hour_rare_error_share). (The new rare errors were measured here first
// too; the agent keeps them now: hour_new_rare_errors.)
var offlineHorizonNames = []string{"hour_paths", "hour_rare_hits", "hour_active", "day_paths", "day_rare_hits", "day_active",
	"hour_hits", "day_hits", "hour_rare_error_share", "day_rare_error_share",
	"ua_rare_share", "ua_rare_hits"}

// uaRare, for the offline features ua_rare_share and ua_rare_hits (the
// last two of offlineHorizonNames): the share and count of a window's
// requests whose normalised user agent (normUA) is not among those that at
// least SHARKFIN_EVAL_UA_MIN (default 2) distinct clients of the training
// lines sent. It returns, per client and window start (Unix seconds), the
// window's requests and rare-UA requests.
func uaRare(train, test []timedLine) map[string]map[int64][2]float64 {
	minClients, _ := strconv.Atoi(os.Getenv("SHARKFIN_EVAL_UA_MIN"))
	minClients = cmp.Or(minClients, 2)
	senders := map[string]map[string]bool{}
	for _, l := range train {
		ua := normUA(l.text)
		if senders[ua] == nil {
			senders[ua] = map[string]bool{}
		}
		senders[ua][l.client] = true
	}
	out := map[string]map[int64][2]float64{}
	p := format.Parser{Format: format.Combined, Location: time.UTC}
	var r record.Record
	for _, l := range test {
		if p.Parse([]byte(l.text), &r) != nil {
			continue
		}
		c := string(r.Client)
		if out[c] == nil {
			out[c] = map[int64][2]float64{}
		}
		w := r.Time / 1e9
		w -= w % 60
		x := out[c][w]
		x[0]++
		if len(senders[normUA(l.text)]) < minClients {
			x[1]++
		}
		out[c][w] = x
	}
	return out
}

// uaOf is a combined line's user agent, its last quoted field.
func uaOf(text string) string {
	text = strings.TrimRight(text, " \r\n")
	if !strings.HasSuffix(text, `"`) {
		return ""
	}
	i := strings.LastIndex(text[:len(text)-1], `"`)
	if i < 0 {
		return ""
	}
	return text[i+1 : len(text)-1]
}

// normUA is a line's user agent lowercased, every run of digits one '0',
// trimmed.
func normUA(text string) string {
	ua := strings.ToLower(strings.TrimSpace(uaOf(text)))
	var b strings.Builder
	digit := false
	for _, c := range ua {
		if c >= '0' && c <= '9' {
			if !digit {
				b.WriteByte('0')
			}
			digit = true
			continue
		}
		digit = false
		b.WriteRune(c)
	}
	return b.String()
}

// withUA appends ua_rare_share and ua_rare_hits to each window's offline
// horizons.
func withUA(evs []*event.Event, hz [][]float64, ua map[string]map[int64][2]float64) [][]float64 {
	for i, ev := range evs {
		x := ua[ev.SrcIP][ev.WindowStart.Unix()]
		hz[i] = append(hz[i], x[1]/max(x[0], 1), x[1])
	}
	return hz
}

// browserUA is the site's most common browser user agent: of the GETs
// answered 200, the one with a browser engine ("Gecko", which WebKit's
// "like Gecko" has too) the most distinct clients sent, crawlers and
// tools ("bot", "crawl", "spider", "zgrab", "headless") aside. SHARKFIN_EVAL_UA_SPOOF=1
// gives it to every planted attacker, as real ones spoof a browser; any
// other value is the user agent given them.
func browserUA(lines []timedLine) string {
	clients := map[string]map[string]bool{}
	for _, l := range lines {
		if !strings.Contains(l.text, `"GET `) || !strings.Contains(l.text, `" 200 `) {
			continue
		}
		ua := uaOf(l.text)
		low := strings.ToLower(ua)
		if !strings.HasPrefix(ua, "Mozilla/") || !strings.Contains(ua, "Gecko") ||
			strings.Contains(low, "bot") || strings.Contains(low, "crawl") || strings.Contains(low, "spider") || strings.Contains(low, "zgrab") || strings.Contains(low, "headless") {
			continue
		}
		if clients[ua] == nil {
			clients[ua] = map[string]bool{}
		}
		clients[ua][l.client] = true
	}
	best := ""
	for ua, c := range clients {
		if len(c) > len(clients[best]) || len(c) == len(clients[best]) && ua < best {
			best = ua
		}
	}
	return best
}

// offlineIdx are the vector positions of the placeholder names of
// offline-trained models: FeatureNames' positions but those the probe and
// flood rules read, which scoreOffline fills from the window.
func offlineIdx(n int) []int {
	var idx []int
	for j := range detect.FeatureNames(record.KindWeb) {
		if j != detect.WebRareErrors && j != detect.WebRareHits && j != detect.WebPost && j != detect.WebDistinctPaths && len(idx) < n {
			idx = append(idx, j)
		}
	}
	return idx
}

// offlineHorizons computes offlineHorizonNames for every window of evs.
func offlineHorizons(evs []*event.Event) [][]float64 {
	type entry struct {
		last int64
		sums [8]float64
	}
	clients := map[string]*entry{}
	order := make([]int, len(evs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return evs[a].WindowStart.Compare(evs[b].WindowStart) })
	out := make([][]float64, len(evs))
	for _, i := range order {
		ev := evs[i]
		now := ev.WindowStart.Unix()
		e := clients[ev.SrcIP]
		if e == nil {
			e = &entry{last: now}
			clients[ev.SrcIP] = e
		}
		dt := float64(now - e.last)
		fh, fd := math.Exp(-dt/3600), math.Exp(-dt/86400)
		paths, _ := ev.Features.Get("distinct_paths")
		rare, _ := ev.Features.Get("rare_hits")
		for j, x := range [3]float64{paths, rare, 1} {
			e.sums[j] = e.sums[j]*fh + x
			e.sums[3+j] = e.sums[3+j]*fd + x
		}
		hits, _ := ev.Features.Get("hits")
		e.sums[6] = e.sums[6]*fh + hits
		e.sums[7] = e.sums[7]*fd + hits
		e.last = now
		hre, _ := ev.Features.Get("hour_rare_errors")
		dre, _ := ev.Features.Get("day_rare_errors")
		out[i] = append(slices.Clone(e.sums[:]), hre/max(e.sums[6], 1), dre/max(e.sums[7], 1))
	}
	return out
}

// scoreOffline scores evs against m, trained on features (offline
// horizons among them) under placeholder names, the kind's feature names
// at the offlineIdx positions: the Scorer then reads model feature j at
// vector position offlineIdx[j], where featureOf's value is put, and the
// probe and flood rules read the window's own values at theirs.
func scoreOffline(t *testing.T, m *detect.Model, evs []*event.Event, hz [][]float64, features []string) {
	t.Helper()
	idx := offlineIdx(len(features))
	if len(idx) < len(features) {
		t.Fatalf("%d offline features: at most %d", len(features), len(idx))
	}
	sc, err := detect.NewScorer(m, record.KindWeb)
	if err != nil {
		t.Fatal(err)
	}
	vec := make([]float64, len(detect.FeatureNames(record.KindWeb)))
	for i, ev := range evs {
		for j, n := range features {
			vec[idx[j]] = featureOf(ev, hz[i], n)
		}
		// the probe and flood rules read these there
		vec[detect.WebRareErrors], _ = ev.Features.Get("rare_errors")
		vec[detect.WebRareHits], _ = ev.Features.Get("rare_hits")
		vec[detect.WebPost], _ = ev.Features.Get("post")
		vec[detect.WebDistinctPaths], _ = ev.Features.Get("distinct_paths")
		s := sc.ScoreKey(ev.SrcIP, vec)
		ev.Score, ev.Anomalous = s.Score, s.Anomalous
	}
}

// featureOf is a window's feature n, offline horizons included.
func featureOf(ev *event.Event, hz []float64, n string) float64 {
	if i := slices.Index(offlineHorizonNames, n); i >= 0 {
		return hz[i]
	}
	v, _ := ev.Features.Get(n)
	return v
}

type evalResult map[string]*rate

func (r evalResult) add(label string, flagged bool) {
	if r[label] == nil {
		r[label] = &rate{}
	}
	r[label].total++
	if flagged {
		r[label].hit++
	}
}

// evaluateSites measures detection on the real sites: each site's log is
// split in two halves in time; a model (and its path vocabulary) is
// trained on one half and scores the other with the planted attackers
// merged in, and the other way round, so no real window is scored by a
// model that learnt it.
func evaluateSites(t *testing.T, sites []siteLog, features []string, inSample bool, seed uint64) (evalResult, map[string]evalResult) {
	t.Helper()
	total := evalResult{}
	per := map[string]evalResult{}
	var scoreLog map[string][]float64
	if os.Getenv("SHARKFIN_EVAL_SCORES") != "" {
		scoreLog = map[string][]float64{}
		defer func() {
			for _, l := range []string{labelProber, labelTrickle, labelScan, labelBrute, labelScrape, labelReal, labelClean} {
				xs := scoreLog[l]
				if len(xs) == 0 {
					continue
				}
				slices.Sort(xs)
				q := func(f float64) float64 { return xs[int(f*float64(len(xs)-1))] }
				t.Logf("SCORES %-22s n=%5d q01=%.2f q05=%.2f q10=%.2f q50=%.2f q90=%.2f q99=%.2f q995=%.2f", l, len(xs), q(.01), q(.05), q(.1), q(.5), q(.9), q(.99), q(.995))
			}
		}()
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	for _, s := range sites {
		per[s.name] = evalResult{}
		hostile := exploitClients(s.lines)
		crawlers := declaredCrawlers(s.lines)
		audited := auditedAttackers(t, s.name)
		var realPaths []string
		for _, l := range s.lines {
			if strings.Contains(l.text, `" 200 `) {
				if _, rest, ok := strings.Cut(l.text, `"GET `); ok {
					p, _, _ := strings.Cut(rest, " ")
					realPaths = append(realPaths, p)
				}
			}
		}
		mid := len(s.lines) / 2
		for half := range 2 {
			train, test := s.lines[:mid], s.lines[mid:]
			if half == 1 {
				train, test = test, train
			}
			if inSample {
				if half == 1 {
					break
				}
				train, test = s.lines, s.lines
			}
			planted, labels := plant(rng, test[0].at, test[len(test)-1].at, realPaths)
			if spoof := os.Getenv("SHARKFIN_EVAL_UA_SPOOF"); spoof != "" {
				ua := spoof
				if spoof == "1" {
					ua = browserUA(s.lines)
				}
				if half == 0 {
					t.Logf("%s: planted attackers' user agent %q", s.name, ua)
				}
				for i, l := range planted {
					j := strings.LastIndex(l.text[:len(l.text)-1], `"`)
					planted[i].text = l.text[:j+1] + ua + `"`
				}
			}
			test = append(slices.Clip(test), planted...)
			slices.SortStableFunc(test, func(a, b timedLine) int { return cmp.Compare(a.at, b.at) })
			var v *detect.Vocabulary
			{
				b := detect.NewVocabBuilderSeeded(seed)
				p := format.Parser{Format: format.Combined, Location: time.UTC}
				var r record.Record
				for _, l := range train {
					if p.Parse([]byte(l.text), &r) == nil {
						b.Add(&r)
					}
				}
				v = b.Vocabulary()
			}
			evs := windowsOf(t, train, Config{Vocabulary: v})
			// Horizons the agent does not keep (offlineHorizonNames) are
			// computed here, over every client.
			offline := slices.ContainsFunc(features, func(n string) bool { return slices.Contains(offlineHorizonNames, n) }) ||
				os.Getenv("SHARKFIN_EVAL_OFFLINE") != ""
			// The user agents' rarity only when asked for: it reads every line again.
			needUA := slices.ContainsFunc(features, func(n string) bool { return strings.HasPrefix(n, "ua_") })
			uaOfWindows := func(lines []timedLine) map[string]map[int64][2]float64 {
				if !needUA && os.Getenv("SHARKFIN_EVAL_UA_STATS") == "" {
					return nil
				}
				return uaRare(train, lines)
			}
			hz := withUA(evs, offlineHorizons(evs), uaOfWindows(train))
			// As `sharkfin train` does: probes are left out
			// (SHARKFIN_EVAL_PROBES sets the rare errors of a probe; 0: none).
			minRare := detect.DefaultProbeRareErrors
			if v, err := strconv.Atoi(os.Getenv("SHARKFIN_EVAL_PROBES")); err == nil {
				minRare = v
			}
			rows := make([][]float64, 0, len(evs))
			full := make([]float64, len(detect.FeatureNames(record.KindWeb)))
			for i, ev := range evs {
				for j, f := range ev.Features {
					full[j] = f.Value
				}
				if detect.IsProbe(record.KindWeb, full, minRare) {
					continue
				}
				row := make([]float64, len(features))
				for j, n := range features {
					row[j] = featureOf(ev, hz[i], n)
				}
				rows = append(rows, row)
			}
			names := features
			if offline { // known names to carry them through training
				names = nil
				for _, j := range offlineIdx(len(features)) {
					names = append(names, detect.FeatureNames(record.KindWeb)[j])
				}
			}
			q, _ := strconv.ParseFloat(os.Getenv("SHARKFIN_EVAL_Q"), 64)
			sf, _ := strconv.ParseFloat(os.Getenv("SHARKFIN_EVAL_STDFLOOR"), 64)
			mt, _ := strconv.ParseFloat(os.Getenv("SHARKFIN_EVAL_MINTHR"), 64)
			ms, _ := strconv.ParseFloat(os.Getenv("SHARKFIN_EVAL_MINSHARE"), 64)
			kk, _ := strconv.Atoi(os.Getenv("SHARKFIN_EVAL_K"))
			m, _, err := detect.Train(rows, detect.TrainConfig{Kind: record.KindWeb, Seed: 1, Features: names, Vocabulary: v, Quantile: q,
				StdFloor: sf, MinThreshold: mt, MinShare: ms, K: kk,
				Now: func() time.Time { return time.Unix(0, 0) }})
			if err != nil {
				t.Fatal(err)
			}
			m.RecordProbeRule(minRare) // as train does
			if os.Getenv("SHARKFIN_EVAL_DUMP") == s.name {
				for c, cen := range m.Centroids {
					raw := make([]string, len(cen))
					for j, z := range cen {
						raw[j] = fmt.Sprintf("%s=%.1f", features[j], math.Expm1(z*m.Transform.Std[j]+m.Transform.Mean[j]))
					}
					t.Logf("CLUSTER %d size %d threshold %.2f: %s", c, m.Training.Sizes[c], m.Thresholds[c], strings.Join(raw, " "))
				}
				t.Logf("STD %v SILHOUETTE %v", m.Transform.Std, m.Training.Silhouette)
			}
			var scored []*event.Event
			if !offline {
				scored = windowsOf(t, test, Config{Model: m})
			} else {
				scored = windowsOf(t, test, Config{Vocabulary: v})
				shz := withUA(scored, offlineHorizons(scored), uaOfWindows(test))
				scoreOffline(t, m, scored, shz, features)
				if os.Getenv("SHARKFIN_EVAL_UA_STATS") != "" { // windows with a rare user agent, per label
					rare, all := map[string]int{}, map[string]int{}
					for i, ev := range scored {
						l := cmp.Or(labels[ev.SrcIP], labelReal)
						if l == labelReal {
							l = labelBenign
							if hostile[ev.SrcIP] {
								l = labelExploit
							}
						}
						all[l]++
						if featureOf(ev, shz[i], "ua_rare_hits") > 0 {
							rare[l]++
						}
					}
					t.Logf("UASTATS %s half %d: rare-UA windows %v of %v", s.name, half, rare, all)
				}
			}
			for _, ev := range scored {
				label := labels[ev.SrcIP]
				if label == "" {
					label = labelReal
				}
				if s.name != heldOutSite {
					total.add(label, ev.Anomalous)
				}
				if d, _ := ev.Features.Get("day_4xx"); label == labelReal && d == 0 {
					if s.name != heldOutSite {
						total.add(labelClean, ev.Anomalous)
					}
					per[s.name].add(labelClean, ev.Anomalous)
				}
				if label == labelReal {
					sub := labelBenign
					if hostile[ev.SrcIP] {
						sub = labelExploit
					}
					if s.name != heldOutSite {
						total.add(sub, ev.Anomalous)
					}
					per[s.name].add(sub, ev.Anomalous)
					if sub == labelBenign && !audited[ev.SrcIP] {
						if s.name != heldOutSite {
							total.add(labelAudited, ev.Anomalous)
						}
						per[s.name].add(labelAudited, ev.Anomalous)
					}
					if sub == labelBenign && !crawlers[ev.SrcIP] {
						if s.name != heldOutSite {
							total.add(labelHuman, ev.Anomalous)
						}
						per[s.name].add(labelHuman, ev.Anomalous)
					}
				}
				if os.Getenv("SHARKFIN_EVAL_DUMP") == s.name && (label == labelReal && ev.Anomalous && (os.Getenv("SHARKFIN_EVAL_DUMP_ALL") != "" || !hostile[ev.SrcIP]) || os.Getenv("SHARKFIN_EVAL_DUMP_MISSED") != "" && label != labelReal && !ev.Anomalous) {
					e2xx, _ := ev.Features.Get("hits_2xx")
					non, _ := ev.Features.Get("hits_non2xx")
					dp, _ := ev.Features.Get("distinct_paths")
					rh, _ := ev.Features.Get("rare_hits")
					re, _ := ev.Features.Get("rare_errors")
					po, _ := ev.Features.Get("post")
					d4, _ := ev.Features.Get("day_4xx")
					hr, _ := ev.Features.Get("hour_rare_errors")
					hn, _ := ev.Features.Get("hour_new_rare_errors")
					t.Logf("FLAG %s %s %s 2xx=%v non2xx=%v paths=%v post=%v rare=%v rare_err=%v hre=%.1f hnew=%.1f d4=%.1f score=%.2f reason=%s", label, ev.SrcIP, ev.WindowStart.UTC().Format("01-02T15:04"), e2xx, non, dp, po, rh, re, hr, hn, d4, ev.Score, ev.Reason)
				}
				per[s.name].add(label, ev.Anomalous)
				if scoreLog != nil {
					scoreLog[label] = append(scoreLog[label], ev.Score)
					if d, _ := ev.Features.Get("day_4xx"); label == labelReal && d == 0 {
						scoreLog[labelClean] = append(scoreLog[labelClean], ev.Score)
					}
				}
			}
		}
	}
	return total, per
}

func (r evalResult) String() string {
	var b strings.Builder
	for _, l := range []string{labelProber, labelTrickle, labelScan, labelBrute, labelScrape, labelReal, labelExploit, labelBenign, labelHuman, labelAudited, labelClean} {
		if x := r[l]; x != nil {
			fmt.Fprintf(&b, " %s %d/%d (%.1f%%);", l, x.hit, x.total, 100*x.frac())
		}
	}
	return b.String()
}

// TestDetection_SlowProbersOnRealSites plants, in each real web log of
// ../shared/data, slow probers (3-6 never-served sensitive paths a minute,
// all 404, 8 minutes each spread over the log's span), trickle scanners
// (one or two such probes a minute for 90 minutes) and fast attackers
// (directory scan, brute force, scraper), and measures the share of each
// one's windows the default web model flags, and of the real
// client-windows, in two set-ups:
//   - in-sample: the model (and its path vocabulary) learnt from the whole
//     real log scores it with the attackers merged in (the issue's "a real
//     site's traffic with planted probers");
//   - split: trained on one half of the log in time, scoring the other
//     half, both ways round: a model meeting traffic it never saw.
//
// The figures are in the README (Detection). The thresholds below are the
// measured figures less a margin: a change that costs detection fails here.
// Where they fall short of issue #16's goals (>= 50% of probers' windows,
// <= 1% of real client-windows, fast attackers >= 95%) the README says so.
// SHARKFIN_EVAL_FEATURES (comma-separated), SHARKFIN_EVAL_Q (quantile),
// SHARKFIN_EVAL_PROBES (the rare errors of a probe left out of training),
// SHARKFIN_EVAL_SEED and SHARKFIN_EVAL_MODE (insample or split) explore
// other choices; SHARKFIN_EVAL_DUMP=<site> lists its flagged real windows.
// The user agents' rarity (offline features ua_rare_share, ua_rare_hits;
// README, "User agents"): SHARKFIN_EVAL_UA_MIN (clients that make a user
// agent known, 2), SHARKFIN_EVAL_UA_SPOOF (1: the planted attackers send the
// site's most common browser user agent; any other value: that one),
// SHARKFIN_EVAL_UA_STATS (rare-UA windows per label, on the offline path
// only), SHARKFIN_EVAL_OFFLINE (the offline scoring path for the default
// features).
func TestDetection_SlowProbersOnRealSites(t *testing.T) {
	sites := realSites(t)
	features := detect.DefaultModelFeatures(record.KindWeb)
	explore := os.Getenv("SHARKFIN_EVAL_FEATURES") != "" || os.Getenv("SHARKFIN_EVAL_Q") != "" || os.Getenv("SHARKFIN_EVAL_SEED") != "" ||
		os.Getenv("SHARKFIN_EVAL_PROBES") != "" ||
		os.Getenv("SHARKFIN_EVAL_STDFLOOR") != "" || os.Getenv("SHARKFIN_EVAL_MINTHR") != "" || os.Getenv("SHARKFIN_EVAL_MINSHARE") != "" || os.Getenv("SHARKFIN_EVAL_K") != "" ||
		os.Getenv("SHARKFIN_EVAL_UA_SPOOF") != ""
	if f := os.Getenv("SHARKFIN_EVAL_FEATURES"); f != "" {
		features = strings.Split(f, ",")
	}
	seed := uint64(1)
	if v, err := strconv.ParseUint(os.Getenv("SHARKFIN_EVAL_SEED"), 10, 64); err == nil {
		seed = v
	}
	type floor struct {
		label string
		min   float64 // share flagged at least
		max   float64 // at most
	}
	modes := []struct {
		name   string
		floors []floor
		// heldOut: the floors of the held-out site (heldOutSite).
		heldOut []floor
	}{
		{"insample", []floor{{labelProber, 0.95, 1}, {labelTrickle, 0.92, 1}, {labelScan, 0.95, 1}, {labelBrute, 0.95, 1},
			{labelScrape, 0.95, 1}, {labelReal, 0, 0.016}, {labelBenign, 0, 0.01}, {labelAudited, 0, 0.005}, {labelClean, 0, 0.003}},
			[]floor{{labelProber, 0.85, 1}, {labelTrickle, 0.75, 1}, {labelScan, 0.95, 1}, {labelBrute, 0.95, 1}, {labelReal, 0, 0.03},
				{labelAudited, 0, 0.02}, {labelClean, 0, 0.01}}},
		{"split", []floor{{labelProber, 0.95, 1}, {labelTrickle, 0.9, 1}, {labelScan, 0.95, 1}, {labelBrute, 0.95, 1},
			{labelScrape, 0.95, 1}, {labelReal, 0, 0.025}, {labelBenign, 0, 0.016}, {labelAudited, 0, 0.012}, {labelClean, 0, 0.01}},
			[]floor{{labelProber, 0.85, 1}, {labelTrickle, 0.8, 1}, {labelScan, 0.5, 1}, {labelBrute, 0.95, 1}, {labelReal, 0, 0.06},
				{labelAudited, 0, 0.045}, {labelClean, 0, 0.01}}},
	}
	for _, mode := range modes {
		if m := os.Getenv("SHARKFIN_EVAL_MODE"); m != "" && m != mode.name {
			continue
		}
		t.Run(mode.name, func(t *testing.T) {
			total, per := evaluateSites(t, sites, features, mode.name == "insample", seed)
			for _, s := range sites {
				t.Logf("%s:%s", s.name, per[s.name])
			}
			t.Logf("all sites but %s, features %v:%s", heldOutSite, features, total)
			if explore || os.Getenv("SHARKFIN_EVAL_SITES") != "" {
				return
			}
			check := func(what string, r evalResult, floors []floor) {
				for _, f := range floors {
					x := r[f.label]
					if x == nil || x.total == 0 {
						t.Errorf("%s, %s: no windows", what, f.label)
						continue
					}
					if v := x.frac(); v < f.min || v > f.max {
						t.Errorf("%s, %s: %d/%d windows flagged (%.2f%%), want %.1f%% to %.1f%%", what, f.label, x.hit, x.total, 100*v, 100*f.min, 100*f.max)
					}
				}
			}
			check("all sites but "+heldOutSite, total, mode.floors)
			check(heldOutSite, per[heldOutSite], mode.heldOut)
		})
	}
}

// The evaluation's offline path (the one that scores offline features:
// detect.Scorer on vectors it builds) flags exactly the windows the
// agent's path (the pipeline with the model) flags, for the default
// features, on the held-out site (where the flood rule catches brute force:
// the offline path once left the rule's inputs out) and wordpress-2025,
// in-sample and split: a figure measured offline is the agent's.
func TestDetection_OfflinePathIsTheAgents(t *testing.T) {
	t.Setenv("SHARKFIN_EVAL_SITES", heldOutSite+",wordpress-2025")
	t.Setenv("SHARKFIN_EVAL_OFFLINE", "")
	sites := realSites(t)
	features := detect.DefaultModelFeatures(record.KindWeb)
	for _, inSample := range []bool{true, false} {
		_, agent := evaluateSites(t, sites, features, inSample, 1)
		t.Setenv("SHARKFIN_EVAL_OFFLINE", "1")
		_, offline := evaluateSites(t, sites, features, inSample, 1)
		t.Setenv("SHARKFIN_EVAL_OFFLINE", "")
		for _, s := range sites {
			if a, o := agent[s.name].String(), offline[s.name].String(); a != o {
				t.Errorf("%s, in-sample %v:\nagent  %s\noffline %s", s.name, inSample, a, o)
			}
		}
		if r := agent[heldOutSite][labelBrute]; r == nil || r.hit == 0 {
			t.Errorf("%s, in-sample %v: no brute force flagged (%v): the comparison does not cover the flood rule", heldOutSite, inSample, agent[heldOutSite])
		}
	}
}
