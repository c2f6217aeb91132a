package agent_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAgent_SignedModelPushedInEitherOrder pushes new signed models to a
// running agent that trusts one key, the way ops do: the model, then its
// signature; the signature first; each with an atomic mv, or written in
// place. Whatever the order, the agent waits for the other half and loads
// the new model without rejecting it; a model whose signature never comes
// is rejected once the grace is over, and the last good model stays.
func TestAgent_SignedModelPushedInEitherOrder(t *testing.T) {
	dir := t.TempDir()
	run := func(args ...string) { t.Helper(); sharkfin(t, args...) }
	run("model", "keygen", "--out", filepath.Join(dir, "ops"))
	key, pub := filepath.Join(dir, "ops.key"), filepath.Join(dir, "ops.pub")
	orig := exampleModelBytes(t)
	// Versions of the bundled model: other bytes, other model ID.
	version := func(v string) []byte {
		return []byte(strings.Replace(string(orig), `"version": "example-1"`, `"version": "`+v+`"`, 1))
	}
	if !strings.Contains(string(orig), `"version": "example-1"`) {
		t.Fatal("the bundled model's version is not example-1")
	}
	// signed writes model data and its signature into a staging
	// directory, to be moved into place.
	stage := filepath.Join(dir, "stage")
	if err := os.Mkdir(stage, 0o755); err != nil {
		t.Fatal(err)
	}
	signed := func(v string) (model, sig string) {
		t.Helper()
		model = filepath.Join(stage, "model.json")
		if err := os.WriteFile(model, version(v), 0o644); err != nil {
			t.Fatal(err)
		}
		run("model", "sign", "--key", key, model)
		return model, model + ".sig"
	}
	modelPath := filepath.Join(dir, "model.json")
	m, s := signed("e2e-1")
	for _, mv := range [][2]string{{m, modelPath}, {s, modelPath + ".sig"}} {
		if err := os.Rename(mv[0], mv[1]); err != nil {
			t.Fatal(err)
		}
	}

	logPath := filepath.Join(dir, "access.log")
	h := newAgent(t, dir, e2eConfig{Inputs: []e2eInput{{Name: "web", Path: logPath}}, Model: modelPath,
		TrustedKeys: []string{pub}, ModelCheck: "500ms"}) // a signature waits 6 checks: 3 s, ample for the test to act under load
	events := newEventLog(h)
	h.startReady()

	metric := h.sample
	waitMetric := func(what string, cond func() bool) {
		t.Helper()
		if !waitFor(20*time.Second, func() bool { h.requireAlive(); return cond() }) {
			t.Fatalf("waited 20s for %s", what)
		}
	}
	inUse := func(v string) bool { return metric("sharkfin_model_info", `model="web@`+v+`"`) == 1 }
	waiting := func() bool { return metric("sharkfin_model_waiting", `kind="web"`) == 1 }
	waitMetric("model e2e-1 in use", func() bool { return inUse("e2e-1") })

	moveIn := func(from, to string) {
		t.Helper()
		if err := os.Rename(from, to); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name string
		push func(v string)
	}{
		{"model then signature, each moved", func(v string) {
			m, s := signed(v)
			moveIn(m, modelPath)
			waitMetric("the agent to wait for the signature", waiting)
			moveIn(s, modelPath+".sig")
		}},
		{"signature then model, each moved", func(v string) {
			m, s := signed(v)
			moveIn(s, modelPath+".sig")
			waitMetric("the agent to wait for the model", waiting)
			moveIn(m, modelPath)
		}},
		{"model then signature, written in place (scp)", func(v string) {
			m, s := signed(v)
			for _, f := range [][2]string{{m, modelPath}, {s, modelPath + ".sig"}} {
				data, err := os.ReadFile(f[0])
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(f[1], data, 0o644); err != nil {
					t.Fatal(err)
				}
				if f[1] == modelPath {
					waitMetric("the agent to wait for the signature", waiting)
				}
			}
		}},
	}
	for i, tc := range cases {
		v := "e2e-" + string(rune('2'+i))
		tc.push(v)
		waitMetric(tc.name+": model "+v+" in use", func() bool { return inUse(v) })
		if waiting() {
			t.Errorf("%s: still waiting once the model is in use", tc.name)
		}
	}
	if n := metric("sharkfin_model_rejections_total"); n != 0 {
		t.Errorf("%v models rejected while pushed in order", n)
	}

	// A model whose signature never comes: rejected after six checks, the
	// last good one kept.
	stale := version("e2e-unsigned")
	if err := os.WriteFile(modelPath, stale, 0o644); err != nil {
		t.Fatal(err)
	}
	waitMetric("the rejection of the unsigned model", func() bool { return metric("sharkfin_model_rejections_total") == 1 })
	if !inUse("e2e-4") || waiting() {
		t.Errorf("after the rejection: e2e-4 in use %v, waiting %v", inUse("e2e-4"), waiting())
	}

	// A model removed while it waits for its signature: the wait ends,
	// the model in use stays, nothing more is rejected.
	if err := os.WriteFile(modelPath, version("e2e-removed"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitMetric("the agent to wait for the signature", waiting)
	if err := os.Remove(modelPath); err != nil {
		t.Fatal(err)
	}
	waitMetric("the wait to end with the model removed", func() bool { return !waiting() })
	if !inUse("e2e-4") || metric("sharkfin_model_rejections_total") != 1 {
		t.Errorf("after the removal: e2e-4 in use %v, rejections %v", inUse("e2e-4"), metric("sharkfin_model_rejections_total"))
	}
	h.stop(5 * time.Second)
	events.refresh()
	rej := events.agentEvents("model rejected")
	if len(rej) != 1 || rej[0].ev.Detail["kept"] != "web@e2e-4" || !strings.Contains(rej[0].ev.Detail["error"], "signature") {
		t.Errorf("model rejected events: %d, first %+v", len(rej), rej)
	}
	var loaded []string
	for _, p := range events.agentEvents("model loaded") {
		loaded = append(loaded, p.ev.Detail["model"])
	}
	if want := "web@e2e-1 web@e2e-2 web@e2e-3 web@e2e-4"; strings.Join(loaded, " ") != want {
		t.Errorf("model loaded events %v, want %s", loaded, want)
	}
}
