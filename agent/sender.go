package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/socx/sharkfin/agent/config"
	"github.com/socx/sharkfin/event"
	"github.com/socx/sharkfin/output"
	"github.com/socx/sharkfin/state"
)

// sendBatch is the most events one Write carries: whole outbox segments
// (one commit's events, at most 512 each) while they fit.
const sendBatch = 512

// Delivered events are deleted from the outbox by the next commit, in its
// transaction (Commit.DeleteThrough): while lines flow, deleting costs no
// write of its own. The sender deletes them itself once deleteAfter passed
// since the last delete, or when deleteEvery of them wait (a backlog sent
// with no commits going on): an idle agent's outbox is empty a quarter of
// a second after its last delivery. A crash re-sends at most the delivered
// events not yet deleted (at least once; downstream de-duplicates on
// event_id).
const (
	deleteEvery = 16384
	deleteAfter = 250 * time.Millisecond
)

// markDeleted records that the outbox is deleted through seq, by the
// sender or a commit. Events are counted as delivered when the sink
// accepts them (runSender), not here: deleting follows up to deleteAfter
// later.
func (a *Agent) markDeleted(seq uint64) {
	for d := a.deleted.Load(); seq > d && !a.deleted.CompareAndSwap(d, seq); d = a.deleted.Load() {
	}
	a.deletedAt.Store(time.Now().UnixNano())
}

// lastDelete is when the outbox was last deleted from (or the agent started).
func (a *Agent) lastDelete() time.Time { return time.Unix(0, a.deletedAt.Load()) }

// releaseEvery is how many bytes of outbox the sender reads before it
// unmaps the state file's pages it read (state.Store.ReleaseMapped); it
// also does when the outbox is drained. Otherwise every page of a big
// burst of events stays in the agent's RSS.
const releaseEvery = 2 << 20

// newSink builds the configured output.
func (a *Agent) newSink() (output.Sink, error) {
	if f := a.cfg.Output.Fluentd; f != nil {
		return output.NewForward(output.ForwardConfig{
			Address: f.Address, TLS: f.TLS, CAFile: f.CAFile, InsecureSkipVerify: f.InsecureSkipVerify,
			TagPrefix: f.TagPrefix, Timeout: f.Timeout.Std(), Logger: a.opt.Logger,
		})
	}
	return output.NewStdout(a.opt.Stdout), nil
}

func (a *Agent) kickSender() {
	select {
	case a.wakeSender <- struct{}{}:
	default:
	}
}

