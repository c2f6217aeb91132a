package enrich

import (
	"net/http"
	"runtime/debug"

	"context"
	"encoding/json"
	"github.com/openrdap/rdap/bootstrap"
	"hash/maphash"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/socx/sharkfin/event"
)

// Config configures the lookups of a Service.
type Config struct {
	TLS   bool // certificate names of bare-IP destinations
	Whois bool // WHOIS of addresses and registrable domains
	// RDAP asks the registration data over RDAP (RDAPCfg) instead of
	// port-43 WHOIS, falling back to WHOIS (WhoisCfg) when RDAP gives
	// nothing; it implies Whois.
	RDAP    bool
	RDAPCfg RDAPConfig
	// TLSPort is the port asked for a certificate (default "443");
	// TLSTimeout bounds that connection (default 3s).
	TLSPort    string
	TLSTimeout time.Duration
	WhoisCfg   WhoisConfig
	// Workers bound the lookups at once (default 4); Rate (per second) and
	// Burst bound them over time, all workers together (default 2 and 4):
	// one token per destination looked up.
	Workers int
	Rate    float64
	Burst   int
	// TTL is how long a result is kept (default 7 days); NegativeTTL how
	// long a destination that told nothing, or did not answer, is left
	// alone (default 6h).
	TTL, NegativeTTL time.Duration
	// Queue bounds the destinations waiting (default 1024); more are
	// dropped and asked for again at a later sight.
	Queue int
}

func (c *Config) setDefaults() {
	if c.TLSPort == "" {
		c.TLSPort = "443"
	}
	if c.TLSTimeout <= 0 {
		c.TLSTimeout = 3 * time.Second
	}
	if c.Workers <= 0 {
		c.Workers = 4
	}
	if c.Rate <= 0 {
		c.Rate = 2
	}
	if c.Burst <= 0 {
		c.Burst = 4
	}
	if c.TTL <= 0 {
		c.TTL = 7 * 24 * time.Hour
	}
	if c.NegativeTTL <= 0 {
		c.NegativeTTL = 6 * time.Hour
	}
	if c.Queue <= 0 {
		c.Queue = 1024
	}
}

// Cache is where results are kept: the agent's state (state.Store), so
// they outlive restarts and expire with its maintenance.
type Cache interface {
	CachePut(cache, key string, val []byte, ttl time.Duration) error
	CacheGet(cache, key string) (val []byte, expires time.Time, ok bool, err error)
	CacheGetEach(cache string, keys []string, fn func(i int, val []byte, expires time.Time)) error
}

// cacheName is the state cache of enrichment results.
const cacheName = "enrich"

// Stats count a Service's work.
type Stats struct {
	Queued, Dropped, Done, Failed int64
	// Skipped counts the requests a worker found cached (asked for
	// again before the result showed, or while still cached).
	Skipped int64
}

// Service looks destinations up in the background, never on the caller's
// path: Request only queues (or drops) and returns; workers, bounded in
// number and by a rate limit, do the lookups and cache what they learn,
// found or not; Lookup reads the cache.
type Service struct {
	cfg     Config
	cache   Cache
	log     *slog.Logger
	queue   chan request
	limiter *rate.Limiter

	mu       sync.Mutex
	inflight map[string]bool
	rdapMu   sync.Mutex // RDAP lookups, one at a time (the shared bootstrap)
	// asked holds, by name hash, when each destination was last
	// requested (Unix s) and its lookup has not finished: for askedFor,
	// LookupAll does not read the cache for it (nothing can be there yet)
	// and Request does not try the queue again. Hashes and times only, so
	// the collector never scans it (a map of strings here cost a proxy's
	// catch-up a tenth of its time in garbage collection); bounded by
	// maxAsked (emptied when full).
	asked map[uint64]uint32
	seed  maphash.Seed

	queued, dropped, done, failed, skipped atomic.Int64
	// LookupAll's scratch (one caller at a time: the agent's committer).
	readBuf []string
	readAt  []int
}

type request struct {
	name string
	isIP bool
}

const (
	askedFor = 60 // seconds
	maxAsked = 1 << 16
)

