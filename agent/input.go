package agent

import (
	"context"
	"fmt"
	"github.com/socx/sharkfin/record"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/socx/sharkfin/agent/config"
	"github.com/socx/sharkfin/detect"
	"github.com/socx/sharkfin/pipeline"
	"github.com/socx/sharkfin/state"
	"github.com/socx/sharkfin/tailer"
	"github.com/socx/sharkfin/tailer/format"
)

// input is one configured input at run time.
type input struct {
	cfg    config.Input
	parser format.Parser // used by the parse goroutine only
	tailer *tailer.Tailer
	pipe   *pipeline.Pipeline
	// checkpoints is the tailer's latest complete set for this input;
	// persisted holds what the state file has.
	checkpoints []tailer.Checkpoint
	persisted   []state.Checkpoint
	dirty       bool
	lastBatch   time.Time
	// staleClosing lists stored closing-window keys to delete with the
	// next commit (their main snapshot was unreadable).
	staleClosing []string
	// share counts the IP-windows scored per event-time hour (the
	// committer's only).
	share hourShare
	// destNames are the names of the per-destination counters (proxy and
	// DNS inputs).
	destNames []string
	// allow is the input's allowlist (inputs[].allow), swapped whole by a
	// reload on the main loop and read by the committer.
	allow atomic.Pointer[[]netip.Prefix]
	// horizon keeps a web input's client hour and day sums; the main loop
	// drains its changes into each commit (nil for proxy and DNS).
	horizon *detect.Horizon
	// future is the lines from the future counted when last reported, and
	// futureWarned when (updateStats: a warning a minute at most).
	future       int64
	futureWarned time.Time
	// bad notices lines that stop parsing or run too long (main loop).
	bad badLines
}

