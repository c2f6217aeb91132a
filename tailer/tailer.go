package tailer

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
)

// Tailer follows the files of one input and delivers their complete lines
// in batches. Create it with New, start it with Run.
type Tailer struct {
	cfg    Config
	resume []Checkpoint
	log    *slog.Logger
	stats  counters

	mu     sync.Mutex
	paused bool
	wake   chan struct{}

	ran   atomic.Bool
	ready chan struct{}
	// caughtUp is set by the run loop: see CaughtUp.
	caughtUp atomic.Bool
}

// New returns a Tailer for cfg (defaults applied) that resumes from the
// checkpoints of a previous run. It starts nothing.
func New(cfg Config, resume []Checkpoint, logger *slog.Logger) (*Tailer, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Paths = append([]string(nil), cfg.Paths...)
	cfg.Exclude = append([]string(nil), cfg.Exclude...)
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Tailer{
		cfg:    cfg,
		resume: append([]Checkpoint(nil), resume...),
		log:    logger.With(logComponent, "tailer", logInput, cfg.Name),
		wake:   make(chan struct{}, 1),
		ready:  make(chan struct{}),
	}, nil
}

// Run follows the files and sends batches on out until ctx is cancelled;
// it then closes every file and returns nil. It never closes out. One
// batch is in flight at a time: the next is sent after the previous one's
// Done. Run may be called once.
func (t *Tailer) Run(ctx context.Context, out chan<- *Batch) error {
	if !t.ran.CompareAndSwap(false, true) {
		return errors.New("tailer: Run called twice")
	}
	r := newRunner(t)
	defer r.close()
	return r.run(ctx, out)
}

// Ready is closed once Run has taken its start-up position: the
// checkpoints are resumed, the files the globs match are open (a file
// present now with StartAt "end" starts at its current end) and the
// directories are watched. Anything written, created, rotated or truncated
// after that is seen. It is never closed if Run is not called.
func (t *Tailer) Ready() <-chan struct{} { return t.ready }

// Pause stops reading: no batch is sent after the one in flight until
// Resume. Data stays on disk; notifications are still taken in.
func (t *Tailer) Pause() { t.setPaused(true) }

// Resume undoes Pause.
func (t *Tailer) Resume() { t.setPaused(false) }

func (t *Tailer) setPaused(p bool) {
	t.mu.Lock()
	t.paused = p
	t.mu.Unlock()
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

func (t *Tailer) isPaused() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.paused
}

// CaughtUp reports whether the tailer has read every followed file up to
// the end it last saw, and every batch it sent was released (Done): no
// line it knows of waits to be read or counted. It is false before Run is
// ready, and while a batch is read, waits to be sent or is out. A consumer
// that closes windows after a quiet time asks it, so that a reader slowed
// down (a loaded machine, a batch waiting to be counted) is not taken for
// a quiet log.
func (t *Tailer) CaughtUp() bool { return t.caughtUp.Load() }

// Stats returns a snapshot of the counters.
func (t *Tailer) Stats() Stats { return t.stats.snapshot() }
