package agent_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// modelServer serves one model and its signature over TLS on loopback,
// with an ETag, answering If-None-Match with 304.
type modelServer struct {
	srv               *httptest.Server
	mu                sync.Mutex
	model, sig        []byte
	gets, notModified atomic.Int64
	noETag            atomic.Bool // answer every GET whole, without an ETag
	caFile            string
}

func newModelServer(t *testing.T, dir string) *modelServer {
	ms := &modelServer{}
	ms.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ms.mu.Lock()
		model, sig := ms.model, ms.sig
		ms.mu.Unlock()
		switch r.URL.Path {
		case "/models/web.json":
			ms.gets.Add(1)
			if ms.noETag.Load() {
				w.Write(model)
				return
			}
			sum := sha256.Sum256(model)
			etag := `"` + hex.EncodeToString(sum[:8]) + `"`
			if r.Header.Get("If-None-Match") == etag {
				ms.notModified.Add(1)
				w.WriteHeader(http.StatusNotModified)
				return
			}
			w.Header().Set("ETag", etag)
			w.Write(model)
		case "/models/web.json.sig":
			w.Write(sig)
		default:
			http.NotFound(w, r)
		}
	}))
	ms.srv.StartTLS()
	t.Cleanup(ms.srv.Close)
	ms.caFile = filepath.Join(dir, "models-ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ms.srv.Certificate().Raw})
	if err := os.WriteFile(ms.caFile, pemBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	return ms
}

func (ms *modelServer) set(model, sig []byte) {
	ms.mu.Lock()
	ms.model, ms.sig = model, sig
	ms.mu.Unlock()
}

func (ms *modelServer) url() string { return ms.srv.URL + "/models/web.json" }

// TestAgent_PulledModel gives the web model as an https:// URL on a real
// TLS server on loopback: the agent fetches it (and its signature) before
// it starts, scores with it, asks again every second with If-None-Match
// (304 while unchanged), and swaps in a newer signed model the server
// offers. A tampered model, one signed by another key and a model for
// another kind are refused before they reach the model directory: the
// pull error counter grows and the model in use stays. Restarted with the
// server gone, the agent starts from its copy; a first start without a
// copy and without the server fails, saying why.
func TestAgent_PulledModel(t *testing.T) {
	dir := t.TempDir()
	bin := sharkfinBinary(t)
	sh := func(args ...string) { t.Helper(); sharkfin(t, args...) }
	sh("model", "keygen", "--out", filepath.Join(dir, "ops"))
	sh("model", "keygen", "--out", filepath.Join(dir, "other"))
	orig := exampleModelBytes(t)
	signed := func(key string, data []byte) []byte {
		t.Helper()
		p := filepath.Join(dir, "tosign.json")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		sh("model", "sign", "--key", filepath.Join(dir, key+".key"), p)
		sig, err := os.ReadFile(p + ".sig")
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
	version := func(v string) []byte {
		return []byte(strings.Replace(string(orig), `"version": "example-1"`, `"version": "`+v+`"`, 1))
	}
	ms := newModelServer(t, dir)
	ms.set(orig, signed("ops", orig))

	logPath := filepath.Join(dir, "access.log")
	cfg := e2eConfig{Inputs: []e2eInput{{Name: "web", Path: logPath}}, Model: ms.url(),
		TrustedKeys: []string{filepath.Join(dir, "ops.pub")}, ModelCheck: "200ms", PullInterval: "1s", PullCA: ms.caFile}
	h := newAgent(t, dir, cfg)
	events := newEventLog(h)
	g := newTraffic("web", 6, 8, 100*time.Millisecond)
	lf := openLog(t, logPath)
	h.startReady()
	metric := h.sample
	scoredWith := func(model string) int {
		events.refresh()
		n := 0
		for _, p := range events.ipScores() {
			if p.ev.Model == model {
				n++
			}
		}
		return n
	}
	if !writeUntil(lf, g, 2000, 20*time.Second, func() bool { h.requireAlive(); return scoredWith("web@example-1") > 0 }) {
		t.Fatal("no event scored by the fetched model after 20s")
	}
	if !waitFor(10*time.Second, func() bool { return ms.notModified.Load() >= 2 }) {
		t.Errorf("no conditional requests answered 304: %d GETs, %d not modified", ms.gets.Load(), ms.notModified.Load())
	}

	// A server without ETags sends the same model whole every time: the
	// copy is not rewritten and no model is loaded again.
	copyPath := filepath.Join(dir, "state", "models", "web.json")
	st0, err := os.Stat(copyPath)
	if err != nil {
		t.Fatal(err)
	}
	loadedBefore := len(events.agentEvents("model loaded"))
	ms.noETag.Store(true)
	gets := ms.gets.Load()
	if !waitFor(15*time.Second, func() bool { return ms.gets.Load() >= gets+3 }) {
		t.Fatalf("no fetches without ETags: %d GETs", ms.gets.Load())
	}
	if st, err := os.Stat(copyPath); err != nil || !st.ModTime().Equal(st0.ModTime()) {
		t.Errorf("the same model without an ETag rewrote the copy (%v)", err)
	}
	writeUntil(lf, g, 2000, time.Second, func() bool { return false })
	if n := len(events.agentEvents("model loaded")); n != loadedBefore {
		t.Errorf("the same model loaded again: %d model loaded events, %d before", n, loadedBefore)
	}
	ms.noETag.Store(false)

	// A newer signed model.
	v2 := version("pulled-2")
	ms.set(v2, signed("ops", v2))
	if !writeUntil(lf, g, 2000, 20*time.Second, func() bool { h.requireAlive(); return scoredWith("web@pulled-2") > 0 }) {
		t.Fatal("the newer model was not used within 20s")
	}

	// Refused: tampered after signing, signed by another key, another kind.
	v3 := version("pulled-3")
	tampered := []byte(strings.Replace(string(v3), "pulled-3", "pulled-X", 1))
	dnsModel, err := os.ReadFile(filepath.Join(filepath.Dir(exampleModel(t)), "dns.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct {
		name      string
		data, sig []byte
	}{
		{"tampered", tampered, signed("ops", v3)},
		{"other key", v3, signed("other", v3)},
		{"dns model", dnsModel, signed("ops", dnsModel)},
	} {
		before := metric("sharkfin_model_pull_errors_total", `kind="web"`)
		ms.set(bad.data, bad.sig)
		if !waitFor(15*time.Second, func() bool { return metric("sharkfin_model_pull_errors_total", `kind="web"`) > before }) {
			t.Errorf("%s: no pull error counted", bad.name)
		}
		copyData, _ := os.ReadFile(filepath.Join(dir, "state", "models", "web.json"))
		if string(copyData) != string(v2) {
			t.Errorf("%s: the local copy changed", bad.name)
		}
	}
	n2 := scoredWith("web@pulled-2")
	if !writeUntil(lf, g, 2000, 10*time.Second, func() bool { h.requireAlive(); return scoredWith("web@pulled-2") > n2 }) {
		t.Error("pulled-2 stopped scoring after the refused models")
	}
	for _, p := range events.ipScores() {
		if p.ev.Model != "web@example-1" && p.ev.Model != "web@pulled-2" {
			t.Fatalf("an event scored by %s", p.ev.Model)
		}
	}
	h.stop(5 * time.Second)

	// The server gone: the agent starts from its copy, which it checks
	// first (signature, kind, window).
	ms.srv.Close()
	h.startReady()
	n2 = scoredWith("web@pulled-2")
	if !writeUntil(lf, g, 2000, 20*time.Second, func() bool { h.requireAlive(); return scoredWith("web@pulled-2") > n2 }) {
		t.Error("restarted without the server: not scoring with its copy")
	}
	h.stop(5 * time.Second)

	// No usable copy and no server: no start, and a message saying why.
	dir2 := t.TempDir()
	cfg2 := cfg
	cfg2.Inputs = []e2eInput{{Name: "web", Path: filepath.Join(dir2, "access.log")}}
	conf := writeConfig(t, dir2, cfg2)
	// A copy signed by a key no longer trusted is not usable either.
	stale := filepath.Join(dir2, "state", "models", "web.json")
	if err := os.MkdirAll(filepath.Dir(stale), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(stale, orig, 0o644)
	os.WriteFile(stale+".sig", signed("other", orig), 0o644)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "run", "-c", conf).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "cannot fetch") || !strings.Contains(string(out), "no usable copy is held") ||
		!strings.Contains(string(out), "does not match any trusted key") {
		t.Errorf("first start without the server: %v\n%s", err, out)
	}
	t.Logf("%d GETs of the model, %d answered 304", ms.gets.Load(), ms.notModified.Load())
}