// runSender delivers the outbox in order and deletes events only after the
// sink accepted them (for Fluentd: acked). On failure it retries the same
// events with capped exponential backoff and jitter; nothing is dropped.
func (a *Agent) runSender(ctx context.Context) {
	log := a.opt.Logger.With(logComponent, "sender")
	backoff := &output.Backoff{Min: 200 * time.Millisecond, Max: 30 * time.Second}
	var evs []*event.Event
	var raw [][]byte
	var arena []byte
	var last uint64
	// sent: the last event the sink accepted (a.sent for the committer);
	// a.deleted: the outbox is deleted through it.
	var sent uint64
	var unreleased int // bytes read since the last ReleaseMapped
	deleteSent := func() error {
		if sent <= a.deleted.Load() {
			return nil
		}
		if _, err := a.store.OutboxDelete(sent); err != nil {
			return err
		}
		a.markDeleted(sent)
		return nil
	}
	defer func() {
		if err := deleteSent(); err != nil {
			log.Warn("delivered events not deleted from the outbox; they will be sent again", "err", err)
		}
	}()
	failing := false
	jsonSink, isJSON := a.sink.(output.JSONSink)
	un := unpacker{store: a.store}
	again := false
	for {
		evs, raw, arena = evs[:0], raw[:0], arena[:0]
		un.begin(again)
		again = false
		err := a.store.OutboxReadSegments(sent, sendBatch, func(seq uint64, data []byte) error {
			last = seq
			unreleased += len(data)
			if isJSON && len(data) > 0 && data[0] == '{' { // copy out of the read transaction
				start := len(arena)
				arena = append(arena, data...)
				raw = append(raw, arena[start:len(arena):len(arena)])
				return nil
			}
			if isJSON { // packed: rendered straight into the arena
				start := len(arena)
				var err error
				if arena, err = un.render(seq, data, arena); err != nil {
					if errors.Is(err, errNeedContexts) {
						return err
					}
					un.bad(seq, err)
					return nil // skipped: never deliverable
				}
				raw = append(raw, arena[start:len(arena):len(arena)])
				return nil
			}
			ev := &event.Event{}
			if err := un.decode(seq, data, ev); err != nil {
				if errors.Is(err, errNeedContexts) {
					return err
				}
				un.bad(seq, err)
				return nil
			}
			evs = append(evs, ev)
			return nil
		})
		if errors.Is(err, errNeedContexts) {
			if err = un.reload(); err == nil {
				again = true
				continue // read again, with the contexts of the latest commits
			}
		}
		if un.skipped > 0 && !failing { // while delivery fails, the same read repeats: said once
			log.Error("outbox events that cannot be decoded were skipped (the state file is damaged, or was written by another sharkfin)",
				"events", un.skipped, "first_seq", un.firstBad, "err", un.badErr)
			a.metrics.outboxSkipped.Add(float64(un.skipped))
		}
		n := len(evs) + len(raw)
		if err == nil && n == 0 && un.skipped > 0 {
			sent = last // only skipped events: past them
			a.sent.Store(sent)
			n = un.skipped // read on
		}
		if err == nil && len(evs)+len(raw) > 0 {
			a.writingSince.Store(time.Now().UnixNano())
			if isJSON {
				err = jsonSink.WriteJSON(ctx, raw)
			} else {
				err = a.sink.Write(ctx, evs)
			}
			a.writingSince.Store(0)
			dropped := errors.Is(err, output.ErrBadEvent)
			if dropped {
				log.Error("dropping undeliverable events (a bug: please report)", "err", err, "events", n)
				a.metrics.sendErrors.Inc()
				err = nil
			}
			if err == nil {
				sent = last
				a.sent.Store(sent)
				if !dropped {
					a.metrics.delivered.Add(float64(len(evs) + len(raw)))
				}
			}
		}
		if err == nil && (sent-a.deleted.Load() >= deleteEvery || time.Since(a.lastDelete()) >= deleteAfter) {
			err = deleteSent()
		}
		if err == nil && unreleased > 0 && (n == 0 || unreleased >= releaseEvery) {
			if rerr := a.store.ReleaseMapped(); rerr != nil {
				log.Warn("cannot release the state file's mapped pages", "err", rerr)
			}
			unreleased = 0
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if !failing {
				log.Error("delivery failed; retrying with backoff, events stay in the outbox", "err", err)
				failing = true
				a.failingSince.Store(time.Now().UnixNano())
			}
			a.metrics.sendErrors.Inc()
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff.Next()):
			}
			continue
		}
		if failing {
			log.Info("delivery resumed")
			failing = false
			a.failingSince.Store(0)
		}
		backoff.Reset()
		if _, size, err := a.store.OutboxStats(); err == nil {
			a.metrics.outboxBytes.Set(float64(size))
			select {
			case a.drained <- struct{}{}:
			default:
			}
		}
		if n > 0 {
			continue // maybe more waiting
		}
		// Drained. Delivered events left undeleted wait for a commit to
		// delete them, or for deleteAfter.
		wait := 30 * time.Second
		if sent > a.deleted.Load() {
			wait = max(time.Millisecond, deleteAfter-time.Since(a.lastDelete()))
		}
		select {
		case <-ctx.Done():
			return
		case <-a.wakeSender: // every commit that adds events kicks
		case <-time.After(wait):
		}
	}
}

