package loggen

import (
	"bufio"
	"encoding/base32"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// DNSConfig sets the size of generated resolver traffic.
type DNSConfig struct {
	Seed    uint64
	Start   time.Time
	Windows int
	Window  time.Duration
	Clients int // normal resolver clients
	Tunnels int // tunnel clients (0 = clean traffic)
}

type query struct {
	t     time.Time
	ip    string
	name  string
	qtype string
}

// DNS writes a BIND 9 query log (timestamps in UTC) and returns its truth.
func DNS(w io.Writer, cfg DNSConfig) (*Truth, error) {
	if cfg.Window == 0 {
		cfg.Window = time.Minute
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0xd05))
	truth := &Truth{Labels: map[string]Label{}, Lines: map[Key]int{}}
	var clients []string
	for i := range cfg.Clients {
		ip := fmt.Sprintf("192.168.%d.%d", 1+i/250, 1+i%250)
		clients = append(clients, ip)
		truth.Labels[ip] = Normal
	}
	var tunnels []string
	for i := range cfg.Tunnels {
		ip := fmt.Sprintf("192.168.200.%d", 1+i)
		tunnels = append(tunnels, ip)
		truth.Labels[ip] = Tunnel
	}
	zipf := rand.NewZipf(rng, 1.1, 1, uint64(len(popular)-1))
	enc := base32.StdEncoding.WithPadding(base32.NoPadding)
	bw := bufio.NewWriterSize(w, 1<<20)
	var qs []query
	seq := 0
	for win := range cfg.Windows {
		ws := cfg.Start.Add(time.Duration(win) * cfg.Window)
		qs = qs[:0]
		at := func() time.Time { return ws.Add(time.Duration(rng.Int64N(int64(cfg.Window)))) }
		for _, ip := range clients {
			if rng.Float64() > 0.5 {
				continue
			}
			for range 1 + poisson(rng, 6) {
				name := popular[zipf.Uint64()]
				if rng.Float64() < 0.3 {
					name = cdnPrefixes[rng.IntN(len(cdnPrefixes))] + "." + name
				}
				qt := "A"
				switch r := rng.Float64(); {
				case r < 0.3:
					qt = "AAAA"
				case r < 0.33:
					qt = "HTTPS"
				case r < 0.34:
					qt = "TXT"
				}
				qs = append(qs, query{at(), ip, name, qt})
			}
		}
		for _, ip := range tunnels {
			if rng.Float64() > 0.7 {
				continue
			}
			for range 20 + poisson(rng, 40) {
				payload := make([]byte, 30+rng.IntN(8))
				for i := range payload {
					payload[i] = byte(rng.UintN(256))
				}
				data := strings.ToLower(enc.EncodeToString(payload))
				seq++
				qt := "TXT"
				if rng.Float64() < 0.3 {
					qt = "A"
				}
				qs = append(qs, query{at(), ip, fmt.Sprintf("%s.%d.t.cdn-sync.net", data, seq), qt})
			}
		}
		slices.SortStableFunc(qs, func(a, b query) int { return a.t.Compare(b.t) })
		for _, q := range qs {
			port := 1024 + rng.IntN(60000)
			ts := q.t.UTC()
			fmt.Fprintf(bw, "%s.%03d queries: info: client @0x7f3a4c0%05x %s#%d (%s): query: %s IN %s +E(0)K (10.0.0.53)\n",
				ts.Format("02-Jan-2006 15:04:05"), ts.Nanosecond()/1e6, rng.IntN(1<<20), q.ip, port, q.name, q.name, q.qtype)
			truth.Lines[Key{q.ip, ws.Unix()}]++
			truth.Total++
		}
	}
	return truth, bw.Flush()
}

var (
	popular = []string{"www.google.com", "www.youtube.com", "graph.facebook.com", "api.github.com", "www.wikipedia.org",
		"outlook.office365.com", "login.microsoftonline.com", "www.amazon.com", "s3.amazonaws.com", "update.ubuntu.com",
		"time.cloudflare.com", "www.bbc.co.uk", "news.ycombinator.com", "slack.com", "zoom.us", "cdn.jsdelivr.net",
		"fonts.googleapis.com", "www.reddit.com", "mail.google.com", "teams.microsoft.com", "www.netflix.com",
		"registry.npmjs.org", "proxy.golang.org", "deb.debian.org", "www.linkedin.com", "api.openai.com"}
	cdnPrefixes = []string{"edge1", "edge2", "static", "img", "media", "r1"}
)
