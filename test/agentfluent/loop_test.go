package agentfluent_test

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFleetLoop is the model lifecycle end to end: an agent sends its
// events to a real forward receiver; what arrived is written as Fluentd's
// out_file writes JSON (the record with tag and time keys); `sharkfin
// train` makes a model of it, `sharkfin model sign` signs it, and it is
// dropped into the running agent's model file: the next windows arrive
// scored by it (model: web@loop-2). Then a tampered copy, one signed by
// another key, a truncated file and a model for another kind are dropped
// in turn: each is rejected with a "model rejected" agent event through
// Fluentd, and web@loop-2 keeps scoring.
func TestFleetLoop(t *testing.T) {
	r := newRig(t, 6, 100*time.Millisecond, nil)
	dir := r.cfg.Dir
	sh := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(bins.sharkfin, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("sharkfin %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	sh("model", "keygen", "--out", filepath.Join(dir, "ops"))
	sh("model", "keygen", "--out", filepath.Join(dir, "intruder"))
	orig, err := os.ReadFile(modelPath)
	if err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(dir, "models", "web.json")
	if err := os.MkdirAll(filepath.Dir(model), 0o755); err != nil {
		t.Fatal(err)
	}
	stage := filepath.Join(dir, "stage")
	if err := os.MkdirAll(stage, 0o755); err != nil {
		t.Fatal(err)
	}
	// drop signs data with key (when set; else uses sig as is) and moves
	// the pair into place, the signature first.
	drop := func(data []byte, key string, sig []byte) {
		t.Helper()
		staged := filepath.Join(stage, "web.json")
		if err := os.WriteFile(staged, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if key != "" {
			sh("model", "sign", "--key", filepath.Join(dir, key+".key"), staged)
		} else if err := os.WriteFile(staged+".sig", sig, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{".sig", ""} {
			if err := os.Rename(staged+f, model+f); err != nil {
				t.Fatal(err)
			}
		}
	}
	drop(orig, "ops", nil)
	r.cfg.Model, r.cfg.TrustedKeys, r.cfg.ModelCheck = model, []string{filepath.Join(dir, "ops.pub")}, "200ms"
	r.agent = newAgent(t, r.cfg)
	recv := r.receiver()
	defer recv.stop()
	r.agent.start()

	entries := func() []entry { return r.entries.poll(t) }
	scoredBy := func(id string, from int) int {
		n := 0
		for _, e := range entries()[from:] {
			if e.Record["type"] == "ip_score" && e.Record["model"] == id {
				n++
			}
		}
		return n
	}
	rejections := func() int {
		n := 0
		for _, e := range entries() {
			if e.Record["type"] == "agent" && e.Record["message"] == "model rejected" {
				n++
			}
		}
		return n
	}
	// writeUntil writes a window of lines at a time until cond holds.
	writeUntil := func(limit time.Duration, cond func() bool) bool {
		deadline := time.Now().Add(limit)
		for time.Now().Before(deadline) {
			r.agent.requireAlive()
			if cond() {
				return true
			}
			if err := r.log.write(r.log.linesPerWindow()); err != nil {
				t.Fatal(err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		return cond()
	}

	// 1. Collect: twenty windows' events through Fluentd.
	if !writeUntil(60*time.Second, func() bool { return scoredBy("web@example-1", 0) >= 20*6 }) {
		t.Fatalf("only %d events scored by the bundled model arrived", scoredBy("web@example-1", 0))
	}
	// 2. As Fluentd's out_file writes them (format json, tag and time injected).
	fleet := filepath.Join(dir, "fluentd-out.log")
	f, err := os.Create(fleet)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	rows := 0
	for _, e := range entries() {
		if e.Record["type"] != "ip_score" {
			continue
		}
		rec := map[string]any{"tag": e.Tag, "time": time.Unix(0, e.TimeNs).UTC().Format(time.RFC3339Nano)}
		for k, v := range e.Record {
			rec[k] = v
		}
		b, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(append(b, '\n'))
		rows++
	}
	w.Flush()
	f.Close()
	// 3. Train, sign, drop in.
	trained := filepath.Join(dir, "trained.json")
	sh("train", "--k", "2", "--seed", "1", "--name", "web", "--version", "loop-2", "-o", trained, fleet)
	v2, err := os.ReadFile(trained)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Training struct{ Rows int } `json:"training"`
	}
	if err := json.Unmarshal(v2, &m); err != nil || m.Training.Rows != rows {
		t.Fatalf("trained on %d rows, %d collected (%v)", m.Training.Rows, rows, err)
	}
	drop(v2, "ops", nil)
	mark := len(entries())
	if !writeUntil(30*time.Second, func() bool { return scoredBy("web@loop-2", mark) >= 2*6 }) {
		t.Fatalf("no windows scored by web@loop-2 within 30s; %d rejections", rejections())
	}

	// 4. Bad models, each rejected with an agent event; loop-2 stays.
	v3 := []byte(strings.Replace(string(v2), `"loop-2"`, `"loop-3"`, 1))
	if string(v3) == string(v2) {
		t.Fatal("could not make a third version")
	}
	staged3 := filepath.Join(stage, "v3.json")
	os.WriteFile(staged3, v3, 0o644)
	sh("model", "sign", "--key", filepath.Join(dir, "ops.key"), staged3)
	sig3, _ := os.ReadFile(staged3 + ".sig")
	dnsModel, err := os.ReadFile(filepath.Join(filepath.Dir(modelPath), "dns.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct {
		name string
		data []byte
		key  string
		sig  []byte
	}{
		{"tampered", []byte(strings.Replace(string(v3), `"loop-3"`, `"loop-4"`, 1)), "", sig3},
		{"signed by another key", v3, "intruder", nil},
		{"truncated in transfer", v3[:len(v3)/2], "", sig3},
		{"a dns model", dnsModel, "ops", nil},
	} {
		before := rejections()
		drop(bad.data, bad.key, bad.sig)
		if !writeUntil(30*time.Second, func() bool { return rejections() > before }) {
			t.Fatalf("%s: no \"model rejected\" event within 30s", bad.name)
		}
		mark := len(entries())
		if !writeUntil(30*time.Second, func() bool { return scoredBy("web@loop-2", mark) >= 6 }) {
			t.Fatalf("%s: web@loop-2 stopped scoring", bad.name)
		}
	}
	for _, e := range entries() {
		if id, _ := e.Record["model"].(string); e.Record["type"] == "ip_score" && id != "web@example-1" && id != "web@loop-2" {
			t.Fatalf("an event scored by %s", id)
		}
	}
	t.Logf("trained on %d collected windows; %d entries received, %d rejections", rows, len(entries()), rejections())
}
