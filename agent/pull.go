package agent

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/socx/sharkfin/agent/config"
	"github.com/socx/sharkfin/detect"
	"github.com/socx/sharkfin/internal/atomicfile"
	"github.com/socx/sharkfin/output"
)

// A model given as an https:// URL is fetched into a local copy
// (config.PulledModelPath: a models directory beside the state file) that
// the agent then treats like a pushed file: modelSet notices the change
// and swaps it in. A fetch asks with If-None-Match (the ETag of the copy
// held), so an unchanged model costs one 304. A new model is written only
// once its signature (URL.sig) verifies against detect.trusted_keys and it
// decodes as a model of the right kind: a tampered or truncated download
// never reaches the model directory. Failures are retried with a backoff
// from 10s up to detect.model_pull.interval; the copy held keeps scoring.

// maxPulledModel bounds a fetched model or signature.
const maxPulledModel = 16 << 20

// pullMinBackoff is the first retry delay after a failed fetch.
const pullMinBackoff = 10 * time.Second

type puller struct {
	kind, url, path string
	client          *http.Client
	// keys are detect.trusted_keys, replaced on a configuration reload
	// (setKeys) while run goes on.
	keys     atomic.Pointer[[]ed25519.PublicKey]
	window   time.Duration // detect.window: a held copy must match it
	interval time.Duration
	log      *slog.Logger
	m        *metrics
}

// loadKeys reads detect.trusted_keys.
func loadKeys(paths []string) ([]ed25519.PublicKey, error) {
	var keys []ed25519.PublicKey
	for _, k := range paths {
		pub, err := detect.LoadPublicKey(k)
		if err != nil {
			return nil, fmt.Errorf("detect.trusted_keys: %w", err)
		}
		keys = append(keys, pub)
	}
	return keys, nil
}

// setKeys makes the pullers verify with the keys of a reloaded
// configuration.
func setKeys(ps []*puller, paths []string) error {
	keys, err := loadKeys(paths)
	if err != nil {
		return err
	}
	for _, p := range ps {
		p.keys.Store(&keys)
	}
	return nil
}

