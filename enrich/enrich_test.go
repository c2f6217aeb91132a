package enrich

import (
	"context"
	"crypto/tls"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/socx/sharkfin/internal/enrichtest"
)

func TestWHOIS_FollowsReferralsToTheMostSpecific(t *testing.T) {
	iana, registry, registrar, rir := enrichtest.NewWhois(t, false), enrichtest.NewWhois(t, false), enrichtest.NewWhois(t, false), enrichtest.NewWhois(t, false)
	iana.Answer("fresh-c2.example", "% IANA WHOIS server\n\nrefer:        "+registry.Addr()+"\n\ndomain:       EXAMPLE\ncreated:      1985-01-01\n")
	registry.Answer("fresh-c2.example", "   Domain Name: FRESH-C2.EXAMPLE\n   Registrar WHOIS Server: "+registrar.Addr()+
		"\n   Registrar: Cheap Names Ltd\n   Creation Date: 2026-11-30T10:00:00Z\n>>> Last update of whois database: 2026-12-06 <<<\n")
	registrar.Answer("fresh-c2.example", "Domain Name: fresh-c2.example\nRegistrant Organization: Evil Corp\nRegistrant Country: ru\n")
	iana.Answer("198.51.100.7", "refer: whois://"+rir.Addr()+"\n\ninetnum: 198.0.0.0 - 198.255.255.255\norganisation: ARIN\n")
	rir.Answer("198.51.100.7", "inetnum: 198.51.100.0 - 198.51.100.255\nnetname:        EVILNET\norg-name: Evil Hosting\ncountry:        NL\ncreated:        2019-05-05T00:00:00Z\n")

	cfg := WhoisConfig{Server: iana.Addr(), Timeout: 2 * time.Second}
	r, err := WHOIS(context.Background(), "fresh-c2.example", cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := WhoisRecord{Org: "Evil Corp", Country: "RU", Registrar: "Cheap Names Ltd", Created: time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)}
	if r.Org != want.Org || r.Country != want.Country || r.Registrar != want.Registrar || !r.Created.Equal(want.Created) || len(r.Servers) != 3 {
		t.Errorf("domain: %+v, want %+v from 3 servers", r, want)
	}
	if got := iana.Got(); len(got) != 1 || got[0] != "fresh-c2.example\r\n" {
		t.Errorf("request lines %q, want the query and CRLF", got)
	}

	r, err = WHOIS(context.Background(), "198.51.100.7", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if r.NetName != "EVILNET" || r.Org != "Evil Hosting" || r.Country != "NL" || r.Created.Year() != 2019 || len(r.Servers) != 2 {
		t.Errorf("address: %+v", r)
	}

	// A referral that does not answer leaves what IANA said; a first
	// server that does not answer is an error, within the timeout.
	hang := enrichtest.NewWhois(t, true)
	iana.Answer("stuck.example", "refer: "+hang.Addr()+"\ncreated: 1985-01-01\n")
	start := time.Now()
	r, err = WHOIS(context.Background(), "stuck.example", WhoisConfig{Server: iana.Addr(), Timeout: 300 * time.Millisecond})
	if err != nil || r.Created.Year() != 1985 {
		t.Errorf("stuck referral: %+v, %v", r, err)
	}
	if _, err := WHOIS(context.Background(), "x.example", WhoisConfig{Server: hang.Addr(), Timeout: 300 * time.Millisecond}); err == nil {
		t.Error("a first server that never answers: no error")
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("two 300ms timeouts took %s", took)
	}
	// A cancelled context stops a lookup at once.
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(100 * time.Millisecond); cancel() }()
	start = time.Now()
	if _, err := WHOIS(ctx, "x.example", WhoisConfig{Server: hang.Addr(), Timeout: time.Minute}); err == nil || time.Since(start) > 5*time.Second {
		t.Errorf("cancelled: %v after %s", err, time.Since(start))
	}
}

func TestTLSNames_WithoutSNI(t *testing.T) {
	var sni []string
	var mu sync.Mutex
	cfg := &tls.Config{Certificates: []tls.Certificate{enrichtest.SelfSigned(t, "C2.Evil.Example", "c2.evil.example", "WWW.evil.example.")},
		GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			mu.Lock()
			sni = append(sni, h.ServerName)
			mu.Unlock()
			return nil, nil
		}}
	addr := enrichtest.ServeTLS(t, cfg)
	names, err := TLSNames(context.Background(), addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(names, ",") != "c2.evil.example,www.evil.example" {
		t.Errorf("names %q", names)
	}
	mu.Lock()
	if len(sni) != 1 || sni[0] != "" {
		t.Errorf("SNI sent: %q", sni)
	}
	mu.Unlock()

	// A server that accepts and never shakes hands: an error in time.
	black, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer black.Close()
	start := time.Now()
	if _, err := TLSNames(context.Background(), black.Addr().String(), 300*time.Millisecond); err == nil || time.Since(start) > 3*time.Second {
		t.Errorf("black hole: %v after %s", err, time.Since(start))
	}
}

// A referral that names no server ("refer: whois://", as a server the
// address owner runs may answer) is no referral, and a blank date no
// date: both once panicked, which ended the agent.
func TestWHOIS_EmptyReferralAndBlankDate(t *testing.T) {
	rir := enrichtest.NewWhois(t, false)
	rir.Answer("198.51.100.7", "refer: whois://\nReferralServer: whois:// \nnetname: EVILNET\ncreated:  \t \n")
	r, err := WHOIS(context.Background(), "198.51.100.7", WhoisConfig{Server: rir.Addr(), Timeout: 2 * time.Second})
	if err != nil || r.NetName != "EVILNET" || !r.Created.IsZero() || len(r.Servers) != 1 {
		t.Errorf("%+v, %v; want the network's name, no date, one server", r, err)
	}
}

func FuzzWhoisAnswer(f *testing.F) {
	f.Add("refer: whois.example:43\nCreation Date: 2026-11-30T10:00:00Z\nRegistrant Country: ru\n")
	f.Add("ReferralServer: whois://rwhois.example\nnetname: X\ncreated: 2019-05-05\n")
	f.Add("% comment\n>>> x <<<\n:\n::\nk:\n")
	f.Add("refer: whois://\ncreated: \t\n")
	f.Fuzz(func(t *testing.T, text string) {
		kv := fields(text)
		_ = referral(kv)
		var r WhoisRecord
		fill(&r, kv)
	})
}
