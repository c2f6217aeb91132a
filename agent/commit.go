package agent

import (
	"context"
	"fmt"
	"time"

	"github.com/socx/sharkfin/event"
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
	commit    state.Commit   // Events and History already filled
	overflows []*event.Event // overflow results, reported as notices
	notices   []*event.Event
	maxKeys   int
	done      chan error // nil, or receives the result
}

// releaseHistory is the size of a commit's history, in updates, from which
// the committer unmaps the state pages it read.
const releaseHistory = 512

// cut takes a commit job from the main loop's state and resets it.
func (a *Agent) cut() *commitJob {
	now := a.opt.Now()
	job := &commitJob{
		commit:    state.Commit{Windows: map[string][]byte{}, Closing: map[string][]byte{}, Events: a.encoded, History: a.history},
		overflows: a.overflows,
		notices:   a.notices,
		maxKeys:   a.cfg.Detect.MaxKeys,
	}
	c := &job.commit
	for _, in := range a.inputs {
		if !in.dirty && !in.pipe.closedSinceCommit {
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
		in.pipe.closedSinceCommit = false
	}
	// The next cut likely holds about as many events: size for it (up to
	// a close batch, so a flood's cut is not held on to).
	a.encoded = make([][]byte, 0, min(len(a.encoded), a.cfg.Detect.CloseBatch))
	a.history = make([]state.HistoryUpdate, 0, min(len(a.history), a.cfg.Detect.CloseBatch))
	a.arena, a.overflows, a.notices = nil, nil, nil
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
	a.commits <- a.cut() // room: the committer has taken every earlier cut
	return nil
}

// runCommitter writes cuts in order until commits is closed, marking
// itself idle after each; the first failure is reported on commitErr and
// ends it (the main loop then stops: nothing after a failed cut may be
// written, or lines would be lost).
func (a *Agent) runCommitter(ctx context.Context) {
	for job := range a.commits {
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
		a.commitIdle <- struct{}{}
	}
}

// write encodes the events of a cut and applies it in one transaction.
func (a *Agent) write(job *commitJob) error {
	start := time.Now()
	c := &job.commit
	var arena []byte
	add := func(ev *event.Event) error {
		n := len(arena)
		b, err := ev.AppendJSON(arena)
		if err != nil {
			return fmt.Errorf("encode event %s: %w", ev.EventID, err)
		}
		arena = b
		c.Events = append(c.Events, arena[n:len(arena):len(arena)])
		a.metrics.events.WithLabelValues(ev.Type).Inc()
		return nil
	}
	for _, ev := range job.overflows {
		n, _ := ev.Features.Get("hits")
		a.log.Warn("more source keys in a window than detect.max_keys; the rest were counted under \"overflow\"",
			"input", ev.Source, "window_start", ev.WindowStart, "overflow_lines", int64(n), "max_keys", job.maxKeys)
		now := time.Now().UTC()
		nv := &event.Event{Type: event.TypeAgent, Kind: "agent", Host: ev.Host, Source: "agent", WindowStart: ev.WindowStart,
			WindowEnd: ev.WindowEnd, Level: "warn", Message: "window key cap reached; excess sources counted under overflow",
			Detail: map[string]string{"input": ev.Source, "overflow_lines": fmt.Sprint(int64(n)), "max_keys": fmt.Sprint(job.maxKeys),
				"noticed": now.Format(time.RFC3339)}}
		nv.EventID = event.ID(nv.Host, ev.Source, nv.Type, "overflow", ev.WindowStart)
		job.notices = append(job.notices, nv)
	}
	for _, ev := range job.notices {
		if err := add(ev); err != nil {
			return err
		}
	}
	if _, err := a.store.Apply(c); err != nil {
		return fmt.Errorf("commit state: %w", err)
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
	if len(c.Events) > 0 {
		a.kickSender()
	}
	select { // let the main loop re-check backpressure
	case a.drained <- struct{}{}:
	default:
	}
	return nil
}

// updateStats copies pipeline counters into the metrics.
func (a *Agent) updateStats() {
	for _, in := range a.inputs {
		a.metrics.setPipeline(in.cfg.Name, in.pipe.Stats())
	}
}
