package agent

import (
	"runtime"
	"slices"
	"sync"

	"github.com/socx/sharkfin/detect"
	"github.com/socx/sharkfin/record"
	"github.com/socx/sharkfin/tailer"
)

// parsedBatch is a part of a tailer batch, parsed, ready for the main loop
// to count. Records alias the tailer's memory: the batch is released (Done)
// when its last part has been counted.
type parsedBatch struct {
	in          *input
	lines       [][]byte // the part's lines, in the tailer's memory
	recs        []record.Record
	names       []byte // the records' destination names (detect.Destinations)
	rejects     []error
	rejectAt    int    // the index in lines of the first rejected line (-1: none)
	path        string // the file the lines are from
	checkpoints []tailer.Checkpoint
	batch       *tailer.Batch // set on the last part only: release it once counted
	last        bool          // the tailer batch's last part: checkpoints are valid
	ready       chan struct{} // receives once a worker has parsed the part
}

// parseDepth is how many parsed parts may wait for the main loop, so that
// reading and parsing run ahead of counting: about one tailer batch of
// ordinary lines (a 1 MiB read of 200-byte lines is five parts).
const parseDepth = 6

// parseWorkers is how many goroutines parse: one per CPU, up to 4 (beyond
// that the main loop, which counts, is the bottleneck).
func parseWorkers() int { return min(4, max(1, runtime.GOMAXPROCS(0))) }

// runParser splits tailer batches into parts and parses them in place on
// parseWorkers goroutines, so that reading, parsing and counting overlap:
// the tailer reads its next batch while this one is parsed, and the main
// loop counts part N while the next parts are parsed. Parts reach parsed
// in their batches' order, before they are parsed: the main loop waits
// for each to be ready (one goroutine hand-off less per part), and
// releases a batch when it has counted its last part. It returns when
// batches is closed, after closing parsed. free must hold
// parseDepth+parseWorkers()+1 parts.
func (a *Agent) runParser(batches <-chan *tailer.Batch, parsed chan<- *parsedBatch, free chan *parsedBatch) {
	workers := parseWorkers()
	work := make(chan *parsedBatch, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		dests := detect.NewDestinations(a.destKey) // one per worker: its suffix cache is its own
		go func() {
			defer wg.Done()
			for pb := range work {
				a.parse(pb, dests)
				pb.ready <- struct{}{}
			}
		}()
	}
	for b := range batches {
		in := a.byName[b.Input]
		if in == nil {
			b.Done()
			continue
		}
		// Split big batches so the records in flight stay small (a record
		// is a few hundred bytes; a 1 MiB read holds ~10,000 lines). Only
		// the last part carries the checkpoints: they are persisted after
		// every line of the batch was counted.
		lines := b.Lines
		for first := true; first || len(lines) > 0; first = false {
			n := min(len(lines), parsePart)
			pb := <-free
			if pb.ready == nil {
				pb.ready = make(chan struct{}, 1)
			}
			pb.in = in
			// A recycled part is reset whole: a stale last flag made a middle
			// part pass for the last, with no checkpoints, and the next
			// commit dropped every checkpoint of the input.
			pb.recs, pb.rejects, pb.checkpoints = pb.recs[:0], pb.rejects[:0], pb.checkpoints[:0]
			pb.lines, pb.batch, pb.last = lines[:n:n], nil, false
			pb.rejectAt, pb.path = -1, b.Path
			lines = lines[n:]
			if len(lines) == 0 {
				pb.checkpoints = append(pb.checkpoints, b.Checkpoints...)
				pb.batch, pb.last = b, true
			}
			parsed <- pb // in order; the main loop waits for ready
			work <- pb
		}
	}
	close(work)
	wg.Wait()
	close(parsed)
}

// parsePart is the most lines in one parsed batch. Every part keeps its
// records (352 bytes each) for reuse: at 2048 the 11 parts held 7.5 MiB.
// At 1024 (3.8 MiB) a catch-up used no more CPU (busy and day shapes,
// benchagent, 2026-12-07) and a flood's peak RSS fell by 3-5 MiB. At 512
// (1.9 MiB; 9 parts on 2 CPUs, 1.6 MiB) again no more CPU (busy: median
// 4.20 s against 4.27, 6 interleaved rounds; day 0.62-0.68 s against
// 0.54-0.65), and the flood of 100,000 IPs peaked at 62.1-65.3 MiB
// (median 63.2) against 63.3-66.3 (65.1), the day shape's at 43.7-43.9
// against 45.4-46.2 (2026-12-07, later). At 256 (6 more interleaved
// rounds against 512, with a flood each): CPU alike (busy median 3.84 s
// against 3.75; day 0.57-0.58 against 0.59-0.62), busy's peak RSS
// 53.7-55.9 against 55.4-57.5 MiB, day's 41.5 against 42.7-43.4, and the
// flood 61.6-63.5 MiB (all 6 runs under 64) against 62.0-65.7 (4 of 6).
const parsePart = 256

func (a *Agent) parse(pb *parsedBatch, dests *detect.Destinations) {
	parser := pb.in.parser
	kind := parser.Format.Kind()
	vocab := pb.in.pipe.Vocab()
	tagKey := pb.in.pipe.TagKey()
	pb.recs = slices.Grow(pb.recs[:0], len(pb.lines))
	pb.names = pb.names[:0]
	for i, line := range pb.lines {
		pb.recs = pb.recs[:len(pb.recs)+1] // Parse resets the record
		r := &pb.recs[len(pb.recs)-1]
		if err := parser.Parse(line, r); err != nil {
			pb.recs = pb.recs[:len(pb.recs)-1]
			if len(pb.rejects) == 0 {
				pb.rejectAt = i
			}
			pb.rejects = append(pb.rejects, err)
			continue
		}
		detect.Prehash(kind, r, tagKey)
		vocab.Mark(kind, r)
		detect.TagRareError(kind, r, tagKey)
		dests.Fill(kind, r, &pb.names)
	}
}
