package loggen

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// Label is the ground-truth role of a source IP.
type Label string

// Labels of generated sources.
const (
	Normal     Label = "normal"
	Crawler    Label = "crawler"
	DirScan    Label = "dirscan"
	BruteForce Label = "bruteforce"
	Scraper    Label = "scraper"
	SlowScan   Label = "slowscan"
	Tunnel     Label = "tunnel"
)

// Attackers lists the web attacker labels.
var Attackers = []Label{DirScan, BruteForce, Scraper, SlowScan}

// WebConfig sets the size of generated web traffic.
type WebConfig struct {
	Seed     uint64
	Start    time.Time     // first window start (aligned to Window)
	Windows  int           // number of windows
	Window   time.Duration // default 60s
	Visitors int           // normal visitor IPs
	Crawlers int           // polite crawler IPs
	// AttackersPerType IPs of each attacker type (0 = clean traffic).
	AttackersPerType int
}

// Truth is the ground truth of a generated log.
type Truth struct {
	Labels map[string]Label // IP -> label
	// Lines counts lines per (IP, window start) pair.
	Lines map[Key]int
	Total int
}

// Key is an (IP, window start) pair.
type Key struct {
	IP    string
	Start int64 // Unix seconds
}

type hit struct {
	t      time.Time
	ip     string
	method string
	path   string
	status int
	size   int
	ua     string
}

// Web writes a combined-format log to w and returns its ground truth.
func Web(w io.Writer, cfg WebConfig) (*Truth, error) {
	if cfg.Window == 0 {
		cfg.Window = time.Minute
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x5eed))
	site := newSite(rng)
	truth := &Truth{Labels: map[string]Label{}, Lines: map[Key]int{}}
	type src struct {
		ip    string
		label Label
		rate  float64 // mean hits per active window
		p     float64 // probability of being active in a window
		ua    string
	}
	var srcs []src
	n := 0
	nextIP := func(prefix int) string {
		n++
		return fmt.Sprintf("%d.%d.%d.%d", prefix, (n>>16)&255, (n>>8)&255, n&255)
	}
	for range cfg.Visitors {
		srcs = append(srcs, src{ip: nextIP(10), label: Normal, rate: math.Exp(rng.NormFloat64()*0.8 + 2.0), p: 0.1 + 0.4*rng.Float64(), ua: browsers[rng.IntN(len(browsers))]})
	}
	for range cfg.Crawlers {
		srcs = append(srcs, src{ip: nextIP(66), label: Crawler, rate: 8 + 10*rng.Float64(), p: 0.9, ua: crawlers[rng.IntN(len(crawlers))]})
	}
	for range cfg.AttackersPerType {
		for _, l := range Attackers {
			s := src{ip: nextIP(185), label: l, p: 0.5, ua: "Mozilla/5.0 (X11; Linux x86_64)"}
			switch l {
			case DirScan:
				s.rate, s.ua = 150+100*rng.Float64(), "gobuster/3.6"
			case BruteForce:
				s.rate, s.ua = 40+40*rng.Float64(), "python-requests/2.31"
			case Scraper:
				s.rate, s.ua = 250+150*rng.Float64(), "Mozilla/5.0 (compatible; DataHarvest/1.0)"
			case SlowScan:
				s.rate, s.p = 3, 0.8
			}
			srcs = append(srcs, s)
		}
	}
	for _, s := range srcs {
		truth.Labels[s.ip] = s.label
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	var hits []hit
	var buf []byte
	for win := range cfg.Windows {
		ws := cfg.Start.Add(time.Duration(win) * cfg.Window)
		hits = hits[:0]
		for _, s := range srcs {
			if rng.Float64() >= s.p {
				continue
			}
			count := poisson(rng, s.rate)
			if count == 0 {
				count = 1
			}
			for range count {
				h := hit{t: ws.Add(time.Duration(rng.Int64N(int64(cfg.Window)))), ip: s.ip, method: "GET", status: 200, ua: s.ua}
				switch s.label {
				case Normal:
					site.visit(rng, &h)
				case Crawler:
					h.path = site.pages[rng.IntN(len(site.pages))]
					h.size = 5000 + rng.IntN(40000)
					if rng.Float64() < 0.03 {
						h.status = 404
					} else if rng.Float64() < 0.05 {
						h.status = 301
					}
				case DirScan:
					h.path = "/" + scanWords[rng.IntN(len(scanWords))] + fmt.Sprintf("%d", rng.IntN(100000))
					h.status, h.size = 404, 200+rng.IntN(100)
					if rng.Float64() < 0.03 {
						h.status = 403
					}
				case BruteForce:
					h.method, h.path = "POST", "/wp-login.php"
					h.status, h.size = 401, 1500
					if rng.Float64() < 0.1 {
						h.status = 200
					}
				case Scraper:
					h.path = fmt.Sprintf("/product/%d", rng.IntN(1000000))
					h.size = 8000 + rng.IntN(30000)
				case SlowScan:
					h.path = "/" + scanWords[rng.IntN(len(scanWords))] + fmt.Sprintf(".%d.bak", rng.IntN(1000))
					h.status, h.size = 404, 250
				}
				hits = append(hits, h)
			}
		}
		var err error
		if buf, err = writeWindow(bw, buf, hits, ws, truth); err != nil {
			return nil, err
		}
	}
	return truth, bw.Flush()
}

