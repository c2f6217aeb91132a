package agent

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/socx/sharkfin/agent/config"
	"github.com/socx/sharkfin/detect"
)

// modelSet is the models in use, one per kind, and where they came from.
type modelSet struct {
	cfg    *config.Config
	log    *slog.Logger
	byKind map[string]*detect.Model
	stamp  map[string]pairStamp // kind -> model and signature stamps when last tried
	// waiting holds, per kind, until when a new model whose signature
	// does not match (yet) waits for its other half before it is
	// rejected.
	waiting map[string]time.Time
	next    time.Time // next time to look for changed files
	// staleSaid holds, per kind, when the model in use was last said to
	// be stale (detect.max_model_age); a new model starts afresh.
	staleSaid map[string]time.Time
}

// staleRepeat is how often a model that stays stale is said to be again.
const staleRepeat = 24 * time.Hour

// checkAge reports each model's age (sharkfin_model_age_seconds) and, when
// detect.max_model_age is set, whether it is stale: sharkfin_model_stale
// and a "model stale" agent event, once and then daily while it stays so.
// A model without a training time (written by hand) has no age.
func (a *Agent) checkAge(now time.Time) {
	ms := a.models
	maxAge := a.cfg.Detect.MaxModelAge.Std()
	for kind, m := range ms.byKind {
		created := m.Training.Created
		if created.IsZero() {
			a.metrics.modelAge.DeleteLabelValues(kind)
			a.metrics.modelStale.DeleteLabelValues(kind)
			continue
		}
		age := now.Sub(created)
		a.metrics.modelAge.WithLabelValues(kind).Set(age.Seconds())
		stale := maxAge > 0 && age > maxAge
		a.metrics.modelStale.WithLabelValues(kind).Set(map[bool]float64{false: 0, true: 1}[stale])
		if !stale {
			delete(ms.staleSaid, kind)
			continue
		}
		if said, ok := ms.staleSaid[kind]; ok && now.Sub(said) < staleRepeat {
			continue
		}
		ms.staleSaid[kind] = now
		a.log.Warn("model stale: retrain it", "kind", kind, "model", m.ID(), "trained", created.UTC().Format(time.RFC3339),
			"age", age.Round(time.Hour).String(), "max_model_age", maxAge.String())
		a.notice("warn", "model stale", map[string]string{"kind": kind, "model": m.ID(),
			"trained": created.UTC().Format(time.RFC3339), "age_hours": fmt.Sprintf("%.0f", age.Hours()), "max_model_age": maxAge.String()})
	}
}

// signatureChecks is for how many model checks (detect.model_check, 30s
// at the default) a model and its signature may disagree after either
// changed before the model is rejected: ops push the two files one after
// the other (scp web.json web.json.sig), in either order.
const signatureChecks = 6

// signatureGrace is the time signatureChecks take.
func (s *modelSet) signatureGrace() time.Duration {
	return signatureChecks * s.cfg.Detect.ModelCheck.Std()
}

type fileStamp struct {
	mod  time.Time
	size int64
}

func stampOf(path string) fileStamp {
	st, err := os.Stat(path)
	if err != nil {
		return fileStamp{}
	}
	return fileStamp{st.ModTime(), st.Size()}
}

// pairStamp is the stamps of a model file and of its signature (the zero
// stamp when signatures are not required).
type pairStamp struct{ model, sig fileStamp }

func (s *modelSet) stampPair(path string) pairStamp {
	p := pairStamp{model: stampOf(path)}
	if len(s.cfg.Detect.TrustedKeys) > 0 {
		p.sig = stampOf(path + ".sig")
	}
	return p
}

func newModelSet(cfg *config.Config, log *slog.Logger) *modelSet {
	return &modelSet{cfg: cfg, log: log, byKind: map[string]*detect.Model{}, stamp: map[string]pairStamp{}, waiting: map[string]time.Time{},
		staleSaid: map[string]time.Time{}}
}

// LoadModel reads a model file once, verifies those bytes against its
// signature when keys are given, and decodes and validates the same bytes.
func LoadModel(path string, trusted []string) (*detect.Model, error) {
	data, err := detect.ReadModelFile(path)
	if err != nil {
		return nil, err
	}
	if len(trusted) > 0 {
		keys := make([]ed25519.PublicKey, 0, len(trusted))
		for _, k := range trusted {
			pub, err := detect.LoadPublicKey(k)
			if err != nil {
				return nil, fmt.Errorf("detect.trusted_keys: %w", err)
			}
			keys = append(keys, pub)
		}
		if err := detect.VerifyModel(data, path, keys); err != nil {
			return nil, err
		}
	}
	m, err := detect.DecodeModel(data)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", path, err)
	}
	return m, nil
}