// allowlisted reports whether the source key is on the input's allowlist.
func (in *input) allowlisted(key string) bool {
	nets := in.allow.Load()
	if nets == nil || len(*nets) == 0 {
		return false
	}
	a, err := netip.ParseAddr(key)
	if err != nil {
		return false // the overflow row, or a key that is no address
	}
	a = a.Unmap()
	for _, p := range *nets {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// setAllow sets the input's allowlist from its configuration: the
// networks (read by the committer) and the lines' matcher (the main
// loop's aggregator; the input's pipeline must exist).
func (in *input) setAllow(c config.Allow) {
	nets := c.Prefixes()
	in.allow.Store(&nets)
	in.pipe.Aggregator().SetAllow(detect.NewAllow(c.Paths, c.UserAgents))
}

// idleAfter is how long an input must deliver nothing before its windows
// close by wall time: lateness, plus, when polling, the time the tailer may
// take to notice new data (a poll, or a rescan for a file created by a
// rotation), so a rotation on NFS does not pass for a quiet site.
func (in *input) idleAfter(lateness time.Duration) time.Duration {
	if in.cfg.Poll {
		return lateness + in.cfg.PollInterval.Std() + in.cfg.RescanInterval.Std()
	}
	return lateness
}

// windowKey is the state key of an input's aggregator snapshot.
func windowKey(name string) string { return "input/" + name }

// destWindowKey is the state key of an input's per-destination aggregator
// snapshot; the keys of its closing windows are stored under
// closingKey(destPrefix+name, start) (input names have no ':').
func destWindowKey(name string) string { return "domains/" + name }

const destPrefix = "domains:"

// closingKey is the state key of the keys of one of an input's closing
// windows (detect.Snapshot.Frozen), by window start.
func closingKey(name string, start int64) string {
	return name + "/" + strconv.FormatInt(start, 10)
}

// closingWindows picks an input's closing windows' keys out of the stored
// ones (state.Store.Closing).
func closingWindows(name string, stored map[string][]byte) map[int64][]byte {
	prefix := name + "/"
	out := map[int64][]byte{}
	for k, v := range stored {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		if start, err := strconv.ParseInt(rest, 10, 64); err == nil {
			out[start] = v
		}
	}
	return out
}

// open opens the state, loads models and builds inputs and the sink.
func (a *Agent) open(ctx context.Context) error {
	a.metrics = newMetrics()
	// The inputs are set below and never change after: the scrape
	// goroutine reads them.
	a.metrics.reg.MustRegister(newTailerCollector(func() []*input { return a.inputs }))
	st, err := state.Open(state.Options{
		Path:      a.cfg.State.Path,
		Timeout:   a.cfg.State.LockTimeout.Std(),
		Retention: a.cfg.State.Retention.Std(),
		// The destinations remembered in the file are kept as long as in
		// memory (detect.Seen): a shorter retention here made them new
		// again at the next restart.
		SeenRetention: a.cfg.Detect.Domains.SeenRetention.Std(),
		Logger:        a.opt.Logger,
	})
	if err != nil {
		return err
	}
	a.store = st
	a.metrics.reg.MustRegister(newStateCollector(func() *state.Store { return st }))
	if moved := st.Recovered(); moved != "" {
		a.notice("error", "state file was unreadable; moved aside and started fresh", map[string]string{"moved_to": moved})
	}
	fail := func(err error) error {
		st.Close()
		return err
	}
	if a.pullers, err = newPullers(a.cfg, a.log, a.metrics); err != nil {
		return fail(err)
	}
	for _, p := range a.pullers {
		if err := p.ensure(ctx); err != nil {
			return fail(err)
		}
	}
	a.models = newModelSet(a.cfg, a.log)
	if err := a.models.loadAll(); err != nil {
		return fail(err)
	}
	for kind, m := range a.models.byKind {
		a.notice("info", "model loaded", map[string]string{"kind": kind, "model": m.ID()})
		a.metrics.setModel(kind, m.ID())
		a.checkFeatures(kind, m)
	}
	if err := a.loadSeen(st); err != nil {
		return fail(err)
	}
	if err := a.openDomains(st); err != nil {
		return fail(err)
	}
	cks, damaged, err := st.Checkpoints()
	if err != nil {
		return fail(err)
	}
	for _, d := range damaged {
		a.log.Error("a damaged checkpoint in the state file was skipped and removed: its file is read as a new one, by the input's start_at (beginning: its lines counted again; end: those since the last commit missed)",
			"err", d, "fix", "check the disk; the state file is otherwise usable")
	}
	if len(damaged) > 0 {
		if _, err := st.DropDamagedCheckpoints(); err != nil {
			return fail(err)
		}
	}
	windows, err := st.Windows()
	if err != nil {
		return fail(fmt.Errorf("read windows: %w", err))
	}
	closingStored, err := st.Closing()
	if err != nil {
		return fail(fmt.Errorf("read closing windows: %w", err))
	}
	a.batches = make(chan *tailer.Batch, len(a.cfg.Inputs))
	names := make([]string, 0, len(a.cfg.Inputs)) // web inputs keep their clients' sums
	for _, ic := range a.cfg.Inputs {
		if ic.Kind() == record.KindWeb {
			names = append(names, ic.Name)
		}
	}
	if err := st.KeepHorizons(names); err != nil {
		return fail(err)
	}
	for _, ic := range a.cfg.Inputs {
		in := &input{cfg: ic, parser: ic.Parser(), lastBatch: a.opt.Now(), destNames: detect.DestFeatureNames(ic.Kind())}
		m := a.models.byKind[ic.Kind().String()]
		if ic.Kind() == record.KindWeb {
			if in.horizon, err = a.loadHorizon(st, ic.Name); err != nil {
				return fail(err)
			}
		}
		pipe, err := pipeline.New(pipeline.Config{
			Host: a.cfg.Host, Source: ic.Name, Parser: ic.Parser(), Model: m, Seen: a.seen, DestKey: a.destKey,
			Horizon: in.horizon,
			Window: detect.WindowConfig{
				Window: a.cfg.Detect.Window.Std(), Lateness: a.cfg.Detect.Lateness.Std(), MaxKeys: a.cfg.Detect.MaxKeys,
				CloseBatch: a.cfg.Detect.CloseBatch,
			},
		}, nil)
		if err != nil {
			return fail(err)
		}
		pipe.Defer(a.deferFor(in))
		pipe.DeferDest(a.deferDest(in))
		in.pipe = pipe
		in.setAllow(ic.Allow)
		if snap, ok := windows[windowKey(ic.Name)]; ok {
			closing := closingWindows(ic.Name, closingStored)
			if len(closing) > 0 {
				a.log.Info("resuming windows part way through closing", "input", ic.Name, "windows", len(closing))
			}
			if err := pipe.Aggregator().Restore(snap, closing); err != nil {
				// Counting restarts for the open windows only; say so loudly.
				a.log.Error("open windows in the state file are unreadable; their counts restart", "input", ic.Name, "err", err)
				a.notice("error", "open-window counts unreadable; restarted", map[string]string{"input": ic.Name})
				for start := range closing {
					in.staleClosing = append(in.staleClosing, closingKey(ic.Name, start))
				}
			}
		}
		if da := pipe.DestAggregator(); da != nil {
			if snap, ok := windows[destWindowKey(ic.Name)]; ok {
				closing := closingWindows(destPrefix+ic.Name, closingStored)
				if err := da.Restore(snap, closing); err != nil {
					a.log.Error("open per-domain windows in the state file are unreadable; their counts restart", "input", ic.Name, "err", err)
					a.notice("error", "open per-domain window counts unreadable; restarted", map[string]string{"input": ic.Name})
					for start := range closing {
						in.staleClosing = append(in.staleClosing, closingKey(destPrefix+ic.Name, start))
					}
				}
			}
		}
		var resume []tailer.Checkpoint
		for _, c := range cks {
			if c.Input == ic.Name {
				in.persisted = append(in.persisted, c)
				resume = append(resume, tailer.Checkpoint{Path: c.Path, Offset: c.Offset,
					ID: tailer.FileID{Dev: c.Dev, Ino: c.Ino, Fingerprint: c.Fingerprint, FingerprintLen: c.FingerprintLen}})
			}
		}
		t, err := tailer.New(ic.Tailer(), resume, a.opt.Logger)
		if err != nil {
			return fail(err)
		}
		in.tailer = t
		a.inputs = append(a.inputs, in)
		a.byName[ic.Name] = in
	}
	sink, err := a.newSink()
	if err != nil {
		return fail(err)
	}
	a.sink = sink
	if _, size, err := st.OutboxStats(); err == nil {
		a.metrics.outboxBytes.Set(float64(size))
	}
	a.lastFlush = a.opt.Now()
	return nil
}

// loadHorizon returns a web input's client sums as the state has them.
func (a *Agent) loadHorizon(st *state.Store, input string) (*detect.Horizon, error) {
	h := detect.NewHorizon(a.cfg.Detect.HorizonClients, a.destKey, true)
	damaged, err := st.Horizons(input, func(u *state.HorizonUpdate) {
		h.Load(u.Key, u.Last, detect.HorizonValues(u.Values), detect.RecentPaths(u.Recent))
	})
	if err != nil {
		return nil, err
	}
	h.Trim()
	if damaged > 0 {
		a.log.Warn("skipped damaged client horizon entries in the state file; those clients' hour and day sums restart", "input", input, "entries", damaged)
	}
	return h, nil
}
