package enrich

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openrdap/rdap"

	"github.com/socx/sharkfin/internal/enrichtest"
)

// rdapServer answers RDAP queries on loopback from answers (path -> JSON),
// 404 for others, and counts the requests per path.
func rdapServer(t *testing.T, answers map[string]string) (*httptest.Server, func(string) int) {
	var mu sync.Mutex
	asked := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked[r.URL.Path]++
		mu.Unlock()
		body, ok := answers[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/rdap+json")
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv, func(p string) int { mu.Lock(); defer mu.Unlock(); return asked[p] }
}

const rdapDomain = `{"objectClassName":"domain","ldhName":"fresh-c2.example","rdapConformance":["rdap_level_0"],
 "events":[{"eventAction":"last changed","eventDate":"2026-12-01T00:00:00Z"},{"eventAction":"registration","eventDate":"2026-11-30T10:00:00Z"}],
 "entities":[
  {"objectClassName":"entity","roles":["registrar"],"vcardArray":["vcard",[["version",{},"text","4.0"],["fn",{},"text","Cheap Names Ltd"]]]},
  {"objectClassName":"entity","roles":["registrant"],"vcardArray":["vcard",[["version",{},"text","4.0"],["fn",{},"text","R. Evil"],
    ["org",{},"text","Evil Corp"],["adr",{"cc":"ru"},"text",["","","","Moscow","","",""]]]]}]}`

const rdapNetwork = `{"objectClassName":"ip network","handle":"NET-198-51-100-0-1","startAddress":"198.51.100.0","endAddress":"198.51.100.255",
 "ipVersion":"v4","name":"EVILNET","country":"nl","events":[{"eventAction":"registration","eventDate":"2019-05-05T00:00:00Z"}],
 "entities":[{"objectClassName":"entity","roles":["registrant"],"vcardArray":["vcard",[["version",{},"text","4.0"],["fn",{},"text","Evil Hosting"]]]}]}`

// RDAP answers of a domain and a network are read as WHOIS ones are:
// registrant organisation and country code, registration date, network
// name, the server asked.
func TestRDAP_DomainAndNetwork(t *testing.T) {
	srv, _ := rdapServer(t, map[string]string{"/domain/fresh-c2.example": rdapDomain, "/ip/198.51.100.7": rdapNetwork})
	cfg := RDAPConfig{Server: srv.URL + "/", Timeout: 2 * time.Second}
	r, err := RDAP(context.Background(), "fresh-c2.example", false, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if r.Org != "Evil Corp" || r.Country != "RU" || r.Registrar != "Cheap Names Ltd" ||
		!r.Created.Equal(time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)) || len(r.Servers) != 1 || r.Servers[0] != srv.URL {
		t.Errorf("domain: %+v", r)
	}
	r, err = RDAP(context.Background(), "198.51.100.7", true, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if r.NetName != "EVILNET" || r.Org != "Evil Hosting" || r.Country != "NL" || r.Created.Year() != 2019 {
		t.Errorf("network: %+v", r)
	}
	if _, err := RDAP(context.Background(), "unknown.example", false, cfg); err == nil {
		t.Error("a 404: no error")
	}
}

// With RDAP on, the service asks RDAP first and falls back to WHOIS for a
// destination RDAP knows nothing of; results are cached either way.
func TestService_RDAPThenWhois(t *testing.T) {
	srv, asked := rdapServer(t, map[string]string{"/domain/fresh-c2.example": rdapDomain})
	iana := enrichtest.NewWhois(t, false)
	iana.Answer("old.example", "domain: OLD.EXAMPLE\norganisation: Old Names\ncreated: 1999-01-01\n")
	st := openStore(t)
	s := New(Config{RDAP: true, RDAPCfg: RDAPConfig{Server: srv.URL, Timeout: 2 * time.Second},
		WhoisCfg: WhoisConfig{Server: iana.Addr(), Timeout: 2 * time.Second}, Rate: 100, Burst: 10}, st, quiet)
	run(t, s)
	for _, d := range []string{"fresh-c2.example", "old.example"} {
		if !s.Request(d, false) {
			t.Fatalf("%s not queued", d)
		}
	}
	got := map[string]string{}
	if !waitFor(5*time.Second, func() bool {
		for _, d := range []string{"fresh-c2.example", "old.example"} {
			if e, ok := s.Lookup(d); ok && e.Whois != nil {
				got[d] = e.Whois.Org + "|" + e.Whois.Created + "|" + e.Whois.Server
			}
		}
		return len(got) == 2
	}) {
		t.Fatalf("results within 5s: %v", got)
	}
	if got["fresh-c2.example"] != "Evil Corp|2026-11-30|"+srv.URL || got["old.example"] != "Old Names|1999-01-01|"+iana.Addr() {
		t.Errorf("results %v", got)
	}
	if n := iana.Asked("fresh-c2.example"); n != 0 {
		t.Errorf("WHOIS asked about a domain RDAP answered for: %d", n)
	}
	if asked("/domain/fresh-c2.example") != 1 || asked("/domain/old.example") != 1 {
		t.Errorf("RDAP asked %d and %d times, want once each", asked("/domain/fresh-c2.example"), asked("/domain/old.example"))
	}
}

// Answers a hostile or broken RDAP server may send: a blank registration
// date (it once panicked, which ended the agent), and an endless body
// (read whole into memory by the client library, now cut at
// maxRDAPAnswer).
func TestRDAP_HostileAnswers(t *testing.T) {
	huge := `{"objectClassName":"ip network","name":"` + strings.Repeat("A", maxRDAPAnswer) + `"}`
	srv, _ := rdapServer(t, map[string]string{
		"/domain/blank-date.example": `{"objectClassName":"domain","ldhName":"blank-date.example","events":[{"eventAction":"registration","eventDate":" "}],
 "entities":[{"objectClassName":"entity","roles":["registrant"],"vcardArray":["vcard",[["version",{},"text","4.0"],["org",{},"text","Blank Ltd"]]]}]}`,
		"/ip/198.51.100.9": huge,
	})
	cfg := RDAPConfig{Server: srv.URL + "/", Timeout: 2 * time.Second}
	r, err := RDAP(context.Background(), "blank-date.example", false, cfg)
	if err != nil || r.Org != "Blank Ltd" || !r.Created.IsZero() {
		t.Errorf("blank date: %+v, %v; want the organisation and no date", r, err)
	}
	// (The client library reports every server's failure alike: "No RDAP
	// servers responded successfully".)
	if r, err := RDAP(context.Background(), "198.51.100.9", true, cfg); err == nil {
		t.Errorf("an answer of %d bytes read: %d bytes of network name; want it refused", len(huge), len(r.NetName))
	}
}

// panicTransport stands for a bug on the way through an answer.
type panicTransport struct{}

func (panicTransport) RoundTrip(*http.Request) (*http.Response, error) {
	panic("a bug in an answer's reader")
}

// A panic while a worker reads an answer fails that lookup (counted,
// cached as empty for the negative TTL) instead of ending the agent, and
// the next lookup still runs (the RDAP lock was released).
func TestService_PanicInLookupFailsOnlyIt(t *testing.T) {
	st := openStore(t)
	s := New(Config{RDAP: true, RDAPCfg: RDAPConfig{Server: "http://127.0.0.1:9/", HTTP: &http.Client{Transport: panicTransport{}}, Timeout: time.Second},
		WhoisCfg: WhoisConfig{Server: "127.0.0.1:9", Timeout: time.Second}, Rate: 100, Burst: 10, NegativeTTL: time.Hour}, st, quiet)
	run(t, s)
	for _, d := range []string{"one.example", "two.example"} {
		if !s.Request(d, false) {
			t.Fatalf("%s not queued", d)
		}
	}
	if !waitFor(5*time.Second, func() bool { return s.Stats().Failed == 2 }) {
		t.Fatalf("stats within 5s: %+v; want both lookups failed", s.Stats())
	}
	for _, d := range []string{"one.example", "two.example"} {
		if e, ok := s.Lookup(d); !ok || e.Whois != nil || len(e.TLSNames) != 0 {
			t.Errorf("%s: %+v, cached %v; want an empty result cached", d, e, ok)
		}
	}
}

func FuzzRDAPAnswer(f *testing.F) {
	f.Add([]byte(rdapDomain))
	f.Add([]byte(rdapNetwork))
	f.Add([]byte(`{"objectClassName":"domain","events":[{"eventAction":"registration","eventDate":" "}]}`))
	f.Add([]byte(`{"objectClassName":"entity","vcardArray":["vcard",[["adr",{},"text",[]]]]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		obj, err := rdap.NewDecoder(data).Decode()
		if err != nil {
			return
		}
		_, _ = rdapRecord(obj)
	})
}
