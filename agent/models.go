package agent

import (
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/socx/sharkfin/agent/config"
	"github.com/socx/sharkfin/detect"
)

// modelSet is the models in use, one per kind, and where they came from.
type modelSet struct {
	cfg    *config.Config
	log    *slog.Logger
	byKind map[string]*detect.Model
	stamp  map[string]fileStamp // kind -> model file stamp when loaded
	next   time.Time            // next time to look for changed files
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

func newModelSet(cfg *config.Config, log *slog.Logger) *modelSet {
	return &modelSet{cfg: cfg, log: log, byKind: map[string]*detect.Model{}, stamp: map[string]fileStamp{}}
}

// LoadModel reads, validates and (when keys are given) verifies a model.
func LoadModel(path string, trusted []string) (*detect.Model, error) {
	m, err := detect.LoadModel(path)
	if err != nil {
		return nil, err
	}
	if len(trusted) == 0 {
		return m, nil
	}
	keys := make([]ed25519.PublicKey, 0, len(trusted))
	for _, k := range trusted {
		pub, err := detect.LoadPublicKey(k)
		if err != nil {
			return nil, fmt.Errorf("detect.trusted_keys: %w", err)
		}
		keys = append(keys, pub)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", path, err)
	}
	if err := detect.VerifyModel(data, path, keys); err != nil {
		return nil, err
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
		s.stamp[kind] = stampOf(path)
	}
	return nil
}

// maybeReload looks every few seconds for model files that changed on
// disk (ops push new ones) and swaps them in; a bad new model is rejected
// and the last good one keeps running.
func (s *modelSet) maybeReload(a *Agent) {
	now := time.Now()
	if now.Before(s.next) {
		return
	}
	s.next = now.Add(5 * time.Second)
	for kind := range s.byKind {
		path := s.cfg.Detect.Models[kind]
		if st := stampOf(path); st != s.stamp[kind] && st != (fileStamp{}) {
			s.stamp[kind] = st
			a.swapModel(kind, path)
		}
	}
}

// swapModel loads path as the model of kind and gives it to every input of
// that kind, or keeps the old one and says why.
func (a *Agent) swapModel(kind, path string) {
	m, err := LoadModel(path, a.cfg.Detect.TrustedKeys)
	if err == nil && m.Kind != kind {
		err = fmt.Errorf("model %s is for %s logs, not %s", path, m.Kind, kind)
	}
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
	a.log.Info("model loaded", "kind", kind, "model", m.ID(), "previous", old.ID())
	a.notice("info", "model loaded", map[string]string{"kind": kind, "model": m.ID(), "previous": old.ID()})
	a.metrics.setModel(kind, m.ID())
}

// reload re-reads the configuration file (SIGHUP). A bad file is rejected
// and the running configuration stays. Models and detect.emit take effect
// at once; changes to inputs, state, output and metrics need a restart and
// are logged as such.
func (a *Agent) reload() {
	a.opt.Notify("RELOADING=1")
	defer a.opt.Notify("READY=1")
	cfg, err := config.Load(a.cfgPath)
	if err != nil {
		a.log.Error("configuration rejected; keeping the running one", "path", a.cfgPath, "err", err)
		a.notice("error", "configuration rejected", map[string]string{"path": a.cfgPath, "error": err.Error()})
		return
	}
	if fmt.Sprint(cfg.Inputs, cfg.State, cfg.Output, cfg.Metrics, cfg.Detect.Window, cfg.Detect.Lateness, cfg.Detect.MaxKeys) !=
		fmt.Sprint(a.cfg.Inputs, a.cfg.State, a.cfg.Output, a.cfg.Metrics, a.cfg.Detect.Window, a.cfg.Detect.Lateness, a.cfg.Detect.MaxKeys) {
		a.log.Warn("configuration changes to inputs, state, output, metrics, window, lateness or max_keys take effect at the next restart")
	}
	a.cfg.Detect.Emit = cfg.Detect.Emit
	a.cfg.Detect.TrustedKeys = cfg.Detect.TrustedKeys
	for kind := range a.models.byKind {
		a.cfg.Detect.Models[kind] = cfg.Detect.Models[kind]
		a.models.stamp[kind] = stampOf(cfg.Detect.Models[kind])
		a.swapModel(kind, cfg.Detect.Models[kind])
	}
	a.log.Info("configuration reloaded", "path", a.cfgPath)
}
