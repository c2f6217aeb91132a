package enrich

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/openrdap/rdap"
	"github.com/openrdap/rdap/bootstrap"
)

// RDAPConfig says where and how RDAP (RFC 9082/9083, registration data as
// JSON over HTTPS) is asked: the structured successor of WHOIS, which the
// gTLD registries have answered since 2019 and some no longer answer
// WHOIS for.
type RDAPConfig struct {
	// Server is the base URL of the RDAP server asked (e.g.
	// https://rdap.example.net/); empty finds the server of each query
	// from the IANA bootstrap registry (https://data.iana.org/rdap/).
	Server string
	// Timeout bounds each query (default 5s).
	Timeout time.Duration
	// HTTP is the client used (default: a client with Timeout).
	HTTP *http.Client
	// Bootstrap, if set, is the bootstrap client to reuse (it caches the
	// IANA registry; without one each query fetches it again). It is not
	// safe for concurrent use: callers sharing one take turns.
	Bootstrap *bootstrap.Client
}

// RDAP asks about query (a registrable domain, or an IP address when
// isIP) with github.com/openrdap/rdap and returns what the answer says:
// the registrant's (domains) or the network's (addresses) organisation,
// the country, the registration date and the network name, as WHOIS does.
func RDAP(ctx context.Context, query string, isIP bool, cfg RDAPConfig) (*WhoisRecord, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	hc := &http.Client{Timeout: cfg.Timeout}
	if cfg.HTTP != nil {
		c := *cfg.HTTP
		hc = &c
	}
	hc.Transport = limitBody(hc.Transport, maxRDAPAnswer)
	var req *rdap.Request
	if isIP {
		ip := net.ParseIP(query)
		if ip == nil {
			return nil, fmt.Errorf("rdap %q: not an IP address", query)
		}
		req = rdap.NewIPRequest(ip)
	} else {
		req = rdap.NewDomainRequest(query)
	}
	if cfg.Server != "" {
		u, err := url.Parse(cfg.Server)
		if err != nil {
			return nil, fmt.Errorf("rdap server %q: %w", cfg.Server, err)
		}
		req = req.WithServer(u)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	req.Timeout = cfg.Timeout
	client := &rdap.Client{HTTP: hc, UserAgent: "sharkfin", Bootstrap: cfg.Bootstrap}
	resp, err := client.Do(req.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("rdap %s: %w", query, err)
	}
	rec, err := rdapRecord(resp.Object)
	if err != nil {
		return nil, fmt.Errorf("rdap %s: %w", query, err)
	}
	for _, h := range resp.HTTP {
		if h.Error == nil && h.URL != "" {
			rec.Servers = append(rec.Servers, serverOf(h.URL))
		}
	}
	if len(rec.Servers) == 0 {
		return nil, errors.New("rdap " + query + ": no server answered")
	}
	return rec, nil
}

// rdapRecord is what an RDAP object says, as WhoisRecord fields (without
// Servers): a domain's registration date and registrant, a network's name,
// country, registration date and owner.
func rdapRecord(obj any) (*WhoisRecord, error) {
	rec := &WhoisRecord{}
	switch o := obj.(type) {
	case *rdap.Domain:
		rec.Created = eventDate(o.Events, "registration")
		fillEntities(rec, o.Entities)
	case *rdap.IPNetwork:
		rec.NetName, rec.Country = o.Name, strings.ToUpper(o.Country)
		rec.Created = eventDate(o.Events, "registration")
		fillEntities(rec, o.Entities)
	default:
		return nil, fmt.Errorf("answer of type %T", obj)
	}
	return rec, nil
}

// maxRDAPAnswer bounds an RDAP answer's body (a registry's is a few KiB;
// the client library reads whatever it is sent, whole, into memory), as
// maxAnswer does WHOIS answers. maxBootstrap bounds IANA's registry files.
const (
	maxRDAPAnswer = 1 << 20
	maxBootstrap  = 4 << 20
)

// limitBody wraps base (nil: http.DefaultTransport) so that reading a
// response body past max bytes fails (http.MaxBytesReader, whose
// ResponseWriter may be nil).
func limitBody(base http.RoundTripper, max int64) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return limitedTransport{base, max}
}

type limitedTransport struct {
	base http.RoundTripper
	max  int64
}

func (t limitedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = http.MaxBytesReader(nil, resp.Body, t.max)
	return resp, nil
}

// serverOf is the scheme and host of an RDAP URL: where the answer came
// from.
func serverOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Scheme + "://" + u.Host
}

// eventDate is the date of the first event of action, zero without one.
func eventDate(events []rdap.Event, action string) time.Time {
	for _, e := range events {
		if e.Action == action {
			if t, err := parseWhoisTime(e.Date); err == nil {
				return t
			}
		}
	}
	return time.Time{}
}

// fillEntities takes the organisation and country of the registrant (or,
// for networks, of the first entity that names one) and the registrar.
func fillEntities(rec *WhoisRecord, entities []rdap.Entity) {
	for _, role := range []string{"registrant", ""} {
		for _, e := range entities {
			if e.VCard == nil || (role != "" && !hasRole(e.Roles, role)) || hasRole(e.Roles, "registrar") {
				continue
			}
			if rec.Org == "" {
				rec.Org = firstNonEmpty(e.VCard.Org(), e.VCard.Name())
			}
			if rec.Country == "" {
				rec.Country = vcardCountry(e.VCard)
			}
		}
	}
	for _, e := range entities {
		if hasRole(e.Roles, "registrar") && e.VCard != nil && rec.Registrar == "" {
			rec.Registrar = firstNonEmpty(e.VCard.Org(), e.VCard.Name())
		}
	}
}

func hasRole(roles []string, role string) bool {
	for _, r := range roles {
		if strings.EqualFold(r, role) {
			return true
		}
	}
	return false
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// vcardCountry is the country of a vCard's address: its ISO 3166 code
// (the "cc" parameter RFC 8605 defines), else the country name given.
func vcardCountry(v *rdap.VCard) string {
	if adr := v.GetFirst("adr"); adr != nil {
		if cc := adr.Parameters["cc"]; len(cc) > 0 && cc[0] != "" {
			return strings.ToUpper(cc[0])
		}
	}
	return v.Country()
}
