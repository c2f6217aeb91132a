package detect

import (
	"bytes"
	"math"

	"github.com/socx/sharkfin/record"
)

// accum is the running state of one key (source IP) in one window. Web
// keys, the bulk of a flood, carry only the common counters; proxy and DNS
// keys add an accExt.
type accum struct {
	hits, bytes int64
	// Status classes and POSTs (web) saturate at 2^32-1: a key would
	// need more than four billion lines in one window. A flood's window
	// holds max_keys accumulators, so every byte here counts.
	s2xx, s3xx, s4xx, s5xx uint32
	post                   uint32
	// allowed counts the lines WindowConfig.Allow matched (saturating):
	// a window all of whose lines matched is allowlisted.
	allowed uint32
	// rare counts the web requests to paths the model's vocabulary does
	// not know (record.Record.Rare), rareErr those of them that failed
	// (4xx/5xx, not 499: see add); both saturate.
	rare, rareErr uint32
	// errPaths are the first errPathsKept distinct paths of the rare
	// errors (pathTag; 0: none yet), errOther the rare errors on any
	// other path (saturating): what the client's horizon needs to tell
	// new rare errors from retries (Horizon). 8 bytes: the accumulator
	// is 104.
	errPaths [errPathsKept]uint16
	errOther uint16
	// distinct: web paths, proxy destination hosts, dns query names.
	distinct u64set
	*accExt  // proxy and dns only; nil for web
}

// accExt is the part of an accumulator only proxy and DNS keys need.
type accExt struct {
	denied, connect int64 // proxy
	// ipDest: proxy destinations that are bare IP addresses.
	ipDest u64set

	// dns
	qnameLenSum   int64
	maxQNameLen   int64
	maxEntropy    float64
	txtAny        int64
	perDomain     map[uint64]domainStat // registrable domain (its key hash) -> what the client asked of it
	maxSubdomains int32
	// The longest and most random registrable label (the part of the
	// domain its registrant chose) among the domains queried.
	maxRegLen     int64
	maxRegEntropy float64
	// randomDomains counts the registrable domains queried whose label
	// looks generated (looksRandom).
	randomDomains int64

	// dest is the part of a destination's accumulator (WindowConfig.ByDest).
	dest *destExt
}

// ext returns the extension, or an empty one (not to be modified) for web
// keys.
func (a *accum) ext() *accExt {
	if a.accExt == nil {
		return &accExt{}
	}
	return a.accExt
}

func (a *accum) reset() {
	d, e := a.distinct, a.accExt
	*a = accum{}
	d.Reset()
	a.distinct = d
	if e != nil {
		ip, pd, dest := e.ipDest, e.perDomain, e.dest
		*e = accExt{}
		ip.Reset()
		e.ipDest = ip
		if pd != nil && len(pd) <= maxKeptTable {
			// A map grown by one client's thousands of domains (a
			// tunnel) is dropped, as u64set.Reset drops a large table:
			// a Go map never shrinks, and the accumulator is recycled.
			clear(pd)
			e.perDomain = pd
		}
		if dest != nil {
			dest.reset()
			e.dest = dest
		}
		a.accExt = e
	}
}

// errPathsKept is the rare-error paths an accumulator keeps: a window
// with more is a probe (IsProbe, at the default --probe-rare-errors of 3)
// whatever its horizon says.
const errPathsKept = 3

// pathTag is what the rare-error paths keep of a path (pathOf: the
// query string dropped): 16 bits (never 0) of its SipHash under the
// node's key. Keyed over the path's bytes, so that a scanner cannot pick
// spellings of its probes (percent-encoding, "//") whose tags match a path
// it failed on before and pass every probe off as a retry: a keyed hash of
// the unkeyed 64-bit path hash would not do, as FNV-1a can be inverted to
// give any spelling the hash of another path. The parse workers compute it
// (TagRareError): in the goroutine that counts, it cost a scan of rare
// 404s 55 ns a line (+45%).
func (k *DestKey) pathTag(path []byte) uint16 {
	t := uint16(k.hash(path))
	if t == 0 {
		t = 1
	}
	return t
}

