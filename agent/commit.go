package agent

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/socx/sharkfin/agent/config"
	"github.com/socx/sharkfin/detect"
	"github.com/socx/sharkfin/event"
	"github.com/socx/sharkfin/pipeline"
	"github.com/socx/sharkfin/state"
)

// commitJob is one consistent cut of the agent's state, taken by the main
// loop and written by the committer goroutine: the checkpoints of every
// input that read lines, the snapshots of their open windows, the events of
// windows closed since the previous cut and the history they add. The
// committer writes cuts in order, each in one bbolt transaction, so after a
// crash the agent resumes exactly from the last written cut: a line is
// either in a stored window or in an outbox event, never both, never
// neither. Encoding the events and writing the transaction overlap with the
// main loop counting the next lines.
type commitJob struct {
	commit   state.Commit // Events and History filled by the committer
	results  []closedKey  // closed key results, their features in vecs
	dests    []closedDest // closed destination windows, their counters in vecs
	destStrs []string     // their names (closedDest.lists)
	vecs     []float64
	// domainEmit is detect.domains.emit when the cut was taken.
	domainEmit config.DomainEmit
	emitAll    bool // detect.emit: all (else anomalies only)
	notices    []*event.Event
	maxKeys    int
	done       chan error // nil, or receives the result
}

// releaseHistory is the size of a commit's history, in updates, from which
// the committer unmaps the state pages it read.
const releaseHistory = 512

// cut takes a commit job from the main loop's state and resets it.
func (a *Agent) cut() *commitJob {
	now := a.opt.Now()
	job := &commitJob{
		commit:     state.Commit{Windows: map[string][]byte{}, Closing: map[string][]byte{}},
		results:    a.results,
		dests:      a.dests,
		destStrs:   a.destStrs,
		domainEmit: a.cfg.Detect.Domains.Emit,
		vecs:       a.vecs,
		emitAll:    a.cfg.Detect.Emit == config.EmitAll,
		notices:    a.notices,
		maxKeys:    a.cfg.Detect.MaxKeys,
	}
	c := &job.commit
	for _, in := range a.inputs {
		if !in.dirty && !in.pipe.Closed() {
			continue
		}
		snap := in.pipe.Aggregator().Snapshot()
		c.Windows[windowKey(in.cfg.Name)] = snap.Main
		for start, keys := range snap.Frozen {
			c.Closing[closingKey(in.cfg.Name, start)] = keys
		}
		for _, start := range snap.Drop {
			c.Closing[closingKey(in.cfg.Name, start)] = nil
		}
		if da := in.pipe.DestAggregator(); da != nil {
			snap := da.Snapshot()
			c.Windows[destWindowKey(in.cfg.Name)] = snap.Main
			for start, keys := range snap.Frozen {
				c.Closing[closingKey(destPrefix+in.cfg.Name, start)] = keys
			}
			for _, start := range snap.Drop {
				c.Closing[closingKey(destPrefix+in.cfg.Name, start)] = nil
			}
		}
		if in.horizon != nil {
			// Changed by the keys closed since the last cut: stored with
			// the snapshot that records them closed.
			if ch := in.horizon.Drain(); len(ch) > 0 {
				if c.Horizons == nil {
					c.Horizons = map[string][]state.HorizonUpdate{}
				}
				us := make([]state.HorizonUpdate, len(ch))
				for i, x := range ch {
					us[i] = state.HorizonUpdate{Key: x.Key, Last: x.Last, Values: x.Values, Recent: x.Recent, Delete: x.Delete}
				}
				c.Horizons[in.cfg.Name] = us
			}
		}
		for _, k := range in.staleClosing {
			c.Closing[k] = nil
		}
		in.staleClosing = nil
		if in.dirty {
			next := make([]state.Checkpoint, 0, len(in.checkpoints))
			keep := map[[2]uint64]bool{}
			for _, ck := range in.checkpoints {
				next = append(next, state.Checkpoint{Path: ck.Path, Dev: ck.ID.Dev, Ino: ck.ID.Ino,
					Fingerprint: ck.ID.Fingerprint, FingerprintLen: ck.ID.FingerprintLen,
					Offset: ck.Offset, Input: in.cfg.Name, Updated: now})
				keep[[2]uint64{ck.ID.Dev, ck.ID.Ino}] = true
			}
			for _, old := range in.persisted {
				if !keep[[2]uint64{old.Dev, old.Ino}] {
					c.DropCheckpoints = append(c.DropCheckpoints, old)
				}
			}
			c.Checkpoints = append(c.Checkpoints, next...)
			in.persisted = next
		}
		in.dirty = false
		in.pipe.ResetClosed()
	}
	// The committer hands back the memory of a written cut's results.
	select {
	case sp := <-a.spare:
		a.results, a.vecs, a.dests, a.destStrs = sp.results, sp.vecs, sp.dests, sp.destStrs
	default:
		// None written back yet (the committer is still on the last cut):
		// room for as many as this cut has, rather than growing by copies
		// through a catch-up's twenty thousand results per cut.
		n := min(len(job.results), maxSpare)
		a.results, a.vecs = make([]closedKey, 0, n), make([]float64, 0, min(len(job.vecs), n*16))
		nd := min(len(job.dests), maxSpare)
		a.dests, a.destStrs = make([]closedDest, 0, nd), make([]string, 0, min(len(job.destStrs), nd*12))
	}
	if a.seen != nil {
		c.Seen = seenUpdates(a.seen.Drain())
		a.metrics.seen.Set(float64(a.seen.Len()))
		a.metrics.seenFull.Set(float64(a.seen.Full()))
	}
	a.notices = nil
	a.closed = 0
	a.dirty = false
	a.lines = 0
	a.lastFlush = now
	return job
}

