package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/socx/sharkfin/agent/config"
	"github.com/socx/sharkfin/detect"
	"github.com/socx/sharkfin/event"
	"github.com/socx/sharkfin/output"
	"github.com/socx/sharkfin/pipeline"
	"github.com/socx/sharkfin/state"
	"github.com/socx/sharkfin/tailer"
)

// Options are what the command line gives the agent besides its config.
type Options struct {
	Logger *slog.Logger
	// Stdout receives events when the output is stdout (default os.Stdout).
	Stdout *os.File
	// Notify tells the service manager about readiness (sd_notify); nil
	// does nothing.
	Notify func(state string)
	// Watchdog is the service manager's watchdog interval (WatchdogSec,
	// read from WATCHDOG_USEC), 0 for none: the main loop sends WATCHDOG=1
	// every quarter of it while it runs and commits get written (see
	// Agent.watchdog).
	Watchdog time.Duration
	// Now is the wall clock (tests); default time.Now.
	Now func() time.Time
	// MemoryLimit is the Go soft memory limit the caller set for the
	// process (runtime/debug.SetMemoryLimit), 0 if none. While a commit is
	// written, the committer raises it by what the commit holds (its
	// events, about three times over: encoded, and in bbolt's pages) and
	// then sets it back, so that a catch-up's commits of megabytes of
	// events do not drive the collector to run without pause.
	MemoryLimit int64
}

// Agent is the long-running sharkfin: it follows the inputs, counts and
// scores windows, commits everything to the state file and delivers events
// from the outbox. Create it with New, start it with Run.
type Agent struct {
	cfgPath string
	cfg     *config.Config
	opt     Options
	log     *slog.Logger
	metrics *metrics

	store   *state.Store
	models  *modelSet
	inputs  []*input
	byName  map[string]*input
	batches chan *tailer.Batch
	parsed  chan *parsedBatch
	free    chan *parsedBatch
	sink    output.Sink

	// Key results of windows closed since the last commit, in close order,
	// with their features in vecs: the committer scores them and builds,
	// encodes and stores their events and history, off this loop. A result
	// is about a hundred bytes until then; a flood's window close is
	// spread over commits of detect.close_batch keys.
	results []closedKey
	vecs    []float64
	// dests are the destinations' windows closed since the last commit
	// (their counters in vecs too); seen is the destinations ever seen,
	// shared by the inputs' pipelines; domains what the committer adds to
	// their events.
	dests    []closedDest
	destStrs []string // the dests' client, user and host names
	seen     *detect.Seen
	destKey  detect.DestKey // the state file's (state.Store.DestKey)
	domains  domainReport
	// catChecks carries what the category list's reloads found
	// (runCategories) to the main loop.
	catChecks chan categoryCheck
	// enrichBuf and domBuf are the committer's scratch of domain events.
	enrichBuf []*event.Enrichment
	domBuf    domainBufs
	// segments is the committer's: the outbox segments a cut's events are
	// encoded into.
	segments   state.Segments
	historyBuf []state.HistoryUpdate
	// maintainErr is the last maintenance error logged (committer only).
	maintainErr string
	// started is set once every input is ready (READY=1); failingSince is
	// when delivery started failing (Unix ns, 0 while it works), and
	// writingSince when the write to the output in progress began (0: none):
	// /readyz.
	started      atomic.Bool
	failingSince atomic.Int64
	writingSince atomic.Int64
	spare        chan spareResults // results' memory, from the committer back to the main loop
	closed       int               // windows' key results since the last commit
	notices      []*event.Event    // agent events not yet committed
	pullers      []*puller         // models given as URLs
	dirty        bool              // something to commit
	lines        int               // lines since the last commit
	lastFlush    time.Time
	// midBatch is set while the parts of one tailer batch are counted: no
	// commit may fall between them, as the checkpoints come with the last.
	midBatch bool

	commits      chan *commitJob // to the committer goroutine
	commitIdle   chan struct{}   // holds a token while the committer is idle
	commitErr    chan error      // the committer's fatal error
	backpressure bool
	wakeSender   chan struct{}
	// sent is the last outbox event the sink accepted, deleted the last
	// one deleted, deletedAt when (Unix ns): the sender and the committer
	// both delete delivered events (see runSender).
	sent, deleted atomic.Uint64
	deletedAt     atomic.Int64
	drained       chan struct{}

	// notifyMu orders the notifications to the service manager; stopping
	// is set once STOPPING=1 went out, after which nothing is sent.
	notifyMu sync.Mutex
	stopping bool
	// commitHanded is when the main loop last handed a cut to the
	// committer; withheld is set while the watchdog pings are withheld
	// because that cut has not been written for too long (main loop only).
	commitHanded time.Time
	withheld     bool
	lastPing     time.Time // when WATCHDOG=1 last went out (main loop only)
}

