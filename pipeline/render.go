package pipeline

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync/atomic"

	"github.com/socx/sharkfin/detect"
	"github.com/socx/sharkfin/event"
)

// The ordered render stage of the offline pipeline (RenderTo): closed keys
// are scored and rendered as JSON lines by workers, in batches, and the
// batches written in the order the keys closed. Scoring and rendering an
// event costs more than counting its lines; on the goroutine that counts,
// they held back every line after it (a busy site's 2M lines close 390,000
// keys).

// renderBatch is the number of closed keys a render batch holds.
const renderBatch = 4096

// batch is closed keys on their way to the writer, and their events.
type batch struct {
	keys        []string
	starts      []int64
	ends        []int64
	vecs        []float64 // len(keys) × dim
	out         []byte    // the rendered JSON lines
	err         error     // the first rendering error
	events, anm int64
	done        chan struct{}
}

// renderer is the state of RenderTo.
type renderer struct {
	w       io.Writer
	dim     int
	cur     *batch
	free    chan *batch
	work    chan *batch
	order   chan *batch
	stopped chan struct{}
	// Set by the writer, read after stopped is closed.
	events, anomalies int64
	err               error
	failed            atomic.Bool // err is set: the workers stop rendering
}

// RenderTo makes p score its closed keys and write their events to w as
// JSON lines (byte for byte what Event.AppendJSON writes, in the order the
// keys close), on workers goroutines (0: one per CPU), instead of handing
// them to the emit function of New. Call it before reading; after Flush,
// FinishRender waits for the last events and returns the first error.
func (p *Pipeline) RenderTo(w io.Writer, workers int) {
	if workers <= 0 {
		workers = max(1, runtime.GOMAXPROCS(0))
	}
	r := &renderer{
		w: w, dim: len(p.sc.names),
		free:    make(chan *batch, workers+2),
		work:    make(chan *batch, workers+2),
		order:   make(chan *batch, workers+2),
		stopped: make(chan struct{}),
	}
	for range workers + 2 {
		r.free <- &batch{done: make(chan struct{}, 1)}
	}
	ctx := &event.Context{Kind: p.sc.kind, Host: p.sc.host, Source: p.sc.source, Names: p.sc.names, Model: p.sc.modelID}
	if p.sc.scorer == nil {
		ctx.Model = ""
	}
	for range workers {
		var sc *detect.Scorer
		if p.cfg.Model != nil {
			sc, _ = detect.NewScorer(p.cfg.Model, p.kind) // New checked it
		}
		go r.renderLoop(sc, ctx, p.cfg.AnomaliesOnly, p.sc.ctxID)
	}
	go r.writeLoop()
	p.render = r
}

// add takes the closed key res (on the counting goroutine).
func (r *renderer) add(res *detect.Result) {
	if r.cur == nil {
		r.cur = <-r.free
		r.cur.keys, r.cur.starts, r.cur.ends, r.cur.vecs = r.cur.keys[:0], r.cur.starts[:0], r.cur.ends[:0], r.cur.vecs[:0]
	}
	b := r.cur
	b.keys = append(b.keys, res.Key)
	b.starts = append(b.starts, res.Start)
	b.ends = append(b.ends, res.End)
	b.vecs = append(b.vecs, res.Vector...)
	if len(b.keys) == renderBatch {
		r.dispatch()
	}
}

// dispatch hands the current batch to the workers and, in order, to the
// writer.
func (r *renderer) dispatch() {
	if r.cur == nil {
		return
	}
	r.work <- r.cur
	r.order <- r.cur
	r.cur = nil
}

// renderLoop scores and renders batches until work is closed.
func (r *renderer) renderLoop(sc *detect.Scorer, ctx *event.Context, anomaliesOnly bool, ctxID uint64) {
	var rd event.Renderer
	var pk event.Packed
	var ex []detect.Contribution
	var px []event.PackedExplanation
	for b := range r.work {
		b.out, b.err, b.events, b.anm = b.out[:0], nil, 0, 0
		if r.failed.Load() {
			b.done <- struct{}{} // nothing more is written
			continue
		}
		for i, key := range b.keys {
			vec := b.vecs[i*r.dim : (i+1)*r.dim : (i+1)*r.dim]
			pk = event.Packed{Context: ctxID, Start: b.starts[i], End: b.ends[i], Key: key, Values: vec, Cluster: -1}
			if sc != nil {
				s := sc.ScoreKey(key, vec)
				pk.Cluster, pk.Distance, pk.Threshold, pk.Score, pk.Anomalous = s.Cluster, s.Distance, s.Threshold, s.Score, s.Anomalous
				if s.Anomalous {
					b.anm++
					packVerdict(sc, vec, s, &pk, &ex, &px)
				}
			}
			if anomaliesOnly && !pk.Anomalous { // without a model, none is
				continue
			}
			out, err := rd.AppendPacked(b.out, &pk, ctx)
			if err != nil {
				if b.err == nil {
					b.err = fmt.Errorf("render event of %s: %w", key, err)
				}
				continue
			}
			b.out = append(out, '\n')
			b.events++
		}
		b.done <- struct{}{}
	}
}

// writeLoop writes the batches in order until order is closed.
func (r *renderer) writeLoop() {
	defer close(r.stopped)
	for b := range r.order {
		<-b.done
		r.events += b.events
		r.anomalies += b.anm
		if r.err == nil {
			r.err = b.err
		}
		if r.err == nil {
			_, r.err = r.w.Write(b.out)
		}
		if r.err != nil {
			r.failed.Store(true)
		}
		r.free <- b
	}
}

// finish writes the last batch, stops the goroutines and returns the
// first error.
func (r *renderer) finish() error {
	r.dispatch()
	close(r.work)
	close(r.order)
	<-r.stopped
	return r.err
}

// errNotRendering is FinishRender's error without RenderTo.
var errNotRendering = errors.New("pipeline: FinishRender without RenderTo")

// FinishRender waits until every event of the keys closed so far (call
// Flush first) is written, stops the render workers, adds their events to
// Stats and returns the first error of rendering or writing.
func (p *Pipeline) FinishRender() error {
	r := p.render
	if r == nil {
		return errNotRendering
	}
	err := r.finish()
	p.render = nil
	p.stats.Events += r.events
	p.stats.Anomalies += r.anomalies
	return err
}