// loadAll loads the model of every kind an input needs.
func (s *modelSet) loadAll() error {
	for _, in := range s.cfg.Inputs {
		kind := in.Kind().String()
		if _, ok := s.byKind[kind]; ok {
			continue
		}
		path := s.cfg.Detect.Models[kind]
		m, err := LoadModel(path, s.cfg.Detect.TrustedKeys)
		if err != nil {
			return fmt.Errorf("detect.models.%s: %w", kind, err)
		}
		if m.Kind != kind {
			return fmt.Errorf("detect.models.%s: model %s is for %s logs; point %s at a %s model", kind, path, m.Kind, kind, kind)
		}
		if m.WindowDuration() != s.cfg.Detect.Window.Std() {
			return fmt.Errorf("detect.models.%s: model %s has window %s but detect.window is %s; set detect.window: %s or train for %s",
				kind, path, m.Window, s.cfg.Detect.Window.Std(), m.Window, s.cfg.Detect.Window.Std())
		}
		s.byKind[kind] = m
		s.stamp[kind] = s.stampPair(path)
	}
	return nil
}

// maybeReload looks every few seconds for model files that changed on
// disk (ops push new ones) and swaps them in; a bad new model is rejected
// and the last good one keeps running.
//
// The model file and its signature are watched as a pair: a model pushed
// before its signature (or the other way round) waits for the other file
// for up to signatureChecks checks, and is tried again as soon as either
// changes.
func (s *modelSet) maybeReload(a *Agent) {
	now := time.Now()
	if now.Before(s.next) {
		return
	}
	s.next = now.Add(s.cfg.Detect.ModelCheck.Std())
	for kind := range s.byKind {
		path := s.cfg.Detect.Models[kind]
		st := s.stampPair(path)
		if st.model == (fileStamp{}) {
			// Gone: keep the model in use, and stop waiting for the
			// other half of the pushed one. Put back, it is loaded anew.
			s.stamp[kind] = st
			if _, waiting := s.waiting[kind]; waiting {
				delete(s.waiting, kind)
				a.metrics.modelWaiting.WithLabelValues(kind).Set(0)
				a.log.Warn("model file removed while waiting for its signature; keeping the model in use", "kind", kind, "path", path, "model", s.byKind[kind].ID())
			}
			continue
		}
		until, waiting := s.waiting[kind]
		switch {
		case st != s.stamp[kind]:
			s.stamp[kind] = st
			a.swapModel(kind, path, now.Add(s.signatureGrace()))
		case waiting && !now.Before(until):
			a.swapModel(kind, path, time.Time{}) // the grace is over
		}
	}
}

// swapModel loads path as the model of kind and gives it to every input of
// that kind, or keeps the old one and says why. A model whose signature
// does not match waits until grace (zero: no grace) for its other half
// instead of being rejected.
func (a *Agent) swapModel(kind, path string, grace time.Time) {
	m, err := LoadModel(path, a.cfg.Detect.TrustedKeys)
	if err == nil && m.Kind != kind {
		err = fmt.Errorf("model %s is for %s logs, not %s", path, m.Kind, kind)
	}
	if (errors.Is(err, detect.ErrBadSignature) || errors.Is(err, detect.ErrUnsigned)) && time.Now().Before(grace) {
		if _, already := a.models.waiting[kind]; !already {
			a.log.Info("new model and its signature disagree; waiting for the other file", "kind", kind, "path", path,
				"err", err, "until", grace.Format(time.RFC3339), "model", a.models.byKind[kind].ID())
		}
		a.models.waiting[kind] = grace
		a.metrics.modelWaiting.WithLabelValues(kind).Set(1)
		return
	}
	delete(a.models.waiting, kind)
	a.metrics.modelWaiting.WithLabelValues(kind).Set(0)
	if err == nil {
		for _, in := range a.inputs {
			if in.cfg.Kind().String() == kind {
				if err = in.pipe.SetModel(m); err != nil {
					break
				}
			}
		}
	}
	old := a.models.byKind[kind]
	if err != nil {
		a.log.Error("new model rejected; keeping the last good one", "kind", kind, "path", path, "err", err, "model", old.ID())
		a.notice("error", "model rejected", map[string]string{"kind": kind, "path": path, "error": err.Error(), "kept": old.ID()})
		a.metrics.modelRejects.Inc()
		// Inputs already switched go back to the old model.
		for _, in := range a.inputs {
			if in.cfg.Kind().String() == kind {
				_ = in.pipe.SetModel(old)
			}
		}
		return
	}
	a.models.byKind[kind] = m
	delete(a.models.staleSaid, kind)
	a.log.Info("model loaded", "kind", kind, "model", m.ID(), "previous", old.ID())
	a.notice("info", "model loaded", map[string]string{"kind": kind, "model": m.ID(), "previous": old.ID()})
	a.metrics.setModel(kind, m.ID())
	a.checkFeatures(kind, m)
}

// checkFeatures says when a model scores with other features than
// detect.features lists for its kind: the model's win (it was trained on
// them), but the operator asked for others.
func (a *Agent) checkFeatures(kind string, m *detect.Model) {
	want, ok := a.cfg.Detect.Features[kind]
	if !ok || slices.Equal(want, m.Features) {
		return
	}
	a.log.Warn("the model scores with other features than detect.features lists; the model's are used",
		"kind", kind, "model", m.ID(), "model_features", strings.Join(m.Features, ","), "configured", strings.Join(want, ","),
		"fix", "train a model with --features "+strings.Join(want, ",")+", or change detect.features."+kind)
	a.notice("warn", "model features differ from detect.features", map[string]string{"kind": kind, "model": m.ID(),
		"model_features": strings.Join(m.Features, ","), "configured": strings.Join(want, ","), "used": "model"})
}

