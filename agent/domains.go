package agent

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/socx/sharkfin/agent/config"
	"github.com/socx/sharkfin/detect"
	"github.com/socx/sharkfin/detect/category"
	"github.com/socx/sharkfin/enrich"
	"github.com/socx/sharkfin/event"
	"github.com/socx/sharkfin/record"
	"github.com/socx/sharkfin/state"
)

// The per-domain report: every proxy and DNS input counts per destination
// (registrable domain, or bare address) besides per client (see
// pipeline.Pipeline.DestAggregator). A destination's closed window waits
// for the next commit like a client's (closedDest); the committer then
// looks its category up, adds what enrichment knows, writes its history
// and, as detect.domains.emit says, its domain event. Whether a window is
// the destination's first ever (`new`) is decided on the main loop
// (detect.Seen) and committed with the counts that made it, so a crash
// can neither lose nor repeat it.

// closedDest is one destination's result in a closed window, waiting for
// the next commit.
type closedDest struct {
	in         *input
	start, end int64
	key        string
	off, n     int32 // its counters: vecs[off : off+n]
	isIP, new  bool
	firstSeen  int64 // Unix ns
	// The first few clients, users and full host names: strs[str :
	// str+nc], then nu users, then nh hosts, in the cut's strs.
	str        int32
	nc, nu, nh uint8
}

// lists returns d's clients, users and hosts from strs.
func (d *closedDest) lists(strs []string) (clients, users, hosts []string) {
	c := int(d.str)
	u := c + int(d.nc)
	h := u + int(d.nu)
	e := h + int(d.nh)
	return strs[c:u:u], strs[u:h:h], strs[h:e:e]
}

// deferDest returns the callback that keeps an input's closed destination
// windows for the next commit.
func (a *Agent) deferDest(in *input) func(*detect.Result) {
	return func(r *detect.Result) {
		a.closed++
		off := len(a.vecs)
		a.vecs = append(a.vecs, r.Vector...)
		d := r.Dest
		str := len(a.destStrs)
		a.destStrs = append(append(append(a.destStrs, d.Clients...), d.Users...), d.Names...)
		a.dests = append(a.dests, closedDest{in: in, start: r.Start, end: r.End, key: r.Key,
			off: int32(off), n: int32(len(r.Vector)), isIP: d.IsIP, new: d.New, firstSeen: d.FirstSeen,
			str: int32(str), nc: uint8(len(d.Clients)), nu: uint8(len(d.Users)), nh: uint8(len(d.Names))})
	}
}

// domainReport is what the committer needs to turn destinations' windows
// into events: the category list and the lookups.
type domainReport struct {
	cats *category.Reloader // nil: no list, every domain uncategorized
	enr  *enrich.Service    // nil: no lookups
}

// openDomains loads the category list and prepares the lookups, if
// configured. A list that cannot be loaded stops the start, naming the
// file and line (as `sharkfin check` does).
func (a *Agent) openDomains(st *state.Store) error {
	dc := &a.cfg.Detect.Domains
	if dc.Categories != "" {
		r, err := category.NewReloader(dc.Categories)
		if err != nil {
			return fmt.Errorf("detect.domains.categories: %w", err)
		}
		a.domains.cats = r
		a.metrics.setCategories(r.List())
	}
	if e := dc.Enrich; e.On() {
		cfg := enrich.Config{TLS: e.TLS, Whois: e.WHOIS, TLSTimeout: e.Timeout.Std(), Workers: e.Workers,
			Rate: e.Rate, TTL: e.TTL.Std(), NegativeTTL: e.NegativeTTL.Std(),
			WhoisCfg: enrich.WhoisConfig{Server: e.WhoisServer, Timeout: e.Timeout.Std()},
			RDAP:     e.RDAP, RDAPCfg: enrich.RDAPConfig{Server: e.RDAPServer, Timeout: e.Timeout.Std()}}
		if e.TLSPort != 0 {
			cfg.TLSPort = strconv.Itoa(e.TLSPort)
		}
		a.domains.enr = enrich.New(cfg, st, a.opt.Logger.With(logComponent, "enrich"))
		a.metrics.reg.MustRegister(newEnrichCollector(a.domains.enr))
	}
	return nil
}

