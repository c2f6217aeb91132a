package pipeline

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/socx/sharkfin/detect"
	"github.com/socx/sharkfin/event"
	"github.com/socx/sharkfin/record"
	"github.com/socx/sharkfin/tailer/format"
)

// Config describes one input's processing.
type Config struct {
	Host   string // node name put in events
	Source string // input name put in events
	Parser format.Parser
	Window detect.WindowConfig
	// Model scores the windows; nil emits unscored ip_score events
	// (cluster -1, score 0), which is what `sharkfin train` consumes.
	Model *detect.Model
	// AnomaliesOnly suppresses ip_score events that are not anomalous.
	AnomaliesOnly bool
	// Seen remembers the destinations counted (see detect.Seen): the
	// pipelines of one node share one. Nil: a set of the pipeline's own.
	Seen *detect.Seen
	// DestKey keys the destinations' hash (detect.DestKey): the node's,
	// the Seen's. Zero: a random key of the pipeline's own.
	DestKey detect.DestKey
	// Vocabulary is the path vocabulary web windows count rare paths
	// against when Model has none (training's second pass): Model's wins.
	Vocabulary *detect.Vocabulary
	// Horizon keeps a web input's client hour and day sums (see
	// detect.Horizon): the agent's, which it stores and loads. Nil: one of
	// the pipeline's own, in memory only.
	Horizon *detect.Horizon
	// Learn, if set, takes every parsed record instead of the windows
	// (training's first pass, which learns the vocabulary): nothing is
	// counted or emitted.
	Learn *detect.VocabBuilder
}

// Stats are cumulative counts of one pipeline.
type Stats struct {
	Lines     int64            // lines offered
	Parsed    int64            // lines accepted by the parser
	Rejected  int64            // lines the parser refused
	Reasons   map[string]int64 // rejections by reason
	Anomalies int64            // anomalous ip_score events
	Events    int64            // events emitted
	detect.AggregatorStats
	// Dest are the per-destination counters' (proxy and DNS; nil for web).
	Dest *detect.AggregatorStats
}

// Pipeline parses lines, windows them and scores closed windows: the code
// path shared by the agent and `sharkfin score`. Not safe for concurrent use.
type Pipeline struct {
	cfg  Config
	kind record.Kind
	agg  *detect.Aggregator
	// dest counts per destination (proxy and DNS inputs; nil for web),
	// with the same windows as agg; its results go to destTo.
	dest    *detect.Aggregator
	destTo  func(*detect.Result)
	dests   *detect.Destinations // Line's
	vocab   detect.PathVocab     // the model's path vocabulary (web)
	arena   []byte               // Line's destination names
	sc      *Scoring
	rec     record.Record
	stats   Stats
	reasons map[error]int64
	emit    func(*event.Event)
	ev      event.Event // handed to emit, reused for every result
	deferTo func(*Scoring, *detect.Result)
	render  *renderer // RenderTo
	// closed is set when a window closed: the agent's commit must store
	// the aggregator even if no line arrived (Closed, ResetClosed).
	closed bool
}

// New checks cfg and returns a pipeline that hands each event to
// emit. The event and its Features are reused for the next event: emit
// must encode or copy what it keeps (Event.Clone). The parser's format must
// be concrete (not Auto).
func New(cfg Config, emit func(*event.Event)) (*Pipeline, error) {
	kind := cfg.Parser.Format.Kind()
	if kind == record.KindUnknown {
		return nil, fmt.Errorf("input %s: format %s has no kind; set a concrete format", cfg.Source, cfg.Parser.Format)
	}
	cfg.Window.Kind = kind
	p := &Pipeline{
		cfg:     cfg,
		kind:    kind,
		sc:      newScoring(kind, cfg.Host, cfg.Source),
		reasons: make(map[error]int64),
		emit:    emit,
	}
	if cfg.Model != nil {
		if mw := cfg.Model.WindowDuration(); cfg.Window.Window != 0 && mw != cfg.Window.Window {
			return nil, fmt.Errorf("input %s: window %s differs from model %s window %s; features are counted per window, so use --window %s or a model trained for %s",
				cfg.Source, cfg.Window.Window, cfg.Model.ID(), mw, mw, cfg.Window.Window)
		}
		cfg.Window.Window = cfg.Model.WindowDuration()
		s, err := detect.NewScorer(cfg.Model, kind)
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", cfg.Source, err)
		}
		p.sc.setScorer(s, cfg.Model.ID())
	}
	p.vocab.Set(cfg.Vocabulary)
	if cfg.Model != nil && cfg.Model.Vocabulary != nil {
		p.vocab.Set(cfg.Model.Vocabulary)
	}
	if cfg.DestKey == (detect.DestKey{}) {
		cfg.DestKey = detect.NewDestKey()
	}
	if cfg.Seen == nil && (kind == record.KindProxy || kind == record.KindDNS) {
		cfg.Seen = detect.NewSeen(0, 0, cfg.DestKey)
		cfg.Seen.DiscardChanges() // the pipeline's own: nothing stores them
	}
	if cfg.Horizon == nil && kind == record.KindWeb {
		// DestKey also keys the 16-bit tags of the clients' rare-error
		// paths (the parse workers' too: read.go): random per run unless
		// given (train derives it from --seed, so that the same logs and
		// seed give the same model).
		cfg.Horizon = detect.NewHorizon(0, cfg.DestKey, false)
	}
	cfg.Window.Seen, cfg.Window.DestKey, cfg.Window.Horizon = cfg.Seen, cfg.DestKey, cfg.Horizon
	agg, err := detect.NewAggregator(cfg.Window)
	if err != nil {
		return nil, fmt.Errorf("input %s: %w", cfg.Source, err)
	}
	p.agg = agg
	if kind == record.KindProxy || kind == record.KindDNS {
		dc := cfg.Window
		dc.ByDest = true
		if p.dest, err = detect.NewAggregator(dc); err != nil {
			return nil, fmt.Errorf("input %s: %w", cfg.Source, err)
		}
		p.dests = detect.NewDestinations(cfg.DestKey)
	}
	p.cfg = cfg
	return p, nil
}

