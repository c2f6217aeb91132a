package output

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// Defaults of ForwardConfig.
const (
	DefaultTagPrefix      = "sharkfin"
	DefaultForwardTimeout = 10 * time.Second
)

// ForwardConfig configures a Forward sink.
type ForwardConfig struct {
	// Address is host:port, or unix:///path for a unix socket.
	Address string
	// TLS connects with TLS (TCP only). The server certificate is verified
	// against CAFile when set, else against the system roots.
	TLS bool
	// CAFile is a PEM file of the CA certificates trusted for the server.
	CAFile string
	// InsecureSkipVerify accepts any server certificate. For tests only.
	InsecureSkipVerify bool
	// TagPrefix starts every tag: <prefix>.<kind>.<type>. Default "sharkfin".
	TagPrefix string
	// Timeout bounds one Write: connecting, sending and every ack.
	// Default 10s.
	Timeout time.Duration
	// Logger receives connection notices; nil discards them.
	Logger *slog.Logger
}

// endpoint is a validated ForwardConfig.
type endpoint struct {
	address       string // as configured
	network, addr string // for net.Dial
	tls           *tls.Config
	caFile        string
	tagPrefix     string
	timeout       time.Duration
	log           *slog.Logger
}

func (c ForwardConfig) endpoint() (*endpoint, error) {
	ep := &endpoint{address: c.Address, tagPrefix: c.TagPrefix, timeout: c.Timeout, log: c.Logger, caFile: c.CAFile}
	if ep.tagPrefix == "" {
		ep.tagPrefix = DefaultTagPrefix
	}
	if ep.timeout == 0 {
		ep.timeout = DefaultForwardTimeout
	}
	if ep.log == nil {
		ep.log = slog.New(slog.DiscardHandler)
	}
	if ep.timeout < 0 {
		return nil, fmt.Errorf("timeout %v: must be positive", c.Timeout)
	}
	if err := checkTag(ep.tagPrefix); err != nil {
		return nil, fmt.Errorf("tag prefix %q: %w", ep.tagPrefix, err)
	}

	if path, ok := strings.CutPrefix(c.Address, "unix://"); ok {
		if path == "" {
			return nil, fmt.Errorf("address %q: no socket path", c.Address)
		}
		if c.TLS {
			return nil, fmt.Errorf("address %q: TLS is for TCP addresses only", c.Address)
		}
		ep.network, ep.addr = "unix", path
		return ep, nil
	}
	host, port, err := net.SplitHostPort(c.Address)
	if err != nil {
		return nil, fmt.Errorf("address %q: want host:port or unix:///path: %w", c.Address, err)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return nil, fmt.Errorf("address %q: bad port %q", c.Address, port)
	}
	if host == "" {
		return nil, fmt.Errorf("address %q: no host", c.Address)
	}
	ep.network, ep.addr = "tcp", c.Address
	if !c.TLS {
		if c.CAFile != "" || c.InsecureSkipVerify {
			return nil, fmt.Errorf("address %q: a CA file or skipping verification needs TLS on", c.Address)
		}
		return ep, nil
	}
	ep.tls = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12, InsecureSkipVerify: c.InsecureSkipVerify}
	if c.CAFile != "" {
		pool, err := LoadCAFile(c.CAFile)
		if err != nil {
			return nil, err
		}
		ep.tls.RootCAs = pool
	}
	if c.InsecureSkipVerify {
		ep.log.Warn("TLS server certificate is not verified", "address", c.Address)
	}
	return ep, nil
}

func (ep *endpoint) display() string { return ep.address }

// LoadCAFile reads a PEM file of CA certificates into a pool.
func LoadCAFile(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA file %s: no PEM certificate in it", path)
	}
	return pool, nil
}

// checkTag accepts dot-separated parts of letters, digits, '_' and '-'.
func checkTag(s string) error {
	for part := range strings.SplitSeq(s, ".") {
		if err := checkTagPart(part); err != nil {
			return err
		}
	}
	return nil
}

func checkTagPart(s string) error {
	if s == "" {
		return errors.New("empty tag part")
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return fmt.Errorf("character %q not allowed in a tag", r)
		}
	}
	return nil
}
