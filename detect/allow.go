package detect

import (
	"bytes"

	"github.com/socx/sharkfin/record"
)

// Allow matches the lines of allowlisted traffic by request path prefix
// or user agent substring: a key's window all of whose lines match is
// allowlisted (Result.Allowed), counted and scored but never to be
// flagged (a health checker hitting /health, an uptime monitor's user
// agent). A key with one other line is judged as usual. Read-only once
// made: a reload makes a new one (Aggregator.SetAllow).
type Allow struct {
	paths, agents [][]byte
}

// NewAllow returns the matcher of path prefixes and user agent substrings
// (both case-sensitive), nil when both are empty.
func NewAllow(paths, agents []string) *Allow {
	if len(paths) == 0 && len(agents) == 0 {
		return nil
	}
	a := &Allow{}
	for _, p := range paths {
		a.paths = append(a.paths, []byte(p))
	}
	for _, s := range agents {
		a.agents = append(a.agents, []byte(s))
	}
	return a
}

// match reports whether r is allowlisted traffic: its path (query string
// dropped) starts with a listed prefix, or its user agent holds a listed
// substring.
func (a *Allow) match(r *record.Record) bool {
	if len(a.paths) > 0 {
		p := pathOf(r.Target)
		for _, x := range a.paths {
			if bytes.HasPrefix(p, x) {
				return true
			}
		}
	}
	for _, x := range a.agents {
		if bytes.Contains(r.UserAgent, x) {
			return true
		}
	}
	return false
}

// SetAllow replaces the matcher of allowlisted lines (nil: none) from the
// next line on; lines counted before keep their verdict.
func (a *Aggregator) SetAllow(al *Allow) { a.cfg.Allow = al }
