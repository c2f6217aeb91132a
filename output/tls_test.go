package output

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	file string // its certificate, PEM
}

func newTestCA(t *testing.T, dir, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	ca := &testCA{cert: cert, key: key, file: filepath.Join(dir, name+".pem")}
	writeFile(t, ca.file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	return ca
}

// issueServer writes a certificate for 127.0.0.1 and its key, and returns
// their paths.
func (ca *testCA) issueServer(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "fluentd"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem")
	writeFile(t, certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	writeFile(t, keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	return certFile, keyFile
}

func TestForward_TLS(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, dir, "sharkfin-test-ca")
	other := newTestCA(t, dir, "other-ca")
	cert, key := ca.issueServer(t, dir)
	r := startReceiver(t, "", "-tls-cert", cert, "-tls-key", key)

	t.Run("CA file trusted", func(t *testing.T) {
		f := newForward(t, ForwardConfig{Address: r.addr, TLS: true, CAFile: ca.file})
		sent := sampleEvents()
		if err := f.Write(context.Background(), sent); err != nil {
			t.Fatalf("Write over TLS: %v", err)
		}
		checkDelivered(t, r.entries(), sent, DefaultTagPrefix)
	})

	refused := []struct {
		name string
		cfg  ForwardConfig
		want string
	}{
		{"wrong CA file", ForwardConfig{Address: r.addr, TLS: true, CAFile: other.file}, "CA file " + other.file},
		{"system roots", ForwardConfig{Address: r.addr, TLS: true}, "system roots"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			f := newForward(t, tt.cfg)
			start := time.Now()
			err := f.Write(context.Background(), sampleEvents()[:1])
			var ua x509.UnknownAuthorityError
			if !errors.As(err, &ua) {
				t.Fatalf("Write to a server of an untrusted CA: %v, want x509.UnknownAuthorityError", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("refusal took %v", d)
			}
		})
	}

	t.Run("verification skipped", func(t *testing.T) {
		f := newForward(t, ForwardConfig{Address: r.addr, TLS: true, InsecureSkipVerify: true})
		if err := f.Write(context.Background(), sampleEvents()[:1]); err != nil {
			t.Fatalf("Write without verification: %v", err)
		}
	})
}