// commit hands the current cut to the committer, waiting until it has
// written the previous one.
func (a *Agent) commit() error { return a.handCut(true) }

// tryCommit hands the current cut to the committer if it is idle. While it
// still writes the previous cut, counting goes on and the next cut grows:
// at full speed commits batch themselves to the pace of the disk instead of
// stalling the main loop on every fsync.
func (a *Agent) tryCommit() error { return a.handCut(false) }

func (a *Agent) handCut(wait bool) error {
	if !a.dirty || a.midBatch {
		return nil
	}
	if wait {
		select {
		case <-a.commitIdle:
		case err := <-a.commitErr:
			return err
		}
	} else {
		select {
		case <-a.commitIdle:
		default:
			return nil
		}
	}
	a.updateStats()
	a.commitHanded = time.Now() // for the watchdog
	a.commits <- a.cut()        // room: the committer has taken every earlier cut
	return nil
}

// runCommitter writes cuts in order until commits is closed, marking
// itself idle after each; the first failure is reported on commitErr and
// ends it (the main loop then stops: nothing after a failed cut may be
// written, or lines would be lost).
//
// Between cuts it maintains the state (state.Store.Maintain: fold the
// history into its index, retention), one bounded transaction at a time:
// after a cut while the work is due (a backlog of foldBacklog entries, or
// segments past the retention), and when no cut came for a tick. A cut
// handed over meanwhile waits for one step at most.
func (a *Agent) runCommitter(ctx context.Context) {
	tick := time.NewTicker(maintainEvery)
	defer tick.Stop()
	wrote := false
	for {
		select {
		case job, ok := <-a.commits:
			if !ok {
				return
			}
			err := a.write(job)
			if job.done != nil {
				job.done <- err
			}
			if err != nil {
				a.commitErr <- err
				close(a.commitIdle)   // no cut waits for an idle committer again
				for range a.commits { // drain so senders never block
				}
				return
			}
			if a.store.MaintenanceDue(foldBacklog) {
				a.maintain(1)
			}
			wrote = true
			a.commitIdle <- struct{}{}
		case <-tick.C:
			if !wrote {
				a.maintain(maxIdleSteps)
			}
			wrote = false
		}
	}
}

// Maintenance pacing (see runCommitter).
const (
	// foldBacklog is the history entries left unfolded before a cut is
	// followed by a maintenance step: during a catch-up the index lags by
	// about this much (a few MiB of segments) and folds in batches, where
	// one key's windows of many commits are added in one write.
	foldBacklog = 1 << 20
	// maintainEvery is how often an idle committer maintains, and
	// maxIdleSteps how many steps it takes then at most.
	maintainEvery = time.Second
	maxIdleSteps  = 16
)

