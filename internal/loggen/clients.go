package loggen

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"time"
)

// ClientsConfig sets the shape of high-cardinality web traffic: many
// distinct clients, each seen in a few windows with a few lines, as on a
// busy site or an edge server (the shapes that grow a per-key store).
type ClientsConfig struct {
	Seed    uint64
	Start   time.Time     // first window start (aligned to Window)
	Windows int           // number of windows
	Window  time.Duration // default 60s
	// Lines is the approximate number of lines.
	Lines int
	// IPs is the number of distinct client addresses; every one of them
	// makes at least one visit.
	IPs int
	// PerVisit is the mean number of lines of a client in a window it is
	// active in (at least 1).
	PerVisit float64
	// IPOffset shifts the addresses: generators with offsets at least IPs
	// apart share no client (a second day of new clients).
	IPOffset int
}

// Named shapes of ClientsConfig, as `make bench` and the state tests use
// them.
var (
	// BusySite is 2,000,000 lines over 2 hours from 20,000 clients,
	// about 4.7 lines per client and window (~425,000 client-windows).
	BusySite = ClientsConfig{Windows: 120, Lines: 2_000_000, IPs: 20_000, PerVisit: 4.7}
	// ManyClientsDay is a day of 200,000 lines from 100,000 clients,
	// about two lines each, in 1,440 one-minute windows.
	ManyClientsDay = ClientsConfig{Windows: 1440, Lines: 200_000, IPs: 100_000, PerVisit: 2}
)

// Clients writes a combined-format log of cfg's shape to w, in time order,
// and returns its ground truth (every client is Normal).
func Clients(w io.Writer, cfg ClientsConfig) (*Truth, error) {
	if cfg.Window == 0 {
		cfg.Window = time.Minute
	}
	if cfg.Windows < 1 || cfg.IPs < 1 || cfg.Lines < cfg.IPs || cfg.PerVisit < 1 {
		return nil, fmt.Errorf("clients: want windows >= 1, ips >= 1, lines >= ips and per-visit >= 1 (got %d, %d, %d, %g)",
			cfg.Windows, cfg.IPs, cfg.Lines, cfg.PerVisit)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0xc11e))
	site := newSite(rng)
	truth := &Truth{Labels: make(map[string]Label, cfg.IPs), Lines: make(map[Key]int, int(float64(cfg.Lines)/cfg.PerVisit))}

	// Visits: each client once, then random clients until the lines are
	// spent; each visit lands in a random window.
	visits := max(cfg.IPs, int(float64(cfg.Lines)/cfg.PerVisit))
	byWindow := make([][]int32, cfg.Windows)
	for v := range visits {
		ip := v
		if v >= cfg.IPs {
			ip = rng.IntN(cfg.IPs)
		}
		win := rng.IntN(cfg.Windows)
		byWindow[win] = append(byWindow[win], int32(ip))
	}
	ipOf := func(i int) string {
		n := cfg.IPOffset + i + 1
		return fmt.Sprintf("%d.%d.%d.%d", 20+(n>>24)&127, (n>>16)&255, (n>>8)&255, n&255)
	}
	ua := func(i int) string { return browsers[i%len(browsers)] }

	bw := bufio.NewWriterSize(w, 1<<20)
	var hits []hit
	var buf []byte
	for win, ips := range byWindow {
		ws := cfg.Start.Add(time.Duration(win) * cfg.Window)
		hits = hits[:0]
		for _, i := range ips {
			ip := ipOf(int(i))
			truth.Labels[ip] = Normal
			n := max(1, poisson(rng, cfg.PerVisit-1)+1)
			for range n {
				h := hit{t: ws.Add(time.Duration(rng.Int64N(int64(cfg.Window)))), ip: ip, method: "GET", status: 200, ua: ua(int(i))}
				site.visit(rng, &h)
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