// reload re-reads the configuration file (SIGHUP). A bad file is rejected
// and the running configuration stays. Models and detect.emit take effect
// at once; changes to inputs, state, output and metrics need a restart and
// are logged as such.
func (a *Agent) reload() {
	a.notify(reloadingState())
	defer a.notify("READY=1")
	cfg, err := config.Load(a.cfgPath)
	if err != nil {
		a.log.Error("configuration rejected; keeping the running one", "path", a.cfgPath, "err", err)
		a.notice("error", "configuration rejected", map[string]string{"path": a.cfgPath, "error": err.Error()})
		return
	}
	if changed := restartOnly(a.cfg, cfg); len(changed) > 0 {
		a.log.Warn("configuration changes that take effect at the next restart", "changed", strings.Join(changed, ", "))
	}
	if err := setKeys(a.pullers, cfg.Detect.TrustedKeys); err != nil {
		a.log.Error("configuration rejected; keeping the running one", "path", a.cfgPath, "err", err)
		a.notice("error", "configuration rejected", map[string]string{"path": a.cfgPath, "error": err.Error()})
		return
	}
	// Allowlists apply from the next commit on (inputs are matched by
	// name; other input changes wait for a restart).
	for _, ic := range cfg.Inputs {
		if in := a.byName[ic.Name]; in != nil {
			in.setAllow(ic.Allow)
		}
	}
	a.cfg.Detect.Emit = cfg.Detect.Emit
	a.cfg.Detect.Domains.Emit = cfg.Detect.Domains.Emit
	if !reflect.DeepEqual(a.cfg.Detect.Features, cfg.Detect.Features) {
		a.cfg.Detect.Features = cfg.Detect.Features
		for kind, m := range a.models.byKind {
			a.checkFeatures(kind, m)
		}
	}
	a.cfg.Detect.TrustedKeys = cfg.Detect.TrustedKeys
	a.cfg.Detect.ModelCheck = cfg.Detect.ModelCheck
	a.cfg.Detect.MaxModelAge = cfg.Detect.MaxModelAge
	for kind := range a.models.byKind {
		path := cfg.Detect.Models[kind]
		_, wasPulled := a.cfg.Detect.ModelURLs[kind]
		_, isPulled := cfg.Detect.ModelURLs[kind]
		if wasPulled || isPulled {
			// Pulled models stay where their puller writes them; a change
			// of URL (or between a file and a URL) waits for a restart.
			path = a.cfg.Detect.Models[kind]
		}
		a.cfg.Detect.Models[kind] = path
		a.models.stamp[kind] = a.models.stampPair(path)
		a.swapModel(kind, path, time.Now().Add(a.models.signatureGrace()))
	}
	a.log.Info("configuration reloaded", "path", a.cfgPath)
}

// restartOnly lists the sections of the configuration that differ between
// old and new and that only a restart applies (compared by value: the
// sections hold pointers).
func restartOnly(old, new *config.Config) []string {
	var changed []string
	for _, c := range []struct {
		name     string
		old, new any
	}{
		{"inputs", withoutAllow(old.Inputs), withoutAllow(new.Inputs)},
		{"state", old.State, new.State},
		{"output", old.Output, new.Output},
		{"metrics", old.Metrics, new.Metrics},
		{"detect.window", old.Detect.Window, new.Detect.Window},
		{"detect.lateness", old.Detect.Lateness, new.Detect.Lateness},
		{"detect.max_keys", old.Detect.MaxKeys, new.Detect.MaxKeys},
		{"detect.close_batch", old.Detect.CloseBatch, new.Detect.CloseBatch},
		{"detect.models (URLs)", old.Detect.ModelURLs, new.Detect.ModelURLs},
		{"detect.model_pull", old.Detect.ModelPull, new.Detect.ModelPull},
		{"detect.domains.categories", old.Detect.Domains.Categories, new.Detect.Domains.Categories},
		{"detect.domains.seen_retention", old.Detect.Domains.SeenRetention, new.Detect.Domains.SeenRetention},
		{"detect.domains.max_seen", old.Detect.Domains.MaxSeen, new.Detect.Domains.MaxSeen},
		{"detect.domains.enrich", old.Detect.Domains.Enrich, new.Detect.Domains.Enrich},
		{"host", old.Host, new.Host},
		{"log", old.Log, new.Log},
	} {
		if !reflect.DeepEqual(c.old, c.new) {
			changed = append(changed, c.name)
		}
	}
	return changed
}

// withoutAllow is inputs without their allowlists, which a reload applies
// (restartOnly compares the rest).
func withoutAllow(inputs []config.Input) []config.Input {
	out := slices.Clone(inputs)
	for i := range out {
		out[i].Allow = config.Allow{UserAgents: out[i].Allow.UserAgents} // the parser reads user agents only with some
	}
	return out
}
