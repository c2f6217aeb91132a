package detect

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
)

// ErrBadSignature is returned when a model's signature does not verify
// against any trusted key.
var ErrBadSignature = errors.New("bad signature")

// ErrUnsigned is returned when a model's signature file cannot be read.
var ErrUnsigned = errors.New("no signature")

// GenerateKey writes prefix.key (PKCS#8 PEM, mode 0600) and prefix.pub
// (PKIX PEM) holding a new ed25519 key pair. Existing files are not
// overwritten.
func GenerateKey(prefix string) error {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return fmt.Errorf("generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return fmt.Errorf("encode private key: %w", err)
	}
	pder, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return fmt.Errorf("encode public key: %w", err)
	}
	if err := writeNew(prefix+".key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return err
	}
	return writeNew(prefix+".pub", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pder}), 0o644)
}

func writeNew(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("write key: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write key %s: %w", path, err)
	}
	return f.Close()
}

func readPEM(path, typ string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	b, _ := pem.Decode(data)
	if b == nil || b.Type != typ {
		return nil, fmt.Errorf("key %s: not a PEM %q block; make keys with `sharkfin model keygen`", path, typ)
	}
	return b.Bytes, nil
}

// LoadPrivateKey reads a key written by GenerateKey.
func LoadPrivateKey(path string) (ed25519.PrivateKey, error) {
	der, err := readPEM(path, "PRIVATE KEY")
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("key %s: not an ed25519 key", path)
	}
	return priv, nil
}

// LoadPublicKey reads a public key written by GenerateKey.
func LoadPublicKey(path string) (ed25519.PublicKey, error) {
	der, err := readPEM(path, "PUBLIC KEY")
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", path, err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("key %s: not an ed25519 key", path)
	}
	return pub, nil
}

// SignModel writes modelPath+".sig": the base64 ed25519 signature of the
// model file's exact bytes.
func SignModel(priv ed25519.PrivateKey, modelPath string) error {
	data, err := os.ReadFile(modelPath)
	if err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	sig := base64.StdEncoding.EncodeToString(ed25519.Sign(priv, data))
	if err := os.WriteFile(modelPath+".sig", []byte(sig+"\n"), 0o644); err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	return nil
}

// VerifyModel checks modelPath+".sig" against the model bytes with any of
// the keys.
func VerifyModel(data []byte, modelPath string, keys []ed25519.PublicKey) error {
	raw, err := os.ReadFile(modelPath + ".sig")
	if err != nil {
		return fmt.Errorf("model %s: signature: %w; sign it with `sharkfin model sign`: %w", modelPath, err, ErrUnsigned)
	}
	return VerifySignature(data, raw, modelPath, keys)
}

// VerifySignature checks sigText (a MODEL.sig's content) over data, a
// model named name in errors, against keys.
func VerifySignature(data, sigText []byte, name string, keys []ed25519.PublicKey) error {
	sig, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(sigText)))
	if err != nil || len(sig) != ed25519.SignatureSize {
		return fmt.Errorf("model %s: signature %s.sig is not a base64 ed25519 signature: %w", name, name, ErrBadSignature)
	}
	for _, k := range keys {
		if ed25519.Verify(k, data, sig) {
			return nil
		}
	}
	return fmt.Errorf("model %s: signature does not match any trusted key (model changed after signing, or signed with another key): %w", name, ErrBadSignature)
}