// checkBackpressure pauses reading while the outbox holds more than
// output.fluentd.outbox_max bytes (config.DefaultOutboxMax with stdout,
// whose reader may stop reading too) and resumes it below 90% of that.
func (a *Agent) checkBackpressure() {
	max := int64(config.DefaultOutboxMax)
	if f := a.cfg.Output.Fluentd; f != nil {
		if f.OutboxMax <= 0 {
			return
		}
		max = int64(f.OutboxMax)
	}
	_, size, err := a.store.OutboxStats()
	if err != nil {
		return
	}
	a.metrics.outboxBytes.Set(float64(size))
	switch {
	case !a.backpressure && size >= max:
		a.backpressure = true
		for _, in := range a.inputs {
			in.tailer.Pause()
		}
		a.metrics.backpressure.Set(1)
		a.log.Warn("outbox full: reading paused until delivery catches up; log data stays on disk", "outbox_bytes", size, "outbox_max", max)
	case a.backpressure && size < max*9/10:
		a.backpressure = false
		now := a.opt.Now()
		for _, in := range a.inputs {
			in.tailer.Resume()
			in.lastBatch = now // the pause was not idleness: give reading a lateness to catch up
		}
		a.metrics.backpressure.Set(0)
		a.log.Info("outbox drained: reading resumed", "outbox_bytes", size)
		a.notice("warn", "backpressure ended: reading was paused while the outbox was full", map[string]string{"outbox_max": fmt.Sprint(max)})
	}
}

// errNeedContexts stops an outbox read at a packed event whose context the
// sender has not read yet.
var errNeedContexts = errors.New("outbox event refers to a context not yet read")

// unpacker decodes outbox events for the sender: JSON objects, or packed
// ip_score events (event.Packed) with their contexts, which it reads from
// the store when an event refers to one it does not have.
type unpacker struct {
	store    *state.Store
	contexts map[uint64]*event.Context
	reloaded bool // the contexts were read since this read began
	pk       event.Packed
	r        event.Renderer
	// events skipped in this read, the first of them and its error
	skipped  int
	firstBad uint64
	badErr   error
}

// begin starts a read of the outbox. A read again after a reload keeps
// the contexts it read as the latest.
func (u *unpacker) begin(again bool) {
	u.reloaded = again && u.reloaded
	u.skipped, u.firstBad, u.badErr = 0, 0, nil
}

// bad records an event that can never be delivered.
func (u *unpacker) bad(seq uint64, err error) {
	if u.skipped == 0 {
		u.firstBad, u.badErr = seq, err
	}
	u.skipped++
}

func (u *unpacker) decode(seq uint64, data []byte, ev *event.Event) error {
	if len(data) == 0 {
		return fmt.Errorf("outbox event %d is empty", seq)
	}
	if data[0] != event.PackedTag {
		if err := json.Unmarshal(data, ev); err != nil {
			return fmt.Errorf("outbox event %d: %w", seq, err)
		}
		return nil
	}
	if err := u.pk.UnmarshalBinary(data); err != nil {
		return fmt.Errorf("outbox event %d: %w", seq, err)
	}
	c, err := u.context(seq, u.pk.Context)
	if err != nil {
		return err
	}
	if err := u.pk.Event(c, ev); err != nil {
		return fmt.Errorf("outbox event %d: %w", seq, err)
	}
	return nil
}

// context returns the context id of event seq refers to: errNeedContexts
// if the contexts were not read since this read began, else an error
// when the state file does not hold it.
func (u *unpacker) context(seq, id uint64) (*event.Context, error) {
	if c, ok := u.contexts[id]; ok {
		return c, nil
	}
	if !u.reloaded {
		return nil, errNeedContexts
	}
	return nil, fmt.Errorf("outbox event %d: its context %016x is missing from the state file, or damaged", seq, id)
}

// render appends the JSON of a packed event to b.
func (u *unpacker) render(seq uint64, data, b []byte) ([]byte, error) {
	id, ok := event.PackedContext(data)
	if !ok {
		return b, fmt.Errorf("outbox event %d: neither JSON nor a packed event", seq)
	}
	c, err := u.context(seq, id)
	if err != nil {
		return b, err
	}
	b, err = u.r.AppendJSON(b, data, c)
	if err != nil {
		return b, fmt.Errorf("outbox event %d: %w", seq, err)
	}
	return b, nil
}

// reload reads the contexts from the store, replacing those it had (the
// store drops them when the outbox empties).
func (u *unpacker) reload() error {
	raw, err := u.store.OutboxContexts()
	if err != nil {
		return err
	}
	u.contexts = make(map[uint64]*event.Context, len(raw))
	for id, v := range raw {
		c := &event.Context{}
		if err := c.UnmarshalBinary(v); err != nil {
			continue // the events that use it are skipped as missing or damaged
		}
		u.contexts[id] = c
	}
	u.reloaded = true
	return nil
}