// recentlyAsked reports whether name was requested within askedFor and
// its lookup has not finished (s.mu held).
func (s *Service) recentlyAsked(name string, now int64) bool {
	at, ok := s.asked[maphash.String(s.seed, name)]
	return ok && now-int64(at) < askedFor
}

// New returns a Service; Run starts its workers.
func New(cfg Config, cache Cache, log *slog.Logger) *Service {
	cfg.setDefaults()
	return &Service{cfg: cfg, cache: cache, log: log, queue: make(chan request, cfg.Queue),
		limiter: rate.NewLimiter(rate.Limit(cfg.Rate), cfg.Burst), inflight: map[string]bool{},
		asked: map[uint64]uint32{}, seed: maphash.MakeSeed()}
}

// Stats returns the counts so far.
func (s *Service) Stats() Stats {
	return Stats{Queued: s.queued.Load(), Dropped: s.dropped.Load(), Done: s.done.Load(), Failed: s.failed.Load(),
		Skipped: s.skipped.Load()}
}

// Wants reports whether a destination of this sort (an address, or a
// domain) has anything to look up: certificates are asked of addresses
// only, registrations of both.
func (s *Service) Wants(isIP bool) bool {
	return s.cfg.Whois || s.cfg.RDAP || (isIP && s.cfg.TLS)
}

// Request asks for name (a registrable domain, or an IP address when isIP)
// to be looked up, unless a lookup of it is on its way: call it when
// Lookup or LookupAll found nothing cached (a worker checks the cache
// again before it looks anything up). It never waits: it reports whether
// a lookup was queued; with the queue full the request is dropped (and
// made again at a later sight).
func (s *Service) Request(name string, isIP bool) bool {
	if !s.cfg.TLS && !s.cfg.Whois && !s.cfg.RDAP {
		return false
	}
	now := time.Now().Unix()
	s.mu.Lock()
	if s.inflight[name] || s.recentlyAsked(name, now) {
		s.mu.Unlock()
		return false
	}
	if len(s.asked) >= maxAsked {
		clear(s.asked)
	}
	s.asked[maphash.String(s.seed, name)] = uint32(now)
	s.inflight[name] = true
	s.mu.Unlock()
	select {
	case s.queue <- request{name, isIP}:
		s.queued.Add(1)
		return true
	default:
		// Dropped: asked again after askedFor at the earliest (the
		// queue is full of lookups that take that long).
		s.dropped.Add(1)
		s.mu.Lock()
		delete(s.inflight, name)
		s.mu.Unlock()
		return false
	}
}

// Lookup returns what is cached for name: ok is false when nothing is (or
// it expired); a cached empty Enrichment means it was looked up and told
// nothing.
func (s *Service) Lookup(name string) (*event.Enrichment, bool) {
	b, _, ok, err := s.cache.CacheGet(cacheName, name)
	if err != nil || !ok {
		return nil, false
	}
	var e event.Enrichment
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, false
	}
	return &e, true
}

// LookupAll is Lookup for many names, in one read of the cache; found[i]
// is nil when nothing is cached for names[i]. found is reused: pass the
// last result back.
func (s *Service) LookupAll(names []string, found []*event.Enrichment) []*event.Enrichment {
	found = slices.Grow(found[:0], len(names))[:len(names)]
	clear(found)
	// Names asked for lately, whose lookups have not finished, cannot be
	// cached: not read.
	now := time.Now().Unix()
	read, at := s.readBuf[:0], s.readAt[:0]
	s.mu.Lock()
	for i, n := range names {
		if !s.recentlyAsked(n, now) {
			read, at = append(read, n), append(at, i)
		}
	}
	s.mu.Unlock()
	s.readBuf, s.readAt = read, at
	err := s.cache.CacheGetEach(cacheName, read, func(j int, val []byte, _ time.Time) {
		var e event.Enrichment
		if json.Unmarshal(val, &e) == nil {
			found[at[j]] = &e
		}
	})
	if err != nil {
		clear(found)
	}
	return found
}

func (s *Service) finish(name string) {
	s.mu.Lock()
	delete(s.inflight, name)
	delete(s.asked, maphash.String(s.seed, name)) // its result (if any) is cached: read it next time
	s.mu.Unlock()
}