// Closed reports whether a window closed since ResetClosed.
func (p *Pipeline) Closed() bool { return p.closed }

// ResetClosed clears what Closed reports.
func (p *Pipeline) ResetClosed() { p.closed = false }

// Kind is the kind of traffic the pipeline sees.
func (p *Pipeline) Kind() record.Kind { return p.kind }

// Aggregator exposes the window state (for persistence and idle closing).
func (p *Pipeline) Aggregator() *detect.Aggregator { return p.agg }

// DestAggregator is the per-destination window state of a proxy or DNS
// input, nil for web.
func (p *Pipeline) DestAggregator() *detect.Aggregator { return p.dest }

// OpenWindows is the number of windows not yet closed, per client and per
// destination.
func (p *Pipeline) OpenWindows() int {
	n := p.agg.OpenWindows()
	if p.dest != nil {
		n += p.dest.OpenWindows()
	}
	return n
}

// Seen is the set of destinations the pipeline marks seen (nil for web).
func (p *Pipeline) Seen() *detect.Seen { return p.cfg.Seen }

// DeferDest hands each destination's closed window (Result.Dest set) to
// fn, which must copy what it keeps. Without it they are dropped.
func (p *Pipeline) DeferDest(fn func(*detect.Result)) { p.destTo = fn }

// SetModel swaps the scoring model (after a reload). The model must be of
// the pipeline's kind and window.
func (p *Pipeline) SetModel(m *detect.Model) error {
	if mw := m.WindowDuration(); mw != p.agg.Config().Window {
		return fmt.Errorf("model %s window %s differs from input %s window %s", m.ID(), mw, p.cfg.Source, p.agg.Config().Window)
	}
	s, err := detect.NewScorer(m, p.kind)
	if err != nil {
		return err
	}
	sc := *p.sc // a new Scoring: results deferred earlier keep theirs
	sc.setScorer(s, m.ID())
	p.sc, p.cfg.Model = &sc, m
	p.vocab.Set(m.Vocabulary)
	return nil
}

// Vocab is the path vocabulary of the model in use: parse workers mark
// records with it (detect.PathVocab.Mark) before AddAll.
func (p *Pipeline) Vocab() *detect.PathVocab {
	if p == nil { // an input without a pipeline (tests): no vocabulary
		return nil
	}
	return &p.vocab
}

// TagKey is the key parse workers tag rare errors with
// (detect.TagRareError): the aggregator's. Nil for an input without a
// pipeline (tests): nothing is tagged.
func (p *Pipeline) TagKey() *detect.DestKey {
	if p == nil {
		return nil
	}
	return p.agg.TagKey()
}

// Defer hands each closed window's key results to fn instead of building
// and emitting their events: the agent builds them on its committer
// goroutine, off the loop that counts. fn must copy what it keeps of the
// result (its Vector is reused) and later score it and build the event
// with the Scoring it was given, on one goroutine. The Anomalies and
// Events of Stats then stay 0: the caller counts them.
func (p *Pipeline) Defer(fn func(*Scoring, *detect.Result)) { p.deferTo = fn }

