// Package enrichtest runs what destinations answer to the enrichment
// lookups, on loopback, for tests: WHOIS servers speaking RFC 3912, TLS
// servers presenting certificates with known names, and black holes that
// accept connections and never answer.
package enrichtest

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// Whois answers RFC 3912 queries on loopback with the answers set (query
// -> text) and records the request lines. A hanging one accepts and never
// answers.
type Whois struct {
	ln      net.Listener
	mu      sync.Mutex
	answers map[string]string
	got     []string
	hang    bool
}

// NewWhois starts a WHOIS server until the test ends.
func NewWhois(t testing.TB, hang bool) *Whois {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Whois{ln: ln, answers: map[string]string{}, hang: hang}
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				if s.hang {
					<-done
					return
				}
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				line, err := bufio.NewReader(c).ReadString('\n')
				if err != nil {
					return
				}
				s.mu.Lock()
				s.got = append(s.got, line)
				answer := s.answers[strings.TrimRight(line, "\r\n")]
				s.mu.Unlock()
				_, _ = c.Write([]byte(answer))
			})
		}
	})
	t.Cleanup(func() { ln.Close(); close(done); wg.Wait() })
	return s
}

// Addr is the server's host:port.
func (s *Whois) Addr() string { return s.ln.Addr().String() }

// Answer sets the answer to query.
func (s *Whois) Answer(query, text string) {
	s.mu.Lock()
	s.answers[query] = text
	s.mu.Unlock()
}

// Got returns the request lines received so far, as sent (with CRLF).
func (s *Whois) Got() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.got...)
}

// Asked counts the requests for query.
func (s *Whois) Asked(query string) int {
	n := 0
	for _, l := range s.Got() {
		if strings.TrimRight(l, "\r\n") == query {
			n++
		}
	}
	return n
}

// SelfSigned is a certificate for names with the subject CN cn.
func SelfSigned(t testing.TB, cn string, names ...string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: cn}, DNSNames: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TLSServer serves a certificate for names on loopback until the test
// ends; it returns its port.
func TLSServer(t testing.TB, names ...string) string {
	t.Helper()
	_, port, _ := net.SplitHostPort(ServeTLS(t, &tls.Config{Certificates: []tls.Certificate{SelfSigned(t, "", names...)}}))
	return port
}

// ServeTLS shakes hands with every connection on a loopback listener
// until the test ends; it returns the listener's address.
func ServeTLS(t testing.TB, cfg *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _ = c.(*tls.Conn).Handshake(); c.Close() }()
		}
	}()
	return ln.Addr().String()
}

// BlackHole accepts connections on loopback and never answers, until the
// test ends; it returns its port.
func BlackHole(t testing.TB) string {
	t.Helper()
	addr, stop, err := ListenBlackHole()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	_, port, _ := net.SplitHostPort(addr)
	return port
}

// ListenBlackHole accepts connections on loopback and never answers them
// until stop (for benchmarks, outside a test); it returns its address.
func ListenBlackHole() (addr string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	return ln.Addr().String(), func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	}, nil
}