// Run works the queue until ctx ends; it returns once every worker has.
func (s *Service) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for range s.cfg.Workers {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case r := <-s.queue:
					s.lookup(ctx, r)
				}
			}
		})
	}
	wg.Wait()
}

// ask asks the certificate and the registries about r. The answers come
// from servers the destination's owner may run (a WHOIS referral, an RDAP
// service): a panic while reading one (a bug in this package) fails the
// lookup, whose empty result is then cached for the negative TTL, instead
// of ending the agent, and again the next time the destination is seen.
func (s *Service) ask(ctx context.Context, r request) (e event.Enrichment, failed bool) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("enrichment lookup failed on a server's answer (a bug: please report it with this line)",
				"destination", r.name, "panic", p, "stack", string(debug.Stack()))
			e, failed = event.Enrichment{}, true
		}
	}()
	if r.isIP && s.cfg.TLS {
		names, err := TLSNames(ctx, net.JoinHostPort(r.name, s.cfg.TLSPort), s.cfg.TLSTimeout)
		if err != nil {
			failed = true
			s.log.Debug("no certificate names", "destination", r.name, "err", err)
		}
		e.TLSNames = names
	}
	if s.cfg.Whois || s.cfg.RDAP {
		rec, err := s.registration(ctx, r)
		switch {
		case err != nil:
			failed = true
			s.log.Debug("no WHOIS", "destination", r.name, "err", err)
		case !rec.Empty():
			w := &event.Whois{Org: rec.Org, Country: rec.Country, Server: rec.Servers[len(rec.Servers)-1]}
			if !rec.Created.IsZero() {
				w.Created = rec.Created.Format("2006-01-02")
			}
			e.Whois = w
		}
	}
	return e, failed
}

// registration asks who registered a destination: over RDAP when
// configured (falling back to WHOIS when it tells nothing), else WHOIS.
func (s *Service) registration(ctx context.Context, r request) (*WhoisRecord, error) {
	if s.cfg.RDAP {
		// One bootstrap client (its copy of the IANA registry) for the
		// workers, in turn: RDAP lookups are few (the rate limit).
		rec, err := s.rdap(ctx, r)
		if err == nil && !rec.Empty() {
			return rec, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		s.log.Debug("nothing from RDAP; asking WHOIS", "destination", r.name, "err", err)
	}
	return WHOIS(ctx, r.name, s.cfg.WhoisCfg)
}

// rdap asks over RDAP, one worker at a time (unlocked by a defer: ask
// recovers from a panic inside).
func (s *Service) rdap(ctx context.Context, r request) (*WhoisRecord, error) {
	s.rdapMu.Lock()
	defer s.rdapMu.Unlock()
	if s.cfg.RDAPCfg.Bootstrap == nil && s.cfg.RDAPCfg.Server == "" {
		s.cfg.RDAPCfg.Bootstrap = &bootstrap.Client{HTTP: &http.Client{Timeout: s.cfg.RDAPCfg.Timeout, Transport: limitBody(nil, maxBootstrap)}}
	}
	return RDAP(ctx, r.name, r.isIP, s.cfg.RDAPCfg)
}

// lookup does one destination's lookups and caches the result.
func (s *Service) lookup(ctx context.Context, r request) {
	defer s.finish(r.name)
	if _, ok := s.Lookup(r.name); ok {
		s.skipped.Add(1) // cached meanwhile (or requested while still cached)
		return
	}
	if err := s.limiter.Wait(ctx); err != nil {
		return // stopping
	}
	e, failed := s.ask(ctx, r)
	if ctx.Err() != nil {
		return // cut short by the stop: not a result
	}
	ttl := s.cfg.TTL
	if len(e.TLSNames) == 0 && e.Whois == nil {
		ttl = s.cfg.NegativeTTL
	}
	if failed {
		s.failed.Add(1)
	}
	b, err := json.Marshal(&e)
	if err == nil {
		err = s.cache.CachePut(cacheName, r.name, b, ttl)
	}
	if err != nil {
		s.log.Warn("enrichment not cached", "destination", r.name, "err", err)
		return
	}
	s.done.Add(1)
}