// Line processes one log line (without its newline). It allocates nothing
// per line in steady state.
func (p *Pipeline) Line(line []byte) {
	p.stats.Lines++
	if err := p.cfg.Parser.Parse(line, &p.rec); err != nil {
		p.stats.Rejected++
		p.reasons[err]++
		return
	}
	p.stats.Parsed++
	if p.cfg.Learn != nil {
		p.cfg.Learn.Add(&p.rec)
		return
	}
	p.vocab.Mark(p.kind, &p.rec)
	if p.dest != nil {
		p.arena = p.arena[:0]
		p.dests.Fill(p.kind, &p.rec, &p.arena)
	}
	p.agg.Add(&p.rec)
	if p.agg.Due() {
		p.agg.Advance(p.result)
	}
	if p.dest != nil {
		p.dest.Add(&p.rec)
		if p.dest.Due() {
			p.dest.Advance(p.destResult)
		}
	}
}

// destResult hands on a destination's closed window.
func (p *Pipeline) destResult(r *detect.Result) {
	p.closed = true
	if p.destTo != nil {
		p.destTo(r)
	}
}

// Reject counts a line refused before parsing (e.g. longer than the line
// limit) under reason.
func (p *Pipeline) Reject(reason error) {
	p.stats.Lines++
	p.stats.Rejected++
	p.reasons[reason]++
}

// CloseIdle closes windows that ended at or before t (Unix ns) even though
// no newer event arrived: the agent's rule for quiet inputs.
func (p *Pipeline) CloseIdle(t int64) {
	p.agg.CloseIdle(t, p.result)
	if p.dest != nil {
		p.dest.CloseIdle(t, p.destResult)
	}
}

// Flush closes every open window (end of input for `sharkfin score`).
func (p *Pipeline) Flush() {
	p.agg.CloseThrough(maxInt64, p.result)
	if p.dest != nil {
		p.dest.CloseThrough(maxInt64, p.destResult)
	}
	for p.Closing() {
		p.ContinueClose()
	}
}

// Closing reports whether a window is part way through closing
// (WindowConfig.CloseBatch keys at a time): commit, then ContinueClose.
func (p *Pipeline) Closing() bool { return p.agg.Closing() || (p.dest != nil && p.dest.Closing()) }

// ContinueClose emits the next keys of a closing window.
func (p *Pipeline) ContinueClose() {
	p.agg.ContinueClose(p.result)
	if p.dest != nil {
		p.dest.ContinueClose(p.destResult)
	}
}

const maxInt64 = int64(^uint64(0) >> 1)

// Stats returns cumulative counts.
func (p *Pipeline) Stats() Stats {
	s := p.stats
	s.AggregatorStats = p.agg.Stats()
	if p.dest != nil {
		ds := p.dest.Stats()
		s.Dest = &ds
	}
	s.Reasons = make(map[string]int64, len(p.reasons))
	for err, n := range p.reasons {
		r := format.Reason(err)
		if errors.Is(err, ErrLineTooLong) {
			r = "too_long"
		}
		s.Reasons[r] += n
	}
	return s
}

func (p *Pipeline) result(r *detect.Result) {
	p.closed = true
	if p.deferTo != nil {
		p.deferTo(p.sc, r)
		return
	}
	if p.render != nil {
		p.render.add(r)
		return
	}
	sc, scored := p.sc.Score(r.Key, r.Vector)
	if sc.Anomalous {
		p.stats.Anomalies++
	}
	if p.cfg.AnomaliesOnly && !sc.Anomalous {
		return // decided before building the event: nothing allocated
	}
	p.sc.Event(r, sc, scored, &p.ev)
	p.stats.Events++
	p.emit(&p.ev)
}

// Scoring turns a closed window's key result into its ip_score event: the
// model (if any) and the names the event carries. It is fixed once built
// (a model reload makes a new one), and not safe for concurrent use (the
// scorer has scratch space).
type Scoring struct {
	scorer       *detect.Scorer
	modelID      string // the model's ID(), built once
	names        []string
	hitsAt       int // index of hits in names, or -1
	bytesAt      int // index of bytes in names, or -1
	kind         string
	host, source string
	// ctx is the packed event.Context of its events and ctxID its ID, set
	// with the model on the main loop: read-only once the committer has it.
	ctx   []byte
	ctxID uint64
	// explain and packed are the scratch of an anomaly's explanation.
	explain []detect.Contribution
	packed  []event.PackedExplanation
}

// explainTop is how many features an anomaly's explanation names at most.
const explainTop = 3

// packVerdict sets what an anomalous window's packed event adds: its
// severity (with a calibrated model) and the features that put it out.
// vec is the vector sc scored last; ex and px are scratch.
func packVerdict(sc *detect.Scorer, vec []float64, s detect.Score, p *event.Packed, ex *[]detect.Contribution, px *[]event.PackedExplanation) {
	p.Severity, p.HasSeverity = sc.Severity(s)
	p.Reason = reasonOf(s)
	*ex = sc.Explain(vec, s, explainTop, *ex)
	*px = (*px)[:0]
	for _, c := range *ex {
		*px = append(*px, event.PackedExplanation{Index: c.Feature, Z: c.Z, Contribution: c.Share})
	}
	p.Explain = *px
}