// runEnrich runs the lookups until ctx ends (nothing without them).
func (a *Agent) runEnrich(ctx context.Context) {
	if a.domains.enr != nil {
		a.domains.enr.Run(ctx)
	}
}

// categoryCheck is what a look at the category list's files found.
type categoryCheck struct {
	swapped bool
	err     error
}

// runCategories looks at the category list's files every
// detect.model_check and reloads it when they changed, off the main loop
// (a list of a million names takes half a second to load): the list in
// use is swapped atomically, and what happened goes to the main loop
// (categoryChecked) to be logged and said. It returns when ctx ends.
func (a *Agent) runCategories(ctx context.Context) {
	if a.domains.cats == nil {
		return
	}
	tick := time.NewTicker(a.cfg.Detect.ModelCheck.Std())
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		swapped, err := a.domains.cats.Check()
		if !swapped && err == nil {
			continue
		}
		select {
		case a.catChecks <- categoryCheck{swapped, err}:
		case <-ctx.Done():
			return
		}
	}
}

// categoryChecked logs and says what a look at the category list found
// (main loop). A list that fails to load is rejected with its file and
// line, and the last good one stays in use.
func (a *Agent) categoryChecked(c categoryCheck) {
	swapped, err := c.swapped, c.err
	if err != nil {
		a.metrics.categoryRejects.Inc()
		a.log.Error("category list rejected; keeping the last good one", "path", a.cfg.Detect.Domains.Categories, "err", err)
		a.notice("error", "category list rejected", map[string]string{"path": a.cfg.Detect.Domains.Categories, "error": err.Error()})
		return
	}
	if swapped {
		l := a.domains.cats.List()
		st := l.Stats()
		a.metrics.setCategories(l)
		a.log.Info("category list loaded", "path", a.cfg.Detect.Domains.Categories, "domains", st.Entries)
		a.notice("info", "category list loaded", map[string]string{"path": a.cfg.Detect.Domains.Categories,
			"domains": strconv.Itoa(st.Entries)})
	}
}

// category returns the category of a destination: that of the most
// specific of its host names the list knows (a listing of cdn.example.com
// is more specific than one of example.com), else its own.
func (r *domainReport) category(d *closedDest, strs []string) (string, bool) {
	if r.cats == nil {
		return "", false
	}
	l := r.cats.List()
	if !d.isIP {
		_, _, hosts := d.lists(strs)
		for _, h := range hosts {
			if c, ok := l.Lookup([]byte(h)); ok {
				return c, true
			}
		}
	}
	return l.Lookup([]byte(d.key))
}

// buildDomainEvents adds the cut's destination windows to its history and,
// as detect.domains.emit says, its events.
func (a *Agent) buildDomainEvents(job *commitJob) error {
	c := &job.commit
	emit := job.domainEmit
	var ev event.Event
	domainEvents := a.metrics.events.WithLabelValues(event.TypeDomain)
	n := len(job.dests)
	b := &a.domBuf
	b.cats = slices.Grow(b.cats[:0], n)[:n]
	b.categorized = slices.Grow(b.categorized[:0], n)[:n]
	b.enrichment = slices.Grow(b.enrichment[:0], n)[:n]
	clear(b.enrichment)
	cats, categorized, enrichment := b.cats, b.categorized, b.enrichment
	ask, askAt := b.ask[:0], b.askAt[:0] // the destinations whose enrichment is wanted
	for i := range job.dests {
		d := &job.dests[i]
		cats[i], categorized[i] = a.domains.category(d, job.destStrs)
		if a.domains.enr != nil && d.key != detect.OverflowKey && (!categorized[i] || d.isIP) && a.domains.enr.Wants(d.isIP) {
			ask, askAt = append(ask, d.key), append(askAt, i)
		}
	}
	b.ask, b.askAt = ask, askAt
	if len(ask) > 0 {
		a.enrichBuf = a.domains.enr.LookupAll(ask, a.enrichBuf)
		for j, i := range askAt {
			if e := a.enrichBuf[j]; e != nil {
				enrichment[i] = e
			} else {
				a.domains.enr.Request(ask[j], job.dests[i].isIP)
			}
		}
	}
	for i := range job.dests {
		d := &job.dests[i]
		vec := job.vecs[d.off : d.off+d.n]
		hits, bytes := int64(vec[detect.DestHits]), int64(vec[detect.DestBytes])
		cat, categorized := cats[i], categorized[i]
		flagged := !categorized || d.new
		if d.key == detect.OverflowKey {
			continue // no destination: counted under max_keys' notice (the client side's)
		}
		c.History = append(c.History, state.HistoryUpdate{Kind: state.KindDomain, Key: d.key,
			WindowStart: time.Unix(0, d.start).UTC(), Hits: hits, Bytes: bytes, Anomalous: flagged})
		switch emit {
		case config.DomainEmitNone:
			continue
		case config.DomainEmitNew:
			if !d.new {
				continue
			}
		case config.DomainEmitUncategorized:
			if !flagged {
				continue
			}
		}
		a.domainEvent(d, job.destStrs, vec, cat, categorized, enrichment[i], &ev)
		if err := c.Segments.Append(ev.AppendJSON); err != nil {
			return fmt.Errorf("encode domain event of %s in window %s: %w", d.key, ev.WindowStart, err)
		}
		domainEvents.Inc()
	}
	return nil
}