// maintain runs up to steps maintenance transactions, stopping when there
// is no work left or a cut waits. A failure is logged (once until it
// changes) and counted: the next commit fails too if the file cannot be
// written.
func (a *Agent) maintain(steps int) {
	for range steps {
		if len(a.commits) > 0 {
			return
		}
		w, err := a.store.Maintain()
		if err != nil {
			a.metrics.maintainErrors.Inc()
			if msg := err.Error(); msg != a.maintainErr {
				a.maintainErr = msg
				a.log.Error("state maintenance failed", "err", err)
			}
			return
		}
		a.maintainErr = ""
		if w.Corrupt > 0 {
			a.log.Error("state history segments damaged: what could be read was kept, the rest skipped",
				"segments", w.Corrupt, "fix", "check the disk; the state file is otherwise usable")
		}
		a.metrics.maintained(w)
		a.metrics.stateBacklog(a.store)
		if !w.More {
			return
		}
	}
}

// write builds, encodes and stores the events of a cut and applies it in
// one transaction.
func (a *Agent) write(job *commitJob) error {
	start := time.Now()
	c := &job.commit
	c.Segments = &a.segments
	defer a.recycle(job)
	if err := a.buildEvents(job); err != nil {
		return err
	}
	if sent := a.sent.Load(); sent > a.deleted.Load() {
		c.DeleteThrough = sent // delivered: delete them in this transaction
	}
	if base := a.opt.MemoryLimit; base > 0 {
		debug.SetMemoryLimit(base + 3*a.segments.Bytes() + int64(len(job.results)+len(job.dests))*resultBytes)
		defer debug.SetMemoryLimit(base)
	}
	for _, ev := range job.notices {
		if err := c.Segments.Append(ev.AppendJSON); err != nil {
			return fmt.Errorf("encode event %s: %w", ev.EventID, err)
		}
		a.metrics.events.WithLabelValues(ev.Type).Inc()
	}
	if _, err := a.store.Apply(c); err != nil {
		return fmt.Errorf("commit state: %w", err)
	}
	if c.DeleteThrough > 0 {
		a.markDeleted(c.DeleteThrough)
	}
	// A big commit (a flood's close) reads history pages through the
	// state file's map: give them back too (see state.ReleaseMapped).
	if len(c.History) >= releaseHistory {
		if err := a.store.ReleaseMapped(); err != nil {
			a.log.Warn("cannot release the state file's mapped pages", "err", err)
		}
	}
	a.metrics.commits.Inc()
	a.metrics.commitSeconds.Observe(time.Since(start).Seconds())
	a.metrics.lastCommit.Set(float64(time.Now().UnixNano()) / 1e9)
	a.metrics.stateBacklog(a.store)
	if c.Segments.Len() > 0 {
		a.kickSender()
	}
	select { // let the main loop re-check backpressure
	case a.drained <- struct{}{}:
	default:
	}
	return nil
}

// buildEvents scores the cut's closed key results and fills its events
// (those detect.emit keeps, packed straight into outbox segments, with the
// contexts they refer to) and history. An overflow result adds an agent
// notice (job.notices).
func (a *Agent) buildEvents(job *commitJob) error {
	c := &job.commit
	c.History = a.historyBuf[:0]
	var ev event.Event
	var pk event.Packed
	var packedBy *pipeline.Scoring // the scoring whose context c.Contexts has last
	ipScores := a.metrics.events.WithLabelValues(event.TypeIPScore)
	var anomalies prometheus.Counter
	var anomaliesOf *input
	for i := range job.results {
		k := &job.results[i]
		r := detect.Result{Start: k.start, End: k.end, Key: k.key, Vector: job.vecs[k.off : k.off+k.n : k.off+k.n]}
		sc, scored := k.sc.Score(k.key, r.Vector)
		over := k.key == detect.OverflowKey
		if !over && (k.allowed || k.in.allowlisted(k.key)) {
			sc.Anomalous = false // counted, scored, never flagged
			a.metrics.allowlisted.WithLabelValues(k.in.cfg.Name).Inc()
		}
		k.in.share.add(a.metrics, k.in.cfg.Name, k.start, sc.Anomalous) // the overflow row too, as anomalies counts it
		if !over {
			hits, bytes := k.sc.HitsBytes(r.Vector)
			c.History = append(c.History, state.HistoryUpdate{Kind: state.KindIP, Key: k.key,
				WindowStart: time.Unix(0, k.start).UTC(), Hits: hits, Bytes: bytes, Anomalous: sc.Anomalous})
		}
		if sc.Anomalous {
			if anomaliesOf != k.in {
				anomalies, anomaliesOf = a.metrics.anomalies.WithLabelValues(k.in.cfg.Name), k.in
			}
			anomalies.Inc()
			if sc.By != detect.RuleNone {
				a.metrics.ruleAnomalies.WithLabelValues(k.in.cfg.Name, sc.By.String()).Inc()
			}
		}
		if !job.emitAll && !sc.Anomalous && !over {
			continue // built no event: detect.emit is anomalies
		}
		if over {
			k.sc.Event(&r, sc, scored, &ev)
			job.notices = append(job.notices, a.overflowNotice(&ev, job.maxKeys))
		}
		if k.sc != packedBy {
			id, ctx := k.sc.Context()
			if c.Contexts == nil {
				c.Contexts = map[uint64][]byte{}
			}
			c.Contexts[id], packedBy = ctx, k.sc
		}
		k.sc.Pack(&r, sc, scored, &pk)
		if err := c.Segments.Append(pk.AppendBinary); err != nil {
			return fmt.Errorf("encode event of %s in window %s: %w", k.key, time.Unix(0, k.start).UTC(), err)
		}
		ipScores.Inc()
	}
	return a.buildDomainEvents(job)
}

