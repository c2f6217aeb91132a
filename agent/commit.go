package agent

import (
	"fmt"
	"time"

	"github.com/socx/sharkfin/detect"
	"github.com/socx/sharkfin/event"
	"github.com/socx/sharkfin/state"
)

// commit persists, in one transaction: the checkpoints of every input that
// read lines, the snapshots of their open windows, the events of windows
// closed since the last commit and the history those windows add. After a
// crash the agent resumes exactly from the last commit: a line is either
// in a stored window or in an outbox event, never both, never neither.
func (a *Agent) commit() error {
	if !a.dirty {
		return nil
	}
	start := time.Now()
	c := &state.Commit{Windows: map[string][]byte{}}
	now := a.opt.Now()
	for _, in := range a.inputs {
		if !in.dirty && !in.pipe.closedSinceCommit {
			continue
		}
		snap, err := in.pipe.Aggregator().MarshalBinary()
		if err != nil {
			return fmt.Errorf("snapshot input %s: %w", in.cfg.Name, err)
		}
		c.Windows[windowKey(in.cfg.Name)] = snap
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
	}
	emitAll := a.cfg.Detect.Emit == "all"
	for _, ev := range a.pending {
		if ev.Type == event.TypeIPScore && ev.SrcIP != detect.OverflowKey {
			hits, _ := ev.Features.Get("hits")
			bytes, _ := ev.Features.Get("bytes")
			c.History = append(c.History, state.HistoryUpdate{Kind: state.KindIP, Key: ev.SrcIP,
				WindowStart: ev.WindowStart, Hits: int64(hits), Bytes: int64(bytes), Anomalous: ev.Anomalous})
		}
		if ev.SrcIP == detect.OverflowKey {
			n, _ := ev.Features.Get("hits")
			a.log.Warn("more source keys in a window than detect.max_keys; the rest were counted under \"overflow\"",
				"input", ev.Source, "window_start", ev.WindowStart, "overflow_lines", int64(n), "max_keys", a.cfg.Detect.MaxKeys)
			a.notice("warn", "window key cap reached; excess sources counted under overflow",
				map[string]string{"input": ev.Source, "window_start": ev.WindowStart.Format(time.RFC3339), "overflow_lines": fmt.Sprint(int64(n))})
		}
		if ev.Anomalous {
			a.metrics.anomalies.WithLabelValues(ev.Source).Inc()
		}
		if !emitAll && ev.Type == event.TypeIPScore && !ev.Anomalous && ev.SrcIP != detect.OverflowKey {
			continue
		}
		b, err := ev.AppendJSON(nil)
		if err != nil {
			return fmt.Errorf("encode event: %w", err)
		}
		c.Events = append(c.Events, b)
		a.metrics.events.WithLabelValues(ev.Type).Inc()
	}
	for _, ev := range a.notices {
		b, err := ev.AppendJSON(nil)
		if err != nil {
			return fmt.Errorf("encode event: %w", err)
		}
		c.Events = append(c.Events, b)
		a.metrics.events.WithLabelValues(ev.Type).Inc()
	}
	if _, err := a.store.Apply(c); err != nil {
		return fmt.Errorf("commit state: %w", err)
	}
	for _, in := range a.inputs {
		in.dirty = false
		in.pipe.closedSinceCommit = false
	}
	for _, ev := range c.Events {
		a.outboxBytes += int64(len(ev))
	}
	a.pending = a.pending[:0]
	a.notices = a.notices[:0]
	a.dirty = false
	a.lines = 0
	a.lastFlush = now
	a.metrics.commits.Inc()
	a.metrics.commitSeconds.Observe(time.Since(start).Seconds())
	a.metrics.outboxBytes.Set(float64(a.outboxBytes))
	a.updateStats()
	if len(c.Events) > 0 {
		a.kickSender()
	}
	a.checkBackpressure()
	return nil
}

// updateStats copies pipeline counters into the metrics.
func (a *Agent) updateStats() {
	for _, in := range a.inputs {
		s := in.pipe.Stats()
		a.metrics.setPipeline(in.cfg.Name, s)
	}
}