// New loads the configuration; it opens nothing and starts nothing.
func New(cfgPath string, opt Options) (*Agent, error) {
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return nil, err
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Stdout == nil {
		opt.Stdout = os.Stdout
	}
	if opt.Notify == nil {
		opt.Notify = func(string) {}
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Agent{
		cfgPath:    cfgPath,
		cfg:        cfg,
		opt:        opt,
		log:        opt.Logger.With(logComponent, "agent"),
		byName:     map[string]*input{},
		wakeSender: make(chan struct{}, 1),
		drained:    make(chan struct{}, 1),
		commits:    make(chan *commitJob, 1),
		commitIdle: make(chan struct{}, 1),
		commitErr:  make(chan error, 1),
		spare:      make(chan spareResults, 1),
		catChecks:  make(chan categoryCheck, 1),
	}, nil
}

// Run starts the agent and blocks until ctx is cancelled, then stops
// reading, commits and returns nil; or returns the error that stopped it.
//
// Shutdown order: the tailers stop (no more batches), the main loop
// commits what it counted, the sender finishes the write in flight, then
// the state file closes.
func (a *Agent) Run(ctx context.Context) error {
	if err := a.open(ctx); err != nil {
		return err
	}
	defer a.store.Close()
	a.metrics.stateBacklog(a.store)
	defer a.sink.Close()

	runCtx, cancel := context.WithCancel(ctx)
	var pwg sync.WaitGroup
	defer func() { cancel(); pwg.Wait() }()
	for _, p := range a.pullers {
		pwg.Go(func() { p.run(runCtx) })
	}
	pwg.Go(func() { a.runEnrich(runCtx) })
	pwg.Go(func() { a.runCategories(runCtx) })
	var wg sync.WaitGroup
	errc := make(chan error, len(a.inputs)+3)
	tailCtx, stopTailers := context.WithCancel(runCtx)
	for _, in := range a.inputs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := in.tailer.Run(tailCtx, a.batches); err != nil {
				errc <- fmt.Errorf("input %s: %w", in.cfg.Name, err)
			}
		}()
	}
	a.parsed = make(chan *parsedBatch, parseDepth+parseWorkers())
	a.free = make(chan *parsedBatch, parseDepth+parseWorkers()+1)
	for range cap(a.free) {
		a.free <- &parsedBatch{}
	}
	go a.runParser(a.batches, a.parsed, a.free)
	senderCtx, stopSender := context.WithCancel(context.Background())
	a.deletedAt.Store(a.opt.Now().UnixNano())
	var swg, cwg sync.WaitGroup
	swg.Add(1)
	go func() {
		defer swg.Done()
		a.runSender(senderCtx)
	}()
	a.commitIdle <- struct{}{}
	cwg.Add(1)
	go func() {
		defer cwg.Done()
		a.runCommitter(senderCtx)
	}()
	stopCommitter := func() error {
		close(a.commits)
		cwg.Wait()
		select {
		case err := <-a.commitErr:
			return err
		default:
			return nil
		}
	}
	if a.cfg.Metrics.Listen != "" {
		srv, err := a.metrics.serve(a.cfg.Metrics.Listen, a.cfg.Metrics.Pprof, a.ready, a.log)
		if err != nil {
			stopTailers()
			wg.Wait()
			close(a.batches)
			for pb := range a.parsed { // uncounted, but handed back: the parser may need them to finish
				<-pb.ready
				if pb.batch != nil {
					pb.batch.Done()
				}
				a.free <- pb
			}
			_ = stopCommitter()
			stopSender()
			swg.Wait()
			return err
		}
		defer srv.Close()
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	// STOPPING=1 the moment the stop is asked for (SIGTERM), even while
	// the main loop waits for a hung commit.
	defer context.AfterFunc(ctx, func() { a.notify("STOPPING=1") })()

	// Ready once every input has taken its start position (checkpoints
	// resumed, files open, directories watched): a line written or a
	// rotation made after READY=1 is seen.
	err := a.waitTailers(runCtx, errc)
	if err == nil {
		a.started.Store(true)
		a.notify("READY=1")
		a.log.Info("agent started", "inputs", len(a.inputs), "state", a.cfg.State.Path, "watchdog", a.opt.Watchdog)
		err = a.loop(runCtx, hup, errc)
	}

	a.started.Store(false) // /readyz: stopping
	a.notify("STOPPING=1") // if the agent stops by itself (an error)
	stopTailers()
	// Drain batches sent before the tailers saw the cancel, then commit.
	go func() { wg.Wait(); close(a.batches) }()
	for pb := range a.parsed {
		a.process(pb)
	}
	if cerr := a.commit(); cerr != nil && err == nil {
		err = cerr
	}
	if cerr := stopCommitter(); cerr != nil && err == nil {
		err = cerr
	}
	// Give the sender a moment to deliver what was just committed.
	a.kickSender()
	time.Sleep(50 * time.Millisecond)
	stopSender()
	// A sink write that does not return (stdout to a pipe whose reader
	// stopped reading: not interruptible) must not hold the stop past
	// systemd's patience: its events stay in the outbox, delivered (again)
	// at the next start.
	sent := make(chan struct{})
	go func() { swg.Wait(); close(sent) }()
	select {
	case <-sent:
	case <-time.After(senderStopWait):
		a.log.Warn("the output did not return from a write: its events stay in the outbox and are delivered at the next start",
			"waited", senderStopWait, "output", a.sinkName())
	}
	a.log.Info("agent stopped")
	return err
}

