package detect

import (
	"bytes"
	"errors"
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/socx/sharkfin/record"
)

// destLines returns n proxy or DNS lines, 100ms apart in event time with
// up to 7s of disorder, from 40 clients to about 30 destinations: names
// under them in any case and with a trailing dot, bare IPv4 and IPv6
// addresses (written two ways), and now and then a host naming none.
func destLines(rng *rand.Rand, n int) []destLine {
	domains := []string{"example.com", "example.co.uk", "bbc.co.uk", "evil.net", "a.b.kawasaki.jp", "co.uk", "corp.internal"}
	for i := range 20 {
		domains = append(domains, fmt.Sprintf("site%d.org", i))
	}
	lines := make([]destLine, n)
	for i := range lines {
		l := &lines[i]
		l.s = float64(i)*0.1 - rng.Float64()*7
		c := rng.IntN(40)
		l.client = fmt.Sprintf("10.0.%d.%d", c/8, c%8)
		l.user = []string{"", "-", "alice", "bob", "carol", "dave", "erin", "frank"}[rng.IntN(8)]
		switch x := rng.IntN(20); {
		case x == 0:
			l.host = []string{"", "1.2.3", "::g", "01.2.3.4"}[rng.IntN(4)]
		case x < 3:
			l.host = fmt.Sprintf("192.0.2.%d", rng.IntN(5))
		case x == 3:
			l.host = []string{"2001:db8::1", "2001:DB8:0:0:0:0:0:1", "2001:db8::2"}[rng.IntN(3)]
		default:
			l.host = domains[rng.IntN(len(domains))]
			for range rng.IntN(3) {
				l.host = fmt.Sprintf("%x.", rng.IntN(12)) + l.host
			}
			if rng.IntN(4) == 0 {
				l.host = strings.ToUpper(l.host)
			}
			if rng.IntN(4) == 0 {
				l.host += "."
			}
		}
		l.status = []int{200, 204, 301, 403, 404, 500, 0}[rng.IntN(7)]
		l.bytes = rng.Int64N(5000)
		l.method = []string{"GET", "POST", "CONNECT"}[rng.IntN(3)]
		l.action = []string{"TCP_MISS", "TCP_DENIED", "TCP_TUNNEL"}[rng.IntN(3)]
		l.qtyp = []string{"A", "AAAA", "TXT", "ANY", "MX"}[rng.IntN(5)]
	}
	return lines
}

// destNode is a node's destination state as the agent keeps it through
// restarts: the seen set, and what of it was committed (Drain, by key),
// which a restart loads.
type destNode struct {
	seen   *Seen
	stored map[string]SeenChange
	dests  *Destinations
}

func newDestNode() *destNode {
	return &destNode{seen: NewSeen(0, 0, testDestKey), stored: map[string]SeenChange{}, dests: NewDestinations(testDestKey)}
}

// commit stores the seen set's changes.
func (n *destNode) commit() {
	for _, c := range n.seen.Drain() {
		n.stored[c.Key] = c
	}
}

// restart is a new process: a new key hash seed (the window keys and the
// seen set are hashed again), and the seen set loaded from what was stored.
func (n *destNode) restart() {
	keySeed = maphash.MakeSeed()
	n.seen = NewSeen(0, 0, testDestKey)
	for _, c := range n.stored {
		n.seen.Load(c.Key, c.First, c.Last)
	}
	n.dests = NewDestinations(testDestKey)
}

// record parses l as the parse workers do (prehashed, filled) with the
// current seed. The record's names are in an arena of its own.
func (n *destNode) record(kind record.Kind, l destLine) *record.Record {
	r := l.record()
	Prehash(kind, &r, &testDestKey)
	var arena []byte
	n.dests.Fill(kind, &r, &arena)
	return &r
}

// keepSeed restores the process's key hash seed when the test ends. A
// test that changes keySeed (destNode.restart) must not run in parallel.
func keepSeed(t *testing.T) {
	seed := keySeed
	t.Cleanup(func() { keySeed = seed })
}