// writeWindow writes one window's hits in time order as combined-format
// lines and counts them in truth. It returns buf for reuse.
func writeWindow(w io.Writer, buf []byte, hits []hit, ws time.Time, truth *Truth) ([]byte, error) {
	slices.SortStableFunc(hits, func(a, b hit) int { return a.t.Compare(b.t) })
	for i := range hits {
		h := &hits[i]
		buf = appendCombined(buf[:0], h)
		if _, err := w.Write(buf); err != nil {
			return buf, err
		}
		truth.Lines[Key{h.ip, ws.Unix()}]++
		truth.Total++
	}
	return buf, nil
}

func appendCombined(b []byte, h *hit) []byte {
	b = append(b, h.ip...)
	b = append(b, " - - ["...)
	b = h.t.UTC().AppendFormat(b, "02/Jan/2006:15:04:05 -0700")
	b = append(b, "] \""...)
	b = append(b, h.method...)
	b = append(b, ' ')
	b = append(b, h.path...)
	b = append(b, " HTTP/1.1\" "...)
	b = fmt.Appendf(b, "%d %d \"-\" \"%s\"\n", h.status, h.size, h.ua)
	return b
}

type site struct {
	pages  []string
	assets []string
	zipf   *rand.Zipf
}

func newSite(rng *rand.Rand) *site {
	s := &site{}
	for i := range 300 {
		s.pages = append(s.pages, fmt.Sprintf("/%s/%s-%d", sections[i%len(sections)], words[rng.IntN(len(words))], i))
	}
	for i := range 40 {
		s.assets = append(s.assets, fmt.Sprintf("/static/%s.%d.%s", words[i%len(words)], i, []string{"css", "js", "png", "woff2"}[i%4]))
	}
	s.zipf = rand.NewZipf(rng, 1.2, 2, uint64(len(s.pages)-1))
	return s
}

// visit fills a normal visitor's request.
func (s *site) visit(rng *rand.Rand, h *hit) {
	r := rng.Float64()
	switch {
	case r < 0.45:
		h.path, h.size = s.assets[rng.IntN(len(s.assets))], 2000+rng.IntN(80000)
		if rng.Float64() < 0.1 {
			h.status, h.size = 304, 0
		}
	case r < 0.97:
		h.path, h.size = s.pages[s.zipf.Uint64()], 4000+rng.IntN(60000)
		if rng.Float64() < 0.04 {
			h.status = 301
		}
	case r < 0.99:
		h.path, h.status, h.size = fmt.Sprintf("/%s/%s", sections[rng.IntN(len(sections))], words[rng.IntN(len(words))]), 404, 300
	default:
		h.method, h.path, h.size = "POST", "/comments", 500
		if rng.Float64() < 0.3 {
			h.method, h.path = "POST", "/wp-login.php"
			h.status = 302
		}
	}
}

// poisson draws a Poisson variate (normal approximation for large means).
func poisson(rng *rand.Rand, mean float64) int {
	if mean > 30 {
		v := int(math.Round(mean + math.Sqrt(mean)*rng.NormFloat64()))
		return max(v, 0)
	}
	l, k, p := math.Exp(-mean), 0, 1.0
	for {
		p *= rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

var (
	sections  = []string{"blog", "docs", "news", "shop", "about", "help"}
	words     = []string{"alpha", "bravo", "river", "stone", "cloud", "forest", "harbor", "maple", "orbit", "pixel", "quartz", "summit", "tiger", "violet", "willow", "zephyr"}
	scanWords = []string{"admin", "backup", ".env", ".git/config", "phpmyadmin", "wp-admin", "cgi-bin/test", "config", "old", "db", "shell", "upload", "vendor/phpunit", "server-status", "login", "api/v1/debug"}
	browsers  = []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
		"Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
	}
	crawlers = []string{"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"}
)
