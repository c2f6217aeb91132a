package output

import (
	"context"
	"crypto/x509"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/socx/sharkfin/internal/testpki"
)

func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestForward_TLS(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.NewCA(t, dir, "sharkfin-test-ca")
	other := testpki.NewCA(t, dir, "other-ca")
	cert, key := ca.IssueServer(t, dir)
	r := startReceiver(t, "", "-tls-cert", cert, "-tls-key", key)

	t.Run("CA file trusted", func(t *testing.T) {
		f := newForward(t, ForwardConfig{Address: r.addr, TLS: true, CAFile: ca.File})
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
		{"wrong CA file", ForwardConfig{Address: r.addr, TLS: true, CAFile: other.File}, "CA file " + other.File},
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
