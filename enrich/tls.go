package enrich

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"
)

// TLSNames connects to addr (host:port, normally a bare IP address and
// 443) without SNI, as a client that only knows the address would, and
// returns the names of the certificate it presents: its DNS SANs, then its
// subject CN when that is a name and not among them, lowercased, in order,
// without duplicates. The certificate is not verified: the names are what
// the server claims, which is the point (a self-signed certificate for a
// random name says much). timeout bounds the connection and handshake.
func TLSNames(ctx context.Context, addr string, timeout time.Duration) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	d := tls.Dialer{
		NetDialer: &net.Dialer{},
		Config: &tls.Config{
			InsecureSkipVerify: true, // the names are read, not trusted
			MinVersion:         tls.VersionTLS10,
		},
	}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("tls %s: %w", addr, err)
	}
	defer conn.Close()
	certs := conn.(*tls.Conn).ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return nil, errors.New("tls " + addr + ": no certificate")
	}
	c := certs[0]
	var names []string
	add := func(n string) {
		n = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(n), "."))
		if n != "" && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	for _, n := range c.DNSNames {
		add(n)
	}
	if cn := c.Subject.CommonName; cn != "" && !strings.ContainsAny(cn, " /") {
		add(cn)
	}
	return names, nil
}