// destEmitter returns a callback that writes each destination's result to
// out, all of it: counters, new, first seen, first clients, users, names.
func destEmitter(out *bytes.Buffer) func(*Result) {
	return func(r *Result) {
		d := r.Dest
		fmt.Fprintf(out, "%d %s %v ip=%v new=%v first=%d clients=%q users=%q names=%q\n",
			r.Start, r.Key, r.Vector, d.IsIP, d.New, d.FirstSeen, d.Clients, d.Users, d.Names)
	}
}

// TestAggregator_ByDestSnapshotResume splits a stream of proxy or DNS
// lines at every kind of point (a window part way through closing
// included), snapshots the destination aggregator (MarshalBinary),
// restarts (a new hash seed, the seen set loaded from what was committed)
// and restores it; the results and stats equal one uninterrupted run's.
func TestAggregator_ByDestSnapshotResume(t *testing.T) {
	keepSeed(t)
	for _, kind := range []record.Kind{record.KindProxy, record.KindDNS} {
		t.Run(kind.String(), func(t *testing.T) {
			lines := destLines(rand.New(rand.NewPCG(11, uint64(kind))), 3000)
			run := func(split, closeBatch int) string {
				cfg := WindowConfig{Kind: kind, ByDest: true, DestKey: testDestKey, MaxKeys: 20, CloseBatch: closeBatch}
				var out bytes.Buffer
				emit := destEmitter(&out)
				n := newDestNode()
				cfg.Seen = n.seen
				a := newAgg(t, cfg)
				for i, l := range lines {
					if i == split {
						snap, err := a.MarshalBinary()
						if err != nil {
							t.Fatal(err)
						}
						n.commit()
						n.restart()
						cfg.Seen = n.seen
						a = newAgg(t, cfg)
						if err := a.UnmarshalBinary(snap); err != nil {
							t.Fatal(err)
						}
					}
					a.Add(n.record(kind, l))
					a.Advance(emit)
					if i+1 != split { // leave a window part way through closing at the split
						for a.Closing() {
							a.ContinueClose(emit)
						}
					}
				}
				a.CloseThrough(maxInt64, emit)
				for a.Closing() {
					a.ContinueClose(emit)
				}
				fmt.Fprintf(&out, "%+v\n", a.Stats())
				return out.String()
			}
			want := run(-1, 0)
			for _, s := range []string{"new=true", "ip=true", "users=[\"alice\"", "NoDest:"} {
				if !strings.Contains(want, s) {
					t.Fatalf("the input does not exercise %s", s)
				}
			}
			for _, closeBatch := range []int{0, 1, 7} {
				for _, split := range []int{0, 1, 599, 600, 1500, 2999} {
					if got := run(split, closeBatch); got != want {
						t.Fatalf("split at %d, close batch %d: results differ from an uninterrupted run:\n%s", split, closeBatch, firstDiff(got, want))
					}
				}
			}
		})
	}
}

// firstDiff shows the first line where got and want differ.
func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range min(len(g), len(w)) {
		if g[i] != w[i] {
			return fmt.Sprintf("line %d:\n got %s\nwant %s", i+1, g[i], w[i])
		}
	}
	return fmt.Sprintf("%d lines, want %d", len(g), len(w))
}

