package detect

import (
	"github.com/socx/sharkfin/detect/domain"
	"github.com/socx/sharkfin/record"
)

// Destinations sets the destination fields of proxy and DNS records
// (record.Record.Name, Dest, DestHash, DestIP): the unit of the
// per-domain counters is the registrable domain of the host a client
// asked for (golang.org/x/net/publicsuffix through domain.Suffixes), or
// the address itself for a bare IP destination.
//
// One Destinations per goroutine (its suffix cache is not safe for
// concurrent use): the parse workers fill the records they parse, off the
// goroutine that counts.
type Destinations struct {
	suf  *domain.Suffixes
	name []byte
	key  DestKey
}

// NewDestinations returns a Destinations hashing with key (the one of the
// aggregators and seen set the records go to), with a suffix cache of the
// default size.
func NewDestinations(key DestKey) *Destinations {
	return &Destinations{suf: domain.NewSuffixes(0), name: make([]byte, 0, domain.MaxName), key: key}
}

// Fill sets r's destination fields for a record of kind k (web records
// have none), appending the normalized name to *arena, which r then
// aliases: the caller keeps the arena until r is counted and resets it
// (to [:0]) only after. A host that names no destination (empty, an
// "error:" URL, too long, digits that are no address) leaves the fields
// nil; the per-domain counters count such records apart
// (AggregatorStats.NoDest).
func (d *Destinations) Fill(k record.Kind, r *record.Record, arena *[]byte) {
	r.Name, r.Dest, r.DestHash, r.DestIP = nil, nil, 0, false
	if k != record.KindProxy && k != record.KindDNS {
		return
	}
	name, isIP := domain.Normalize(d.name[:0], r.Host)
	if name == nil {
		return
	}
	d.name = name
	start := len(*arena)
	*arena = append(*arena, name...)
	full := (*arena)[start:len(*arena):len(*arena)]
	dest := full
	if !isIP {
		if reg, ok := d.suf.Registrable(full); ok {
			dest = reg
		}
	}
	r.Name, r.Dest, r.DestHash, r.DestIP = full, dest, d.key.hash(dest), isIP
}

// subdomain is the part of a record's name before its registrable domain
// ("a.b" of "a.b.example.com"), empty when the name is the domain.
func subdomain(r *record.Record) []byte {
	if n := len(r.Name) - len(r.Dest) - 1; n > 0 && !r.DestIP {
		return r.Name[:n]
	}
	return nil
}

// regLabel is the label of the registrable domain a registrant chose
// ("example" of "example.co.uk"): what a DGA generates.
func regLabel(dest []byte) []byte {
	for i, c := range dest {
		if c == '.' {
			return dest[:i]
		}
	}
	return dest
}

// looksRandom reports whether a registrable label looks generated rather
// than chosen by a person: at least 8 characters with few vowels (under a
// quarter of its letters; words and brands have about 40%) or a run of 5
// consonants. A domain generation algorithm's names mostly do; brands
// built of abbreviations sometimes do too, so the feature is a share over
// count of the domains a client queried (random_domains), not a verdict.
func looksRandom(label []byte) bool {
	if len(label) < 8 {
		return false
	}
	letters, vowels, run, longest := 0, 0, 0, 0
	for _, c := range label {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		switch {
		case c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u' || c == 'y':
			letters++
			vowels++
			run = 0
		case 'a' <= c && c <= 'z':
			letters++
			run++
			longest = max(longest, run)
		default:
			run = 0
		}
	}
	return letters > 0 && (vowels*4 < letters || longest >= 5)
}