// sinkName says which output the agent writes to, for its log.
func (a *Agent) sinkName() string {
	if f := a.cfg.Output.Fluentd; f != nil {
		return "fluentd " + f.Address
	}
	return "stdout (its reader may have stopped reading)"
}

// readyFailing is how long delivery may fail, or one write to the output
// take, before /readyz says the agent is not ready: outages of Fluentd that
// the outbox rides out are normal, a long one needs an operator.
const readyFailing = time.Minute

// senderStopWait is how long a stop waits for a write to the output in
// progress (Fluentd's are interrupted at once; stdout's cannot be).
const senderStopWait = 2 * time.Second

// ready answers /readyz: every input has taken its start position, the
// state is open, and delivery has not been failing for readyFailing.
func (a *Agent) ready() error {
	if !a.started.Load() {
		return errors.New("inputs starting")
	}
	if since := a.failingSince.Load(); since != 0 {
		if d := time.Since(time.Unix(0, since)); d > readyFailing {
			return fmt.Errorf("event delivery failing for %s", d.Round(time.Second))
		}
	}
	if since := a.writingSince.Load(); since != 0 {
		if d := time.Since(time.Unix(0, since)); d > readyFailing {
			return fmt.Errorf("a write to the output has not returned for %s", d.Round(time.Second))
		}
	}
	return nil
}

// waitTailers waits until every input's tailer is ready, the context is
// cancelled (nil) or a part of the agent fails (its error). Batches the
// ready tailers send meanwhile wait for the main loop.
func (a *Agent) waitTailers(ctx context.Context, errc <-chan error) error {
	for _, in := range a.inputs {
		select {
		case <-in.tailer.Ready():
		case <-ctx.Done():
			return nil
		case err := <-errc:
			return err
		case err := <-a.commitErr:
			return err
		}
	}
	return nil
}

// loop is the single goroutine that owns pipelines and pending state.
func (a *Agent) loop(ctx context.Context, hup <-chan os.Signal, errc <-chan error) error {
	tick := time.NewTicker(a.tickInterval())
	defer tick.Stop()
	var watchdog <-chan time.Time // nil: off
	if a.opt.Watchdog > 0 {
		wd := time.NewTicker(a.opt.Watchdog / pingsPerWatchdog)
		defer wd.Stop()
		watchdog = wd.C
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			return err
		case err := <-a.commitErr:
			return err
		case pb := <-a.parsed:
			a.process(pb)
			if err := a.flush(a.lines >= a.cfg.State.FlushLines || a.pendingResults() >= a.cfg.Detect.CloseBatch); err != nil {
				return err
			}
		case <-tick.C:
			now := a.opt.Now()
			a.closeIdle(now)
			if err := a.flush(a.dirty && now.Sub(a.lastFlush) >= a.cfg.State.FlushInterval.Std()); err != nil {
				return err
			}
			a.models.maybeReload(a)
			a.checkAge(now)
		case c := <-a.catChecks:
			a.categoryChecked(c)
		case <-watchdog:
			if ctx.Err() == nil {
				a.watchdog(time.Now())
			}
		case <-a.drained:
			a.checkBackpressure()
		case <-hup:
			a.reload()
		}
	}
}

// flush commits when due (flush_lines or flush_interval reached): if the
// committer is idle, or, waiting for it, once the cut has grown past
// maxPending lines or events (bounding what a slow disk lets pile up in
// memory). Closing windows always wait for their commits (finishClosing).
func (a *Agent) flush(due bool) error {
	if a.closing() {
		if err := a.commit(); err != nil {
			return err
		}
		return a.finishClosing()
	}
	if !due {
		return nil
	}
	if a.lines >= maxPendingFlushes*a.cfg.State.FlushLines || a.pendingResults() >= a.cfg.Detect.CloseBatch {
		return a.commit()
	}
	return a.tryCommit()
}

// pendingResults is the closed windows' results waiting for the next commit.
func (a *Agent) pendingResults() int { return len(a.results) + len(a.dests) }

// maxPendingFlushes is how many flush_lines of lines a cut may grow to
// while the committer is busy, before the main loop waits for it.
const maxPendingFlushes = 4