// newPullers prepares a puller for every model given as a URL.
func newPullers(cfg *config.Config, log *slog.Logger, m *metrics) ([]*puller, error) {
	if len(cfg.Detect.ModelURLs) == 0 {
		return nil, nil
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	if ca := cfg.Detect.ModelPull.CAFile; ca != "" {
		pool, err := output.LoadCAFile(ca)
		if err != nil {
			return nil, fmt.Errorf("detect.model_pull.ca_file: %w", err)
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	// The timeout bounds each request; a fetch is two (model, signature).
	client := &http.Client{Transport: tr, Timeout: cfg.Detect.ModelPull.Timeout.Std() / 2,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Scheme != "https" {
				return fmt.Errorf("redirected to %s: only https is followed", req.URL.Redacted())
			}
			if len(via) >= 5 {
				return errors.New("more than 5 redirects")
			}
			return nil
		}}
	keys, err := loadKeys(cfg.Detect.TrustedKeys)
	if err != nil {
		return nil, err
	}
	var ps []*puller
	for _, kind := range slices.Sorted(maps.Keys(cfg.Detect.ModelURLs)) {
		p := &puller{kind: kind, url: cfg.Detect.ModelURLs[kind], path: cfg.Detect.Models[kind], client: client,
			window: cfg.Detect.Window.Std(), interval: cfg.Detect.ModelPull.Interval.Std(),
			log: log.With("kind", kind, "url", cfg.Detect.ModelURLs[kind]), m: m}
		p.keys.Store(&keys)
		ps = append(ps, p)
	}
	return ps, nil
}

// ensure fetches the model unless a usable copy is held (one that
// verifies with today's keys and fits today's kind and window): the agent
// cannot start without one. A usable copy also starts the pull metrics at
// its time.
func (p *puller) ensure(ctx context.Context) error {
	why := p.usable()
	if why == nil {
		if st, err := os.Stat(p.path); err == nil {
			p.m.pullLast.WithLabelValues(p.kind).Set(float64(st.ModTime().UnixNano()) / 1e9)
		}
		p.m.pullErrors.WithLabelValues(p.kind).Add(0)
		return nil
	}
	if _, err := p.fetch(ctx); err != nil {
		return fmt.Errorf("detect.models.%s: cannot fetch %s and no usable copy is held (%v): %w", p.kind, p.url, why, err)
	}
	return nil
}

// usable says why the copy held cannot be used, or nil.
func (p *puller) usable() error {
	data, err := os.ReadFile(p.path)
	if err != nil {
		return err
	}
	sig, err := os.ReadFile(p.path + ".sig")
	if err != nil {
		return err
	}
	if err := detect.VerifySignature(data, sig, p.path, *p.keys.Load()); err != nil {
		return err
	}
	m, err := detect.DecodeModel(data)
	if err != nil {
		return err
	}
	if m.Kind != p.kind || m.WindowDuration() != p.window {
		return fmt.Errorf("the copy is model %s for %s logs with %s windows, not %s with %s", m.ID(), m.Kind, m.Window, p.kind, p.window)
	}
	return nil
}

// run fetches every interval until ctx ends, sooner after failures.
func (p *puller) run(ctx context.Context) {
	backoff := pullMinBackoff
	wait := p.interval
	for {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		changed, err := p.fetch(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			p.m.pullErrors.WithLabelValues(p.kind).Inc()
			wait = min(backoff, p.interval)
			wait += time.Duration(rand.Int64N(int64(wait)/5 + 1)) // jitter, so a fleet does not retry in step
			backoff = min(2*backoff, p.interval)
			p.log.Warn("model fetch failed; the model held keeps scoring", "err", err, "retry_in", wait.Round(time.Second))
		default:
			backoff, wait = pullMinBackoff, p.interval
			if changed {
				p.log.Info("new model fetched; it is loaded at the next model check")
			}
		}
	}
}

// fetch asks for a newer model and, when there is one, verifies it and
// writes it (and its signature) as the local copy. It reports whether the
// copy changed.
func (p *puller) fetch(ctx context.Context) (bool, error) {
	etagPath := p.path + ".etag"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url, nil)
	if err != nil {
		return false, err
	}
	if _, err := os.Stat(p.path); err == nil {
		if etag, err := os.ReadFile(etagPath); err == nil && len(etag) > 0 {
			req.Header.Set("If-None-Match", strings.TrimSpace(string(etag)))
		}
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusNotModified:
		p.m.pullLast.WithLabelValues(p.kind).SetToCurrentTime()
		return false, nil
	case http.StatusOK:
	default:
		return false, fmt.Errorf("GET %s: %s", p.url, resp.Status)
	}
	data, err := readLimited(resp.Body, maxPulledModel)
	if err != nil {
		return false, fmt.Errorf("GET %s: %w", p.url, err)
	}
	sig, err := p.get(ctx, p.url+".sig")
	if err != nil {
		return false, err
	}
	if err := detect.VerifySignature(data, sig, p.url, *p.keys.Load()); err != nil {
		return false, err
	}
	m, err := detect.DecodeModel(data)
	if err != nil {
		return false, fmt.Errorf("%s: %w", p.url, err)
	}
	if m.Kind != p.kind {
		return false, fmt.Errorf("%s is model %s for %s logs, not %s", p.url, m.ID(), m.Kind, p.kind)
	}
	etag := resp.Header.Get("ETag")
	if held, err := os.ReadFile(p.path); err == nil && bytes.Equal(held, data) {
		// The same model (a server without ETags, or replicas with
		// different ones): nothing to swap in.
		if heldSig, err := os.ReadFile(p.path + ".sig"); err == nil && bytes.Equal(heldSig, sig) {
			p.saveETag(etag)
			p.m.pullLast.WithLabelValues(p.kind).SetToCurrentTime()
			return false, nil
		}
	}
	if err := os.MkdirAll(filepath.Dir(p.path), 0o755); err != nil {
		return false, err
	}
	// The signature first: the model check then finds a matching pair as
	// soon as the model lands.
	if err := atomicfile.Write(p.path+".sig", sig, 0o644); err != nil {
		return false, err
	}
	if err := atomicfile.Write(p.path, data, 0o644); err != nil {
		return false, err
	}
	p.saveETag(etag)
	p.m.pullLast.WithLabelValues(p.kind).SetToCurrentTime()
	return true, nil
}

// saveETag keeps the ETag of the copy held for the next If-None-Match.
func (p *puller) saveETag(etag string) {
	path := p.path + ".etag"
	if etag == "" {
		os.Remove(path)
		return
	}
	if err := atomicfile.Write(path, []byte(etag+"\n"), 0o644); err != nil {
		p.log.Warn("cannot keep the model's ETag; the next fetch downloads it whole", "err", err)
	}
}

func (p *puller) get(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s (a pulled model needs its signature beside it)", url, resp.Status)
	}
	return readLimited(resp.Body, maxPulledModel)
}

func readLimited(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, errors.New("larger than 16 MiB: not a model")
	}
	return b, nil
}