// TagRareError sets r.ErrTag when r is a web rare error (after
// PathVocab.Mark), with key: the key of the aggregator r goes to (its
// Horizon's; the agent's is the node's). A nil key tags nothing (the
// aggregator then tags it itself). Safe for concurrent use on distinct
// records.
func TagRareError(k record.Kind, r *record.Record, key *DestKey) {
	if key != nil && k == record.KindWeb && r.Rare && isRareErrorStatus(r.Status) {
		r.ErrTag = key.pathTag(pathOf(r.Target))
	}
}

// isRareErrorStatus reports whether a rare path's status makes it a rare
// error: the server refused or failed it (4xx/5xx). Nginx's 499 is the
// client hanging up before the answer: WordPress calls its own
// wp-cron.php with a 10 ms timeout, so an nginx WordPress logs hundreds of
// them a day from its own address, for a path only it asks (so rare).
// They stay 4xx (hits_4xx) but say nothing of the path.
func isRareErrorStatus(status int) bool {
	return status >= 400 && status < 600 && status != statusClientClosed
}

// addRareError notes a rare error on the path whose tag is p.
func (a *accum) addRareError(p uint16) {
	for i, x := range a.errPaths {
		switch x {
		case p:
			return
		case 0:
			a.errPaths[i] = p
			return
		}
	}
	if a.errOther < math.MaxUint16 {
		a.errOther++
	}
}

// failures is what the window adds to its client's horizon.
func (a *accum) failures() failures {
	return failures{n4xx: a.s4xx, rareErr: a.rareErr, paths: a.errPaths, other: a.errOther}
}

// statusClientClosed is nginx's 499: the client closed the connection
// before the response.
const statusClientClosed = 499

// add counts one record; tk keys the rare-error paths' tags. It allocates
// only when a distinct-value table has to grow.
func (a *accum) add(kind record.Kind, r *record.Record, tk *DestKey) {
	if kind != record.KindWeb && a.accExt == nil {
		a.accExt = &accExt{}
	}
	a.countLine(r)
	switch kind {
	case record.KindWeb:
		if bytes.Equal(r.Method, methodPOST) {
			inc(&a.post)
		}
		if r.Rare {
			inc(&a.rare)
			if isRareErrorStatus(r.Status) {
				inc(&a.rareErr)
				p := r.ErrTag
				if p == 0 { // not tagged by a parse worker
					p = tk.pathTag(pathOf(r.Target))
				}
				a.addRareError(p)
			}
		}
		a.distinct.Add(distinctHash(record.KindWeb, r, tk))
	case record.KindProxy:
		if bytes.Contains(r.Action, denied) {
			a.denied++
		}
		if bytes.Equal(r.Method, methodCONNECT) {
			a.connect++
		}
		if len(r.Host) > 0 {
			h := distinctHash(record.KindProxy, r, tk)
			a.distinct.Add(h)
			if isIPLiteral(r.Host) {
				a.ipDest.Add(h)
			}
		}
	case record.KindDNS:
		a.addQuery(r, tk)
	}
}

// countLine counts r's hit, bytes and status class: what every key counts.
func (a *accum) countLine(r *record.Record) {
	a.hits++
	a.bytes += r.Bytes
	switch {
	case r.Status >= 200 && r.Status < 300:
		inc(&a.s2xx)
	case r.Status >= 300 && r.Status < 400:
		inc(&a.s3xx)
	case r.Status >= 400 && r.Status < 500:
		inc(&a.s4xx)
	case r.Status >= 500 && r.Status < 600:
		inc(&a.s5xx)
	}
}

// inc adds one to a saturating counter.
func inc(c *uint32) {
	if *c != math.MaxUint32 {
		*c++
	}
}

