package enrich

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/socx/sharkfin/internal/enrichtest"
	"github.com/socx/sharkfin/state"
)

func openStore(t *testing.T) *state.Store {
	t.Helper()
	st, err := state.Open(state.Options{Path: filepath.Join(t.TempDir(), "state.db"), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func run(t *testing.T, s *Service) (stop func() time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	stopped := false
	stop = func() time.Duration {
		if stopped {
			return 0
		}
		stopped = true
		start := time.Now()
		cancel()
		<-done
		return time.Since(start)
	}
	t.Cleanup(func() { stop() })
	return stop
}

func waitFor(limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// TestService_LooksUpOnceCachesAndExpires: a bare IP is looked up in the
// background (certificate names and WHOIS, from real servers on loopback),
// the result cached in a real state file; a second sight is a cache hit
// (no second query); after the TTL it is looked up again.
func TestService_LooksUpOnceCachesAndExpires(t *testing.T) {
	port := enrichtest.TLSServer(t, "c2.evil.example")
	iana, rir := enrichtest.NewWhois(t, false), enrichtest.NewWhois(t, false)
	iana.Answer("127.0.0.1", "refer: "+rir.Addr()+"\n")
	rir.Answer("127.0.0.1", "netname: LOOP\norg-name: Loopback Hosting\ncountry: ZZ\ncreated: 2026-11-30\n")
	st := openStore(t)
	s := New(Config{TLS: true, Whois: true, TLSPort: port, WhoisCfg: WhoisConfig{Server: iana.Addr(), Timeout: 2 * time.Second},
		TTL: 500 * time.Millisecond, Rate: 100, Burst: 10}, st, quiet)
	run(t, s)
	if !s.Request("127.0.0.1", true) {
		t.Fatal("not queued")
	}
	var e, cached = s.Lookup("127.0.0.1")
	if !waitFor(5*time.Second, func() bool { e, cached = s.Lookup("127.0.0.1"); return cached }) {
		t.Fatal("no result within 5s")
	}
	if len(e.TLSNames) != 1 || e.TLSNames[0] != "c2.evil.example" || e.Whois == nil || e.Whois.Org != "Loopback Hosting" ||
		e.Whois.Country != "ZZ" || e.Whois.Created != "2026-11-30" || e.Whois.Server != rir.Addr() {
		t.Errorf("enrichment %+v whois %+v", e, e.Whois)
	}
	// Asked again while cached (as a caller that has not looked yet):
	// the worker finds the result and asks nobody.
	s.Request("127.0.0.1", true)
	if !waitFor(5*time.Second, func() bool { return s.Stats().Skipped == 1 }) {
		t.Errorf("a cached destination was looked up again: %+v", s.Stats())
	}
	if n := len(iana.Got()); n != 1 {
		t.Errorf("IANA asked %d times, want once", n)
	}
	if !waitFor(5*time.Second, func() bool { _, ok := s.Lookup("127.0.0.1"); return !ok }) {
		t.Fatal("the result did not expire")
	}
	if !s.Request("127.0.0.1", true) {
		t.Error("an expired destination was not queued")
	}
}

// TestService_BlackHoleCostsTheCallerNothing: lookups of a destination
// that never answers do not hold Request up; the failure is cached as a
// negative result; a full queue drops; a stop does not wait for a lookup
// in flight; the rate limit spaces lookups.
func TestService_BlackHoleCostsTheCallerNothing(t *testing.T) {
	st := openStore(t)
	s := New(Config{TLS: true, TLSPort: enrichtest.BlackHole(t), TLSTimeout: 300 * time.Millisecond, Rate: 100, Burst: 10}, st, quiet)
	run(t, s)
	start := time.Now()
	for i := range 20 {
		s.Request("127.0.0."+strconv.Itoa(i+1), true)
	}
	if took := time.Since(start); took > 200*time.Millisecond {
		t.Errorf("20 requests to a black hole took %s of the caller's time", took)
	}
	if !waitFor(10*time.Second, func() bool { return s.Stats().Failed == 20 }) {
		t.Fatalf("stats %+v", s.Stats())
	}
	if got, ok := s.Lookup("127.0.0.1"); !ok || len(got.TLSNames) != 0 || got.Whois != nil {
		t.Errorf("negative result: %+v, %v", got, ok)
	}
	s.Request("127.0.0.1", true)
	if !waitFor(5*time.Second, func() bool { return s.Stats().Skipped == 1 }) || s.Stats().Failed != 20 {
		t.Errorf("a destination that told nothing was asked again within the negative TTL: %+v", s.Stats())
	}

	// A full queue drops (no workers running here).
	q := New(Config{TLS: true, Queue: 2}, openStore(t), quiet)
	queued := 0
	for i := range 3 {
		if q.Request("10.0.0."+strconv.Itoa(i+1), true) {
			queued++
		}
	}
	if queued != 2 || q.Stats().Dropped != 1 {
		t.Errorf("queue of 2: %d queued, stats %+v", queued, q.Stats())
	}

	// Stopping with a lookup stuck in a black hole.
	slow := New(Config{TLS: true, TLSPort: enrichtest.BlackHole(t), TLSTimeout: time.Minute}, openStore(t), quiet)
	stop := run(t, slow)
	slow.Request("127.0.0.9", true)
	waitFor(time.Second, func() bool { return len(slow.queue) == 0 })
	if took := stop(); took > time.Second {
		t.Errorf("stop took %s with a lookup in flight", took)
	}

	// The rate limit: 10 lookups at 20 a second, one at a time.
	port := enrichtest.TLSServer(t, "x.example")
	limited := New(Config{TLS: true, TLSPort: port, Rate: 20, Burst: 1}, openStore(t), quiet)
	run(t, limited)
	start = time.Now()
	for i := range 10 {
		limited.Request("127.0.1."+strconv.Itoa(i+1), true)
	}
	if !waitFor(10*time.Second, func() bool { return limited.Stats().Done == 10 }) {
		t.Fatalf("stats %+v", limited.Stats())
	}
	if took := time.Since(start); took < 400*time.Millisecond {
		t.Errorf("10 lookups at 20/s took %s, want at least 0.45 s", took)
	}
}