// Incremental snapshots (Snapshot/Restore) of a destination aggregator,
// committed after every step with the seen set's changes, and restarts
// (new seed, seen set and aggregator from the store) at random steps, in
// particular part way through closing frozen windows, give the results of
// one uninterrupted run; the store ends with no frozen keys.
func TestAggregator_ByDestIncrementalSnapshotResume(t *testing.T) {
	keepSeed(t)
	for _, kind := range []record.Kind{record.KindProxy, record.KindDNS} {
		t.Run(kind.String(), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(12, uint64(kind)))
			lines := destLines(rng, 3000)
			for _, closeBatch := range []int{1, 3, 40} {
				run := func(restartAt map[int]bool) (string, *snapStore) {
					cfg := WindowConfig{Kind: kind, ByDest: true, DestKey: testDestKey, MaxKeys: 25, CloseBatch: closeBatch}
					var out bytes.Buffer
					emit := destEmitter(&out)
					n := newDestNode()
					cfg.Seen = n.seen
					a := newAgg(t, cfg)
					store := &snapStore{frozen: map[int64][]byte{}}
					step := 0
					commit := func() {
						store.apply(t, a.Snapshot())
						n.commit()
						if restartAt[step] {
							n.restart()
							cfg.Seen = n.seen
							a = newAgg(t, cfg)
							if err := a.Restore(store.main, store.frozen); err != nil {
								t.Fatalf("step %d: %v", step, err)
							}
						}
						step++
					}
					for _, l := range lines {
						a.Add(n.record(kind, l))
						a.Advance(emit)
						commit()
						for a.Closing() {
							a.ContinueClose(emit)
							commit()
						}
					}
					a.CloseThrough(maxInt64, emit)
					commit()
					for a.Closing() {
						a.ContinueClose(emit)
						commit()
					}
					fmt.Fprintf(&out, "%+v\n", a.Stats())
					return out.String(), store
				}
				want, store := run(nil)
				if len(store.frozen) != 0 {
					t.Fatalf("close batch %d: %d frozen windows left in the store", closeBatch, len(store.frozen))
				}
				restarts := map[int]bool{}
				for range 200 {
					restarts[rng.IntN(4000)] = true
				}
				got, store := run(restarts)
				if got != want {
					t.Fatalf("close batch %d: restarts change the results:\n%s", closeBatch, firstDiff(got, want))
				}
				if len(store.frozen) != 0 {
					t.Fatalf("close batch %d: %d frozen windows left after restarts", closeBatch, len(store.frozen))
				}
			}
		})
	}
}

// A client aggregator's snapshot is refused by a destination aggregator
// and the other way round, frozen windows' keys included, and the refused
// aggregator is unchanged.
func TestAggregator_ByDestSnapshotKinds(t *testing.T) {
	for _, kind := range []record.Kind{record.KindProxy, record.KindDNS} {
		t.Run(kind.String(), func(t *testing.T) {
			lines := destLines(rand.New(rand.NewPCG(13, uint64(kind))), 400)
			cfgs := map[bool]WindowConfig{
				false: {Kind: kind, CloseBatch: 2},
				true:  {Kind: kind, ByDest: true, DestKey: testDestKey, CloseBatch: 2},
			}
			snaps := map[bool]Snapshot{}
			for byDest, cfg := range cfgs {
				a := newAgg(t, cfg)
				n := newDestNode()
				for _, l := range lines {
					a.Add(n.record(kind, l))
				}
				a.CloseThrough(maxInt64, func(*Result) {}) // windows part way through closing
				if !a.Closing() {
					t.Fatal("test setup: no window closing")
				}
				snaps[byDest] = a.Snapshot()
				if len(snaps[byDest].Frozen) == 0 {
					t.Fatal("test setup: no frozen window")
				}
			}
			for byDest, cfg := range cfgs {
				other := snaps[!byDest]
				a := newAgg(t, cfg)
				n := newDestNode()
				a.Add(n.record(kind, destLine{s: 1, client: "10.9.9.9", host: "kept.example"}))
				before, _ := a.MarshalBinary()
				if err := a.Restore(other.Main, other.Frozen); !errors.Is(err, ErrBadSnapshot) {
					t.Errorf("by destination %v: Restore of the other kind's snapshot: %v, want ErrBadSnapshot", byDest, err)
				}
				full := newAgg(t, cfgs[!byDest])
				if err := full.Restore(other.Main, other.Frozen); err != nil {
					t.Fatal(err)
				}
				inline, _ := full.MarshalBinary()
				if err := a.UnmarshalBinary(inline); !errors.Is(err, ErrBadSnapshot) {
					t.Errorf("by destination %v: UnmarshalBinary of the other kind's snapshot: %v, want ErrBadSnapshot", byDest, err)
				}
				// The other kind's frozen keys under this kind's main.
				own := snaps[byDest]
				mixed := map[int64][]byte{}
				for start := range own.Frozen {
					for _, blob := range other.Frozen {
						mixed[start] = blob
						break
					}
				}
				if err := a.Restore(own.Main, mixed); !errors.Is(err, ErrBadSnapshot) {
					t.Errorf("by destination %v: Restore with the other kind's frozen keys: %v, want ErrBadSnapshot", byDest, err)
				}
				if after, _ := a.MarshalBinary(); !bytes.Equal(after, before) {
					t.Errorf("by destination %v: a refused snapshot changed the aggregator", byDest)
				}
				if err := a.Restore(own.Main, own.Frozen); err != nil {
					t.Errorf("by destination %v: own snapshot: %v", byDest, err)
				}
			}
		})
	}
}

