package detect

import (
	"testing"

	"github.com/socx/sharkfin/record"
)

// A key's window is allowlisted when every one of its lines matched a
// path prefix or a user agent substring, through a snapshot and restore
// part way (the count of matched lines is kept).
func TestAggregator_Allowlisted(t *testing.T) {
	cfg := WindowConfig{Kind: record.KindWeb, Allow: NewAllow([]string{"/health"}, []string{"UptimeRobot/"})}
	line := func(client, target, agent string, at float64) *record.Record {
		return &record.Record{Time: sec(at), Client: []byte(client), Target: []byte(target), UserAgent: []byte(agent), Status: 200}
	}
	a := newAgg(t, cfg)
	for i := range 10 {
		at := float64(i)
		a.Add(line("10.0.0.1", "/health?probe=1", "curl/8", at))                // path: allowed
		a.Add(line("10.0.0.2", "/health", "curl/8", at))                        // path...
		a.Add(line("10.0.0.3", "/pricing", "Mozilla/5.0 UptimeRobot/2.0", at))  // agent: allowed
		a.Add(line("10.0.0.4", "/", "Mozilla/5.0", at))                         // neither
		a.Add(line("10.0.0.5", "/healthz-not-really/../x", "uptimerobot/", at)) // prefix /health matches; agent is case-sensitive
	}
	a.Add(line("10.0.0.2", "/index.html", "curl/8", 11)) // ...and one other line: judged as usual
	snap, _ := a.MarshalBinary()
	b := newAgg(t, cfg)
	if err := b.UnmarshalBinary(snap); err != nil {
		t.Fatal(err)
	}
	b.Add(line("10.0.0.1", "/health", "curl/8", 20))
	got := map[string]bool{}
	b.CloseThrough(maxInt64, func(r *Result) { got[r.Key] = r.Allowed })
	want := map[string]bool{"10.0.0.1": true, "10.0.0.2": false, "10.0.0.3": true, "10.0.0.4": false, "10.0.0.5": true}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s allowlisted %v, want %v", k, got[k], w)
		}
	}
	// Without a matcher nothing is, and SetAllow(nil) turns it off.
	c := newAgg(t, WindowConfig{Kind: record.KindWeb})
	c.Add(line("10.0.0.1", "/health", "UptimeRobot/", 1))
	c.CloseThrough(maxInt64, func(r *Result) {
		if r.Allowed {
			t.Error("allowlisted without an allowlist")
		}
	})
	if NewAllow(nil, nil) != nil {
		t.Error("an empty allowlist is not nil")
	}
}