// Prehash computes r.Hash and r.ClientHash, the hashes Add needs of a
// record of kind k, so that parse workers can do it instead of the
// goroutine that counts. It is safe for concurrent use on distinct
// records.
func Prehash(k record.Kind, r *record.Record, key *DestKey) {
	if k != record.KindUnknown && key != nil {
		r.Hash, r.ClientHash, r.Hashed = hashOf(k, r, key), keyHash(r.Client), true
	}
}

// distinctHash is r's Hash if Prehash set it, else hashOf.
func distinctHash(k record.Kind, r *record.Record, key *DestKey) uint64 {
	if r.Hashed {
		return r.Hash
	}
	return hashOf(k, r, key)
}

// hashOf is the hash of the value a record of kind k counts as distinct:
// the path (web), the destination host (proxy), the query name (DNS). It
// is keyed (SipHash under the node's key, kept in the state as the
// snapshots' hashes must match after a restart): the sender picks these
// values, and an unkeyed hash (FNV-1a, before) can be inverted, so that a
// DNS tunnel could end every name with a few bytes that give them all one
// hash, and distinct_subdomains would read 1.
func hashOf(k record.Kind, r *record.Record, key *DestKey) uint64 {
	switch k {
	case record.KindWeb:
		return key.hash(pathOf(r.Target))
	case record.KindProxy:
		return key.hashLower(r.Host)
	case record.KindDNS:
		return key.hashLower(queryName(r.Host))
	}
	return 0
}

// queryName is a DNS query name without its trailing dot.
func queryName(q []byte) []byte {
	if n := len(q); n > 0 && q[n-1] == '.' {
		return q[:n-1]
	}
	return q
}

// domainStat is what a DNS client asked of one registrable domain in a
// window.
type domainStat struct {
	names, queries int32   // distinct names, queries
	entropy        float64 // entropy of the distinct subdomains, summed
}

func (a *accum) addQuery(r *record.Record, tk *DestKey) {
	q := queryName(r.Host)
	l := int64(len(q))
	a.qnameLenSum += l
	if l > a.maxQNameLen {
		a.maxQNameLen = l
	}
	if bytes.EqualFold(r.QType, qtypeTXT) || bytes.EqualFold(r.QType, qtypeANY) {
		a.txtAny++
	}
	// The registrable domain: from the public suffix list when the record
	// went through Destinations.Fill, else the last two labels (three
	// under a common second level) as a fallback.
	var reg, sub []byte
	var rh uint64
	if r.Dest != nil {
		reg, sub, rh = r.Dest, subdomain(r), r.DestHash
	} else {
		reg, sub = registeredDomain(q)
		rh = tk.hashLower(reg)
	}
	subEnt := maxLabelEntropy(sub)
	if subEnt > a.maxEntropy {
		a.maxEntropy = subEnt
	}
	if a.perDomain == nil {
		a.perDomain = make(map[uint64]domainStat, 4)
	}
	st, known := a.perDomain[rh]
	if !known && !r.DestIP { // once per domain and window: the label's length and entropy
		lab := regLabel(reg)
		a.maxRegLen = max(a.maxRegLen, int64(len(lab)))
		a.maxRegEntropy = max(a.maxRegEntropy, entropy(lab))
		if looksRandom(lab) {
			a.randomDomains++
		}
	}
	st.queries++
	if a.distinct.Add(distinctHash(record.KindDNS, r, tk)) {
		st.names++
		st.entropy += entropy(sub)
		if st.names > a.maxSubdomains {
			a.maxSubdomains = st.names
		}
	}
	a.perDomain[rh] = st
}

// dnsExtra computes the DNS features that need the whole window: the
// share of queries to domains first seen in it (seen nil: none known, so
// all), and the mean entropy of the subdomains under the domain with the
// most distinct names.
func (e *accExt) dnsExtra(hits int64, seen *Seen, start int64) (newShare, subEntropy float64) {
	var fresh int64
	best := domainStat{}
	for h, st := range e.perDomain {
		if first, ok := seen.firstSeen(h); !ok || first >= start/1e9 {
			fresh += int64(st.queries)
		}
		if st.names > best.names || (st.names == best.names && st.entropy > best.entropy) {
			best = st
		}
	}
	if hits > 0 {
		newShare = float64(fresh) / float64(hits)
	}
	if best.names > 0 {
		subEntropy = best.entropy / float64(best.names)
	}
	return newShare, subEntropy
}