// fuzzSeed is a destination aggregator's snapshot: Main, and the stored
// keys of one frozen window (frozen nil: none, Main is MarshalBinary's).
type fuzzSeed struct {
	kind   record.Kind
	main   []byte
	start  int64
	frozen []byte
}

// destFuzzSeeds are snapshots of destination aggregators of both kinds,
// small (the fuzzer mutates and minimizes them) but with every part: a
// window part way through closing (frozen), an open one with an overflow
// row, names, bare addresses, clients and users.
func destFuzzSeeds(tb testing.TB) (seeds []fuzzSeed) {
	lines := []destLine{
		{s: -9, client: "10.0.0.1", user: "alice", host: "www.example.com", method: "CONNECT", action: "TCP_TUNNEL", qtyp: "TXT", status: 200, bytes: 10},
		{s: -8, client: "10.0.0.2", user: "bob", host: "a.b.example.com.", method: "GET", action: "TCP_DENIED", qtyp: "A", status: 403},
		{s: -7, client: "10.0.0.2", host: "192.0.2.1", method: "GET", qtyp: "A", status: 200, bytes: 5},
		{s: -6, client: "10.0.0.3", user: "-", host: "x1.tunnel.org", method: "GET", qtyp: "ANY", status: 500, bytes: 1},
		{s: 1, client: "10.0.0.1", user: "alice", host: "2001:DB8::1", method: "GET", qtyp: "AAAA", status: 200, bytes: 7},
		{s: 2, client: "10.0.0.4", user: "carol", host: "Mail.Example.CO.UK", method: "GET", qtyp: "MX", status: 301},
		{s: 3, client: "10.0.0.5", host: "c.evil.net", method: "GET", qtyp: "TXT", status: 200, bytes: 3},
		{s: 4, client: "10.0.0.6", host: "d.more.net", method: "GET", qtyp: "A", status: 200, bytes: 4},
		{s: 5, client: "10.0.0.6", host: "", method: "GET", qtyp: "A", status: 200},
	}
	for _, kind := range []record.Kind{record.KindProxy, record.KindDNS} {
		a := newAgg(tb, WindowConfig{Kind: kind, ByDest: true, DestKey: testDestKey, MaxKeys: 3, CloseBatch: 1, Seen: NewSeen(0, 0, testDestKey)})
		n := newDestNode()
		for _, l := range lines {
			a.Add(n.record(kind, l))
		}
		a.CloseThrough(sec(0), func(*Result) {})
		if !a.Closing() {
			tb.Fatal("test setup: no window closing")
		}
		snap := a.Snapshot()
		for start, blob := range snap.Frozen {
			seeds = append(seeds, fuzzSeed{kind, snap.Main, start, blob})
		}
		inline, _ := a.MarshalBinary()
		seeds = append(seeds, fuzzSeed{kind: kind, main: inline})
	}
	return seeds
}

