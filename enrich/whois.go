package enrich

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// WhoisConfig says where and how WHOIS is asked.
type WhoisConfig struct {
	// Server is the first server asked, host[:port] (default
	// whois.iana.org:43); its referral is followed.
	Server string
	// Timeout bounds each server's answer (default 5s).
	Timeout time.Duration
	// MaxReferrals bounds the servers asked after the first (default 2:
	// IANA, then the registry, then the registrar).
	MaxReferrals int
}

const (
	defaultWhoisServer = "whois.iana.org:43"
	maxWhoisAnswer     = 256 << 10
)

// WhoisRecord is what the WHOIS servers asked said of a domain or address.
// A field is the first value found, asking the most specific server (the
// last referral) first.
type WhoisRecord struct {
	Org       string    // registrant or network organisation
	NetName   string    // network name (addresses)
	Country   string    // ISO 3166 code as given
	Created   time.Time // registration (domains) or allocation (networks)
	Registrar string
	// Servers are the servers asked, in order.
	Servers []string
}

// Empty reports whether nothing was learnt.
func (r *WhoisRecord) Empty() bool {
	return r.Org == "" && r.NetName == "" && r.Country == "" && r.Created.IsZero() && r.Registrar == ""
}

// WHOIS asks about query (a registrable domain or an IP address) over RFC
// 3912: the first server, then each server it refers to ("refer:",
// "whois:", "Registrar WHOIS Server:", "ReferralServer: whois://..."),
// up to MaxReferrals. An answer that cannot be had from a referred server
// leaves what the earlier ones said; only a failing first server is an
// error.
func WHOIS(ctx context.Context, query string, cfg WhoisConfig) (*WhoisRecord, error) {
	if cfg.Server == "" {
		cfg.Server = defaultWhoisServer
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.MaxReferrals == 0 {
		cfg.MaxReferrals = 2
	}
	rec := &WhoisRecord{}
	var answers []map[string]string
	server := withPort(cfg.Server)
	for hop := 0; hop <= cfg.MaxReferrals && server != ""; hop++ {
		text, err := ask(ctx, server, query, cfg.Timeout)
		rec.Servers = append(rec.Servers, server)
		if err != nil {
			if hop == 0 {
				return nil, err
			}
			break
		}
		kv := fields(text)
		answers = append(answers, kv)
		next := referral(kv)
		if next == "" || next == server {
			break
		}
		server = next
	}
	// The most specific answer first.
	for i := len(answers) - 1; i >= 0; i-- {
		fill(rec, answers[i])
	}
	return rec, nil
}

// ask sends one query and reads the whole answer.
func ask(ctx context.Context, server, query string, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", server)
	if err != nil {
		return "", fmt.Errorf("whois %s: %w", server, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := io.WriteString(conn, query+"\r\n"); err != nil {
		return "", fmt.Errorf("whois %s: %w", server, err)
	}
	b, err := io.ReadAll(io.LimitReader(conn, maxWhoisAnswer))
	if err != nil && len(b) == 0 {
		return "", fmt.Errorf("whois %s: %w", server, err)
	}
	return string(b), nil
}

// fields are the "key: value" lines of an answer, keys lowercased, the
// first value of each key kept.
func fields(text string) map[string]string {
	kv := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "%") || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ">>>") {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)
		if k == "" || v == "" || len(k) > 64 {
			continue
		}
		if _, seen := kv[k]; !seen {
			kv[k] = v
		}
	}
	return kv
}

// referral is the server an answer sends on to, host:port, or "".
func referral(kv map[string]string) string {
	for _, k := range []string{"refer", "whois", "registrar whois server", "referralserver"} {
		v := kv[k]
		if v == "" {
			continue
		}
		switch {
		case strings.HasPrefix(v, "whois://"):
			v = strings.TrimPrefix(v, "whois://")
		case strings.Contains(v, "://"):
			continue // rwhois:// and http:// are not RFC 3912
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue // "refer: whois://" names no server
		}
		return withPort(strings.TrimSuffix(f[0], "/"))
	}
	return ""
}

func withPort(server string) string {
	if _, _, err := net.SplitHostPort(server); err == nil {
		return server
	}
	return net.JoinHostPort(server, "43")
}

// fill sets the fields of rec not set yet from one answer.
func fill(rec *WhoisRecord, kv map[string]string) {
	first := func(keys ...string) string {
		for _, k := range keys {
			if v := kv[k]; v != "" {
				return v
			}
		}
		return ""
	}
	set := func(dst *string, keys ...string) {
		if *dst == "" {
			*dst = first(keys...)
		}
	}
	set(&rec.Org, "registrant organization", "org-name", "orgname", "organization", "organisation", "org", "owner", "descr")
	set(&rec.NetName, "netname", "network-name")
	set(&rec.Country, "registrant country", "country")
	set(&rec.Registrar, "registrar")
	if rec.Created.IsZero() {
		if t, err := parseWhoisTime(first("creation date", "created", "regdate", "registered", "registration time", "domain registration date")); err == nil {
			rec.Created = t
		}
	}
	rec.Country = strings.ToUpper(rec.Country)
}

// parseWhoisTime reads the date forms registries write.
func parseWhoisTime(s string) (time.Time, error) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return time.Time{}, errors.New("no date")
	}
	s = f[0]
	for _, layout := range []string{time.RFC3339Nano, time.RFC3339, "2006-01-02T15:04:05", "2006-01-02", "20060102", "02-Jan-2006", "2006.01.02", "2006/01/02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("date %q: not a form known", s)
}