// vector writes the kind's features (in FeatureNames order) into out: a
// web client's horizon sums from hv, or (nil: the overflow row, or no
// Horizon) the window's own counts.
func (a *accum) vector(kind record.Kind, out []float64, seen *Seen, start int64, hv *HorizonValues) []float64 {
	out = out[:0]
	f := func(v int64) float64 { return float64(v) }
	u := func(v uint32) float64 { return float64(v) }
	non2xx := a.hits - int64(a.s2xx)
	switch kind {
	case record.KindWeb:
		ratio, rareShare, rareErrRatio := 0.0, 0.0, 0.0
		if a.hits > 0 {
			ratio = (u(a.s4xx) + u(a.s5xx)) / float64(a.hits)
			rareShare = u(a.rare) / float64(a.hits)
		}
		if a.rare > 0 {
			rareErrRatio = u(a.rareErr) / u(a.rare)
		}
		out = append(out, f(a.hits), u(a.s2xx), u(a.s3xx), u(a.s4xx), u(a.s5xx), f(non2xx),
			f(a.bytes), float64(a.distinct.Len()), u(a.post), ratio,
			u(a.rare), u(a.rareErr), rareShare, rareErrRatio)
		if hv == nil {
			f := a.failures()
			n := u(f.fresh(&RecentPaths{}))
			out = append(out, u(a.s4xx), u(a.rareErr), u(a.s4xx), u(a.rareErr), n, n)
		} else {
			for _, v := range hv {
				// Three decimals: the sums are float32, whose float64
				// renders as 17 digits ("2.819592237472534") in every event.
				out = append(out, math.Round(float64(v)*1000)/1000)
			}
		}
	case record.KindProxy:
		e := a.ext()
		out = append(out, f(a.hits), u(a.s2xx), f(non2xx), f(a.bytes), float64(a.distinct.Len()),
			f(e.denied), f(e.connect), float64(e.ipDest.Len()))
	case record.KindDNS:
		e := a.ext()
		mean, ratio := 0.0, 0.0
		if a.hits > 0 {
			mean = float64(e.qnameLenSum) / float64(a.hits)
			ratio = float64(e.txtAny) / float64(a.hits)
		}
		newShare, subEnt := e.dnsExtra(a.hits, seen, start)
		out = append(out, f(a.hits), 0, 0, f(a.hits), float64(e.maxSubdomains), f(e.maxQNameLen),
			mean, e.maxEntropy, ratio, float64(len(e.perDomain)), f(e.maxRegLen), e.maxRegEntropy,
			newShare, subEnt, f(e.randomDomains))
	}
	return out
}

var (
	methodPOST    = []byte("POST")
	methodCONNECT = []byte("CONNECT")
	denied        = []byte("DENIED")
	qtypeTXT      = []byte("TXT")
	qtypeANY      = []byte("ANY")
)

// pathOf strips the query string: /search?q=1 and /search?q=2 are one path.
func pathOf(target []byte) []byte {
	if i := bytes.IndexByte(target, '?'); i >= 0 {
		return target[:i]
	}
	return target
}

// isIPLiteral reports whether a host is a bare IPv4 or IPv6 address
// (possibly in brackets).
func isIPLiteral(h []byte) bool {
	if len(h) == 0 {
		return false
	}
	if h[0] == '[' || bytes.IndexByte(h, ':') >= 0 {
		return true
	}
	dots := 0
	for _, c := range h {
		switch {
		case c == '.':
			dots++
		case c < '0' || c > '9':
			return false
		}
	}
	return dots == 3
}