// domainBufs is the committer's scratch for buildDomainEvents, reused
// from cut to cut.
type domainBufs struct {
	cats        []string
	categorized []bool
	enrichment  []*event.Enrichment
	ask         []string
	askAt       []int
}

// domainEvent fills ev with the domain event of d.
func (a *Agent) domainEvent(d *closedDest, strs []string, vec []float64, cat string, categorized bool, enr *event.Enrichment, ev *event.Event) {
	in := d.in
	clients, users, hosts := d.lists(strs)
	feats := ev.Features[:0]
	for j, n := range in.destNames {
		if j != detect.DestHits && j != detect.DestBytes && j != detect.DestClients {
			feats = append(feats, event.Feature{Name: n, Value: vec[j]})
		}
	}
	*ev = event.Event{
		Type: event.TypeDomain, Kind: in.pipe.Kind().String(), Host: a.cfg.Host, Source: in.cfg.Name,
		WindowStart: time.Unix(0, d.start).UTC(), WindowEnd: time.Unix(0, d.end).UTC(),
		Domain: d.key, Uncategorized: !categorized, New: d.new, IsIP: d.isIP,
		FirstSeen: time.Unix(0, d.firstSeen).UTC(),
		Hits:      int64(vec[detect.DestHits]), Bytes: int64(vec[detect.DestBytes]), Clients: int64(vec[detect.DestClients]),
		ClientIPs: clients, Users: users, Hosts: hosts, Features: feats,
	}
	if categorized {
		ev.Category = &cat
	}
	ev.EventID = event.ID(ev.Host, ev.Source, ev.Type, d.key, ev.WindowStart)
	if enr != nil && (len(enr.TLSNames) > 0 || enr.Whois != nil) {
		ev.Enrichment = enr
	}
}

// loadSeen fills the agent's set of seen destinations from the state.
func (a *Agent) loadSeen(st *state.Store) error {
	dc := a.cfg.Detect.Domains
	kb, err := st.DestKey()
	if err != nil {
		return err
	}
	if a.destKey, err = detect.DestKeyFrom(kb); err != nil {
		return err
	}
	a.seen = detect.NewSeen(dc.MaxSeen, dc.SeenRetention.Std(), a.destKey)
	damaged, err := st.Seen(a.seen.Load)
	if err != nil {
		return err
	}
	if damaged > 0 {
		a.log.Error("seen destinations damaged in the state file: skipped (they will be reported new once more)",
			"records", damaged, "fix", "check the disk; the state file is otherwise usable")
	}
	return nil
}

// seenUpdates converts what the seen set has to store.
func seenUpdates(ch []detect.SeenChange) []state.SeenUpdate {
	if len(ch) == 0 {
		return nil
	}
	out := make([]state.SeenUpdate, len(ch))
	for i, c := range ch {
		out[i] = state.SeenUpdate{Key: c.Key, First: c.First, Last: c.Last}
	}
	return out
}

// hasDestinations reports whether an input counts per destination.
func hasDestinations(k record.Kind) bool { return k == record.KindProxy || k == record.KindDNS }