// tickInterval paces idle closing, time-based commits and model checks:
// the flush interval, at most a second. An idle agent wakes once a tick.
func (a *Agent) tickInterval() time.Duration {
	d := a.cfg.State.FlushInterval.Std()
	if d <= 0 || d > time.Second {
		d = time.Second
	}
	return d
}

// process counts one parsed batch. Its checkpoints are remembered and
// persisted by the next commit, together with the counts.
func (a *Agent) process(pb *parsedBatch) {
	<-pb.ready // parsed
	in := pb.in
	in.pipe.AddAll(pb.recs)
	for _, err := range pb.rejects {
		in.pipe.Reject(err)
	}
	in.bad.add(pb)
	a.midBatch = !pb.last
	if pb.last {
		in.checkpoints = append(in.checkpoints[:0], pb.checkpoints...)
		in.dirty = true
	}
	in.lastBatch = a.opt.Now()
	a.lines += len(pb.lines)
	a.dirty = true
	a.metrics.lines.WithLabelValues(in.cfg.Name).Add(float64(len(pb.lines)))
	if pb.batch != nil {
		pb.batch.Done() // every line counted, checkpoints kept: the tailer may reuse its memory
	}
	pb.lines, pb.batch = nil, nil
	a.free <- pb
}

// closing reports whether a window of an input is part way through closing.
func (a *Agent) closing() bool {
	for _, in := range a.inputs {
		if in.pipe.Closing() {
			return true
		}
	}
	return false
}

// finishClosing emits the rest of closing windows, detect.close_batch keys per
// commit. Each commit holds the snapshot with the keys still to emit, so a
// crash part way resumes the close without emitting a key twice.
func (a *Agent) finishClosing() error {
	for a.closing() && !a.midBatch {
		for _, in := range a.inputs {
			if in.pipe.Closing() {
				in.pipe.ContinueClose()
				a.dirty = true
			}
		}
		if err := a.commit(); err != nil {
			return err
		}
		// A close of many keys is several commits in a row without a
		// return to the loop's select: ping between them when due.
		a.maybePing(time.Now())
	}
	return nil
}

// closeIdle closes windows of inputs that have been idle for lateness.
// Inputs paused by backpressure are not idle: their lines wait on disk, and
// closing their windows now would count those lines as late. Nor are they
// while parsed batches wait for this loop: then the loop was busy (blocked
// on a slow commit), not the logs quiet, and their last batch only looks
// old. Nor is an input whose tailer has not caught up (tailer.CaughtUp):
// its reader or parser was slow (a loaded machine), not its log quiet. A
// catch-up's windows closed by the wall clock then made the rest of their
// lines late: counts and events that changed with the machine's load.
func (a *Agent) closeIdle(now time.Time) {
	if a.backpressure || len(a.parsed) > 0 {
		return
	}
	late := a.cfg.Detect.Lateness.Std()
	for _, in := range a.inputs {
		if now.Sub(in.lastBatch) < in.idleAfter(late) || in.pipe.OpenWindows() == 0 || !in.tailer.CaughtUp() {
			continue
		}
		before := a.closed
		in.pipe.CloseIdle(now.Add(-late).UnixNano())
		if a.closed != before {
			a.dirty = true
		}
	}
}

// closedKey is one key's result in a closed window, waiting for the next
// commit (see Agent.results).
type closedKey struct {
	in         *input
	sc         *pipeline.Scoring // the input's model when the window closed
	start, end int64
	key        string
	off, n     int32 // the features: vecs[off : off+n]
	allowed    bool  // every line matched the input's allowlist (detect.Allow)
}

// deferFor returns the callback that keeps an input's closed key results
// for the next commit.
func (a *Agent) deferFor(in *input) func(*pipeline.Scoring, *detect.Result) {
	return func(sc *pipeline.Scoring, r *detect.Result) {
		a.closed++
		off := len(a.vecs)
		a.vecs = append(a.vecs, r.Vector...)
		a.results = append(a.results, closedKey{in: in, sc: sc, start: r.Start, end: r.End, key: r.Key,
			off: int32(off), n: int32(len(r.Vector)), allowed: r.Allowed})
	}
}

// notice queues an agent event (lifecycle notices) for the outbox.
func (a *Agent) notice(level, msg string, detail map[string]string) {
	now := a.opt.Now().UTC()
	ev := &event.Event{
		Type: event.TypeAgent, Kind: "agent", Host: a.cfg.Host, Source: "agent",
		WindowStart: now, WindowEnd: now, Level: level, Message: msg, Detail: detail,
	}
	ev.EventID = event.ID(ev.Host, ev.Source, ev.Type, msg, now)
	a.notices = append(a.notices, ev)
	a.dirty = true
}

var errStopped = errors.New("agent stopped")