// FuzzAggregator_RestoreDest feeds a destination aggregator (proxy or DNS)
// a main snapshot and the stored keys of one frozen window. What restores
// must close without panicking into vectors of the kind's counters and
// DestResults within bounds, and its own snapshot must restore to the same
// snapshot again (what a restore keeps, it keeps exactly).
func FuzzAggregator_RestoreDest(f *testing.F) {
	for _, s := range destFuzzSeeds(f) {
		f.Add(s.kind == record.KindDNS, s.main, s.start, s.frozen)
	}
	f.Add(false, []byte{snapshotDest}, int64(0), []byte{snapshotDest})
	f.Add(true, []byte{snapshotVersion}, int64(0), []byte(nil))
	f.Fuzz(func(t *testing.T, dns bool, main []byte, start int64, blob []byte) {
		kind := record.KindProxy
		if dns {
			kind = record.KindDNS
		}
		cfg := WindowConfig{Kind: kind, ByDest: true, DestKey: testDestKey, MaxKeys: 12, CloseBatch: 3, Seen: NewSeen(4, time.Hour, testDestKey)}
		b, _ := NewAggregator(cfg)
		frozen := map[int64][]byte{start: blob}
		if blob == nil {
			frozen = nil
		}
		if err := b.Restore(main, frozen); err != nil {
			if !errors.Is(err, ErrBadSnapshot) {
				t.Fatalf("error %v is not ErrBadSnapshot", err)
			}
			return
		}
		snap1, _ := b.MarshalBinary()
		c, _ := NewAggregator(cfg)
		if err := c.UnmarshalBinary(snap1); err != nil {
			t.Fatalf("the snapshot of a restored aggregator does not restore: %v", err)
		}
		if snap2, _ := c.MarshalBinary(); !bytes.Equal(snap1, snap2) {
			t.Fatalf("snapshot, restore, snapshot: %x then %x", snap1, snap2)
		}
		n := len(DestFeatureNames(kind))
		check := func(r *Result) {
			if len(r.Vector) != n || r.Dest == nil {
				t.Fatalf("result %s: %d counters (want %d), dest %v", r.Key, len(r.Vector), n, r.Dest)
			}
			if d := r.Dest; len(d.Clients) > destKeep || len(d.Users) > destKeep || len(d.Names) > destKeep {
				t.Fatalf("result %s: %d clients, %d users, %d names", r.Key, len(d.Clients), len(d.Users), len(d.Names))
			}
		}
		b.CloseThrough(maxInt64, check)
		for i := 0; b.Closing() && i < 1e6; i++ {
			b.ContinueClose(check)
		}
		b.Snapshot()
	})
}

// A DNS input as the pipeline runs it, a client and a destination
// aggregator sharing a seen set, restarted (new seed, seen set loaded,
// both aggregators restored) at a split: the clients' results must be
// those of one uninterrupted run.
//
// A DNS client's per-domain counts (behind distinct_domains,
// distinct_subdomains, new_domain_share and subdomain_entropy) are kept
// by destination hash, and stored so in snapshots: the hash is keyed by
// the node's DestKey, not by the process, so that they still match the
// destinations after a restart.
func TestAggregator_DNSClientSnapshotAcrossRestart(t *testing.T) {
	keepSeed(t)
	lines := destLines(rand.New(rand.NewPCG(15, 3)), 3000)
	run := func(split int) string {
		var out bytes.Buffer
		n := newDestNode()
		cfg := WindowConfig{Kind: record.KindDNS, Seen: n.seen}
		dcfg := WindowConfig{Kind: record.KindDNS, ByDest: true, DestKey: testDestKey, Seen: n.seen}
		clients, dests := newAgg(t, cfg), newAgg(t, dcfg)
		emit := func(r *Result) { fmt.Fprintf(&out, "%d %s %v\n", r.Start, r.Key, r.Vector) }
		for i, l := range lines {
			if i == split {
				cs, _ := clients.MarshalBinary()
				ds, _ := dests.MarshalBinary()
				n.commit()
				n.restart()
				cfg.Seen, dcfg.Seen = n.seen, n.seen
				clients, dests = newAgg(t, cfg), newAgg(t, dcfg)
				if err := clients.UnmarshalBinary(cs); err != nil {
					t.Fatal(err)
				}
				if err := dests.UnmarshalBinary(ds); err != nil {
					t.Fatal(err)
				}
			}
			r := n.record(record.KindDNS, l)
			clients.Add(r)
			clients.Advance(emit)
			dests.Add(r)
			dests.Advance(func(*Result) {})
		}
		clients.CloseThrough(maxInt64, emit)
		return out.String()
	}
	want := run(-1)
	for _, split := range []int{599, 1500} {
		if got := run(split); got != want {
			t.Errorf("restart at %d: client results differ from an uninterrupted run:\n%s", split, firstDiff(got, want))
		}
	}
}
