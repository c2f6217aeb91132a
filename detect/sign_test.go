package detect

import (
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// signedModel makes a key pair and a signed model file in a temp dir and
// returns the model path, its bytes and the public key.
func signedModel(t *testing.T) (path string, data []byte, pub ed25519.PublicKey, dir string) {
	t.Helper()
	dir = t.TempDir()
	prefix := filepath.Join(dir, "ops")
	if err := GenerateKey(prefix); err != nil {
		t.Fatalf("GenerateKey: %v", err)
	}
	priv, err := LoadPrivateKey(prefix + ".key")
	if err != nil {
		t.Fatalf("LoadPrivateKey: %v", err)
	}
	pub, err = LoadPublicKey(prefix + ".pub")
	if err != nil {
		t.Fatalf("LoadPublicKey: %v", err)
	}
	path = filepath.Join(dir, "web.json")
	data = mustJSON(t, validModel())
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := SignModel(priv, path); err != nil {
		t.Fatalf("SignModel: %v", err)
	}
	return path, data, pub, dir
}

func TestSign_VerifyRoundTrip(t *testing.T) {
	path, data, pub, _ := signedModel(t)
	if err := VerifyModel(data, path, []ed25519.PublicKey{pub}); err != nil {
		t.Fatalf("VerifyModel: %v", err)
	}
	other, _, _ := ed25519.GenerateKey(nil)
	if err := VerifyModel(data, path, []ed25519.PublicKey{other, pub}); err != nil {
		t.Fatalf("VerifyModel with the right key second: %v", err)
	}
}

func TestSign_KeyFiles(t *testing.T) {
	_, _, _, dir := signedModel(t)
	prefix := filepath.Join(dir, "ops")
	for name, want := range map[string]os.FileMode{".key": 0o600, ".pub": 0o644} {
		fi, err := os.Stat(prefix + name)
		if err != nil {
			t.Fatal(err)
		}
		// 0o644 may be narrowed by the umask; the private key never widened.
		if got := fi.Mode().Perm(); got&^want != 0 || (name == ".key" && got != 0o600) {
			t.Errorf("%s mode %v, want %v", name, got, want)
		}
	}
	if err := GenerateKey(prefix); err == nil {
		t.Fatal("GenerateKey overwrote an existing key")
	}
	if _, err := LoadPublicKey(prefix + ".key"); err == nil || !strings.Contains(err.Error(), "PUBLIC KEY") {
		t.Fatalf("private key loaded as public: %v", err)
	}
	if _, err := LoadPrivateKey(prefix + ".pub"); err == nil || !strings.Contains(err.Error(), "PRIVATE KEY") {
		t.Fatalf("public key loaded as private: %v", err)
	}
	if _, err := LoadPublicKey(filepath.Join(dir, "nope.pub")); err == nil || !strings.Contains(err.Error(), "nope.pub") {
		t.Fatalf("missing key: %v", err)
	}
}

func TestSign_Rejects(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, path string, data []byte, pub *ed25519.PublicKey) []byte
		bad    bool   // want ErrBadSignature
		want   string // substring of the error
	}{
		{
			name: "modified model byte",
			change: func(t *testing.T, path string, data []byte, pub *ed25519.PublicKey) []byte {
				d := append([]byte(nil), data...)
				d[len(d)/2] ^= 1
				return d
			},
			bad: true, want: "does not match any trusted key",
		},
		{
			name: "wrong key",
			change: func(t *testing.T, path string, data []byte, pub *ed25519.PublicKey) []byte {
				*pub, _, _ = ed25519.GenerateKey(nil)
				return data
			},
			bad: true, want: "does not match any trusted key",
		},
		{
			name: "no keys",
			change: func(t *testing.T, path string, data []byte, pub *ed25519.PublicKey) []byte {
				*pub = nil
				return data
			},
			bad: true, want: "does not match",
		},
		{
			name: "garbage signature file",
			change: func(t *testing.T, path string, data []byte, pub *ed25519.PublicKey) []byte {
				writeFile(t, path+".sig", "this is not a signature!\n")
				return data
			},
			bad: true, want: "is not a base64 ed25519 signature",
		},
		{
			name: "short signature",
			change: func(t *testing.T, path string, data []byte, pub *ed25519.PublicKey) []byte {
				writeFile(t, path+".sig", "c2hvcnQ=\n")
				return data
			},
			bad: true, want: "is not a base64 ed25519 signature",
		},
		{
			name: "missing signature",
			change: func(t *testing.T, path string, data []byte, pub *ed25519.PublicKey) []byte {
				if err := os.Remove(path + ".sig"); err != nil {
					t.Fatal(err)
				}
				return data
			},
			want: "sharkfin model sign",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, data, pub, _ := signedModel(t)
			data = tt.change(t, path, data, &pub)
			keys := []ed25519.PublicKey{pub}
			if pub == nil {
				keys = nil
			}
			err := VerifyModel(data, path, keys)
			if err == nil {
				t.Fatal("VerifyModel accepted")
			}
			if errors.Is(err, ErrBadSignature) != tt.bad {
				t.Fatalf("errors.Is(%v, ErrBadSignature) = %v, want %v", err, !tt.bad, tt.bad)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("error %q does not name %s and say %q", err, path, tt.want)
			}
		})
	}
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
