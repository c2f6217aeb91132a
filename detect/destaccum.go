package detect

import (
	"bytes"

	"github.com/socx/sharkfin/record"
)

// destKeep is how many client addresses, users and host names a
// destination's window keeps by name (the first ones seen): enough for an
// analyst to start from; the counts are exact either way.
const destKeep = 4

// destExt is what a destination's accumulator (WindowConfig.ByDest) keeps
// past the common counters: its accum.distinct counts distinct clients.
type destExt struct {
	hosts         u64set // distinct full names (nameHash)
	clients       [destKeep]string
	users         [destKeep]string
	names         [destKeep]string
	nc, nu, nn    uint8
	isIP          bool
	subEntropySum float64 // DNS: entropy of each distinct subdomain, summed
	maxNameLen    int64
}

func (d *destExt) reset() {
	h := d.hosts
	h.Reset()
	*d = destExt{hosts: h}
}

// addDest counts one record of a destination: hits, bytes and status
// classes as for a client, distinct clients (in distinct) and names, the
// first few clients, users and names, and the kind's counters.
func (a *accum) addDest(kind record.Kind, r *record.Record, key *DestKey) {
	if a.accExt == nil {
		a.accExt = &accExt{}
	}
	e := a.accExt
	if e.dest == nil {
		e.dest = &destExt{}
	}
	d := e.dest
	a.countLine(r)
	d.isIP = r.DestIP
	// Clients by a hash of their own, not r.ClientHash: that one is set
	// only by Prehash, and is seeded per process, while this set is
	// stored in snapshots and must match the clients counted after a
	// restart (hence the node's key).
	if a.distinct.Add(key.hash(r.Client)) && d.nc < destKeep {
		d.clients[d.nc] = string(r.Client)
		d.nc++
	}
	if len(r.User) > 0 && d.nu < destKeep && !(len(r.User) == 1 && r.User[0] == '-') && !keeps(d.users[:d.nu], r.User) {
		d.users[d.nu] = string(r.User)
		d.nu++
	}
	if n := int64(len(r.Name)); n > d.maxNameLen {
		d.maxNameLen = n
	}
	if d.hosts.Add(nameHash(kind, r, key)) {
		if d.nn < destKeep {
			d.names[d.nn] = string(r.Name)
			d.nn++
		}
		if kind == record.KindDNS {
			d.subEntropySum += entropy(subdomain(r))
		}
	}
	switch kind {
	case record.KindProxy:
		if bytes.Contains(r.Action, denied) {
			e.denied++
		}
		if bytes.Equal(r.Method, methodCONNECT) {
			e.connect++
		}
	case record.KindDNS:
		if bytes.EqualFold(r.QType, qtypeTXT) || bytes.EqualFold(r.QType, qtypeANY) {
			e.txtAny++
		}
	}
}

// nameHash is the hash of r's normalized name (Name) that a
// destination's hosts counts: r.Hash (prehashed) when it is the same, that
// is when the host as logged differs from Name in case only, else computed.
// A trailing dot (proxy hosts), brackets or another spelling of an IPv6
// address do not make a name distinct.
func nameHash(kind record.Kind, r *record.Record, key *DestKey) uint64 {
	host := r.Host
	if kind == record.KindDNS {
		host = queryName(host)
	}
	if r.DestIP || len(host) != len(r.Name) {
		return key.hash(r.Name)
	}
	return distinctHash(kind, r, key) // key.hashLower(host) == key.hash(Name)
}

func keeps(list []string, b []byte) bool {
	for _, s := range list {
		if s == string(b) {
			return true
		}
	}
	return false
}

// DestFeatureNames returns the ordered counters of a destination's window
// for a kind (the numbers of a domain event besides hits, bytes and
// clients, which it carries as fields too). The slice is a fresh copy.
func DestFeatureNames(k record.Kind) []string {
	switch k {
	case record.KindProxy:
		return []string{"hits", "bytes", "clients", "hosts", "hits_2xx", "hits_non2xx", "denied", "connect"}
	case record.KindDNS:
		return []string{"hits", "bytes", "clients", "subdomains", "subdomain_entropy", "max_qname_len", "txt_any_ratio"}
	}
	return nil
}

// Positions of the counters every kind's destination vector starts with.
const (
	DestHits = iota
	DestBytes
	DestClients
)

// destVector writes a destination's counters (DestFeatureNames order).
func (a *accum) destVector(kind record.Kind, out []float64) []float64 {
	out = out[:0]
	e := a.ext()
	d := e.dest
	if d == nil {
		d = &destExt{}
	}
	hosts := float64(d.hosts.Len())
	switch kind {
	case record.KindProxy:
		out = append(out, float64(a.hits), float64(a.bytes), float64(a.distinct.Len()), hosts,
			float64(a.s2xx), float64(a.hits-int64(a.s2xx)), float64(e.denied), float64(e.connect))
	case record.KindDNS:
		meanEnt, txt := 0.0, 0.0
		if n := d.hosts.Len(); n > 0 {
			meanEnt = d.subEntropySum / float64(n)
		}
		if a.hits > 0 {
			txt = float64(e.txtAny) / float64(a.hits)
		}
		out = append(out, float64(a.hits), float64(a.bytes), float64(a.distinct.Len()), hosts, meanEnt,
			float64(d.maxNameLen), txt)
	}
	return out
}

// DestResult is what a destination's closed window says besides its
// counters. Its slices alias the aggregator's memory: valid until the
// callback returns.
type DestResult struct {
	IsIP bool
	// New is set in the first window the destination is ever seen on
	// this node (WindowConfig.Seen); FirstSeen is that window's start,
	// Unix nanoseconds.
	New       bool
	FirstSeen int64
	// The first few clients, users and full host names seen, in order.
	Clients, Users, Names []string
}

// fill sets r from the accumulator.
func (d *destExt) fill(r *DestResult) {
	*r = DestResult{IsIP: d.isIP, Clients: d.clients[:d.nc], Users: d.users[:d.nu], Names: d.names[:d.nn]}
}