// reasonOf is the reason of an anomalous score (event.Reason).
func reasonOf(s detect.Score) string {
	if s.By != detect.RuleNone {
		return s.By.String() // event.ReasonProbe, event.ReasonFlood
	}
	return event.ReasonDistance
}

// verdict sets what an anomalous window's event adds: its severity (with
// a calibrated model) and the features that put it out. vec is the vector
// Score scored last.
func (s *Scoring) verdict(vec []float64, sc detect.Score) (has bool, severity float64, explain []detect.Contribution) {
	severity, has = s.scorer.Severity(sc)
	s.explain = s.scorer.Explain(vec, sc, explainTop, s.explain)
	return has, severity, s.explain
}

func newScoring(kind record.Kind, host, source string) *Scoring {
	names := detect.FeatureNames(kind)
	s := &Scoring{names: names, hitsAt: slices.Index(names, "hits"), bytesAt: slices.Index(names, "bytes"),
		kind: kind.String(), host: host, source: source}
	s.setScorer(nil, "")
	return s
}

// setScorer sets the model s scores with (nil: none) and the context of
// its events, which names the model.
func (s *Scoring) setScorer(sc *detect.Scorer, modelID string) {
	s.scorer, s.modelID = sc, modelID
	c := event.Context{Kind: s.kind, Host: s.host, Source: s.source, Names: s.names}
	if sc != nil {
		c.Model = modelID
	}
	s.ctx, _ = c.MarshalBinary()
	s.ctxID = event.ContextID(s.ctx)
}

// Score scores a result's features (key: its key, for the overflow row:
// detect.Scorer.ScoreKey); scored is false without a model.
func (s *Scoring) Score(key string, vec []float64) (detect.Score, bool) {
	if s.scorer == nil {
		return detect.Score{}, false
	}
	return s.scorer.ScoreKey(key, vec), true
}

// HitsBytes returns the hits and bytes features of a result (what the
// agent's history keeps), 0 for a kind without bytes.
func (s *Scoring) HitsBytes(vec []float64) (hits, bytes int64) {
	if s.hitsAt >= 0 {
		hits = int64(vec[s.hitsAt])
	}
	if s.bytesAt >= 0 {
		bytes = int64(vec[s.bytesAt])
	}
	return hits, bytes
}

// Context returns the shared part of the ip_score events s builds, packed
// (event.Context), and its ID.
func (s *Scoring) Context() (id uint64, packed []byte) { return s.ctxID, s.ctx }

// Pack fills p with the packed ip_score event of r scored sc (from Score):
// what Event builds, less its Context. p.Values is r.Vector.
func (s *Scoring) Pack(r *detect.Result, sc detect.Score, scored bool, p *event.Packed) {
	*p = event.Packed{Context: s.ctxID, Start: r.Start, End: r.End, Key: r.Key, Values: r.Vector, Cluster: -1}
	if scored {
		p.Cluster, p.Distance, p.Threshold, p.Score, p.Anomalous = sc.Cluster, sc.Distance, sc.Threshold, sc.Score, sc.Anomalous
		if sc.Anomalous {
			packVerdict(s.scorer, r.Vector, sc, p, &s.explain, &s.packed)
		}
	}
}

// Event fills ev with the ip_score event of r scored sc (from Score),
// reusing ev's Features.
func (s *Scoring) Event(r *detect.Result, sc detect.Score, scored bool, ev *event.Event) {
	feats := ev.Features[:0]
	for i, n := range s.names {
		feats = append(feats, event.Feature{Name: n, Value: r.Vector[i]})
	}
	*ev = event.Event{
		Type:        event.TypeIPScore,
		Kind:        s.kind,
		Host:        s.host,
		Source:      s.source,
		WindowStart: time.Unix(0, r.Start).UTC(),
		WindowEnd:   time.Unix(0, r.End).UTC(),
		SrcIP:       r.Key,
		Features:    feats,
		Cluster:     -1,
	}
	ev.EventID = event.ID(ev.Host, ev.Source, ev.Type, r.Key, ev.WindowStart)
	if r.Key == event.OverflowKey {
		ev.SrcIP, ev.Overflow = event.OverflowSrcIP, true
	}
	if scored {
		ev.Cluster, ev.Distance, ev.Threshold, ev.Score, ev.Anomalous = sc.Cluster, sc.Distance, sc.Threshold, sc.Score, sc.Anomalous
		ev.Model = s.modelID
		if sc.Anomalous {
			var ex []detect.Contribution
			ev.HasSeverity, ev.Severity, ex = s.verdict(r.Vector, sc)
			ev.Reason = reasonOf(sc)
			for _, c := range ex {
				ev.Explain = append(ev.Explain, event.Explanation{Feature: s.names[c.Feature], Value: c.Value, Z: c.Z, Contribution: c.Share})
			}
		}
	}
}