// resultBytes is about what a closed key result holds until its commit is
// written: the result, its features and its history update.
const resultBytes = 250

// maxSpare is the most results whose memory a written cut hands back for
// the next (a flood's close is in cuts of detect.close_batch keys anyway).
const maxSpare = 1 << 16

// recycle keeps the memory of a written cut for the next: its outbox
// segments (see state.Segments.Reset) and history on the committer, its
// results' slices for the main loop.
func (a *Agent) recycle(job *commitJob) {
	a.segments.Reset()
	if h := job.commit.History; cap(h) <= maxSpare {
		clear(h)
		a.historyBuf = h[:0]
	} else {
		a.historyBuf = nil
	}
	if cap(job.results) > maxSpare || cap(job.dests) > maxSpare {
		return
	}
	clear(job.results) // keys and scorings
	clear(job.dests)   // keys and inputs
	clear(job.destStrs)
	select {
	case a.spare <- spareResults{results: job.results[:0], vecs: job.vecs[:0], dests: job.dests[:0], destStrs: job.destStrs[:0]}:
	default:
	}
}

// spareResults is the memory of a written cut's results, for the next cut.
type spareResults struct {
	results  []closedKey
	vecs     []float64
	dests    []closedDest
	destStrs []string
}

// overflowNotice logs an overflow result (ev) and returns its agent event.
func (a *Agent) overflowNotice(ev *event.Event, maxKeys int) *event.Event {
	n, _ := ev.Features.Get("hits")
	a.log.Warn("more source keys in a window than detect.max_keys; the rest were counted under \"overflow\"",
		"input", ev.Source, "window_start", ev.WindowStart, "overflow_lines", int64(n), "max_keys", maxKeys)
	now := time.Now().UTC()
	nv := &event.Event{Type: event.TypeAgent, Kind: "agent", Host: ev.Host, Source: "agent", WindowStart: ev.WindowStart,
		WindowEnd: ev.WindowEnd, Level: "warn", Message: "window key cap reached; excess sources counted under overflow",
		Detail: map[string]string{"input": ev.Source, "overflow_lines": fmt.Sprint(int64(n)), "max_keys": fmt.Sprint(maxKeys),
			"noticed": now.Format(time.RFC3339)}}
	nv.EventID = event.ID(nv.Host, ev.Source, nv.Type, "overflow", ev.WindowStart)
	return nv
}

// updateStats copies pipeline counters into the metrics.
func (a *Agent) updateStats() {
	for _, in := range a.inputs {
		st := in.pipe.Stats()
		a.metrics.setPipeline(in.cfg.Name, st)
		a.checkBadLines(in, time.Now())
		if st.Future > in.future && time.Since(in.futureWarned) >= time.Minute {
			a.log.Warn("lines dated more than a day past this machine's clock are not counted: they would make every later line late; check the clock of the host that wrote them (or the input's timezone)",
				"input", in.cfg.Name, "lines", st.Future-in.future, "clock", time.Now().UTC().Format(time.RFC3339))
			in.future, in.futureWarned = st.Future, time.Now()
		}
	}
}
