package agent

import (
	"github.com/socx/sharkfin/record"
	"github.com/socx/sharkfin/tailer"
)

// parsedBatch is a tailer batch copied out of the tailer's buffers and
// parsed, ready for the main loop to count. Records alias buf.
type parsedBatch struct {
	in          *input
	buf         []byte
	recs        []record.Record
	rejects     []error
	ends        []int // end of each line in buf
	lines       int
	starts      []int // offset of each line in buf
	checkpoints []tailer.Checkpoint
	last        bool // the tailer batch's last part: checkpoints are valid
}

// parseDepth is how many parsed batches may wait for the main loop.
const parseDepth = 3

// runParser copies and parses tailer batches on its own goroutine, so that
// reading, parsing and counting overlap: the tailer may read its next batch
// as soon as this one is copied (Done), and the main loop counts batch N
// while batch N+1 is parsed. Batches keep their order. It returns when
// batches is closed, after closing parsed.
func (a *Agent) runParser(batches <-chan *tailer.Batch, parsed chan<- *parsedBatch, free chan *parsedBatch) {
	defer close(parsed)
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
			pb.in = in
			// A recycled part is reset whole: a stale last flag made a middle
			// part pass for the last, with no checkpoints, and the next
			// commit dropped every checkpoint of the input.
			pb.buf, pb.recs, pb.rejects, pb.checkpoints = pb.buf[:0], pb.recs[:0], pb.rejects[:0], pb.checkpoints[:0]
			pb.last = false
			pb.lines = n
			pb.starts = pb.starts[:0]
			for _, l := range lines[:n] {
				pb.starts = append(pb.starts, len(pb.buf))
				pb.buf = append(pb.buf, l...)
			}
			lines = lines[n:]
			if len(lines) == 0 {
				pb.checkpoints = append(pb.checkpoints, b.Checkpoints...)
				pb.last = true
				b.Done() // every line copied: the tailer may reuse its memory and read on
			}
			a.parse(pb)
			parsed <- pb
		}
	}
}

// parsePart is the most lines in one parsed batch.
const parsePart = 2048

func (a *Agent) parse(pb *parsedBatch) {
	parser := pb.in.parser
	for i, start := range pb.starts {
		end := len(pb.buf)
		if i+1 < len(pb.starts) {
			end = pb.starts[i+1]
		}
		line := pb.buf[start:end:end]
		pb.recs = append(pb.recs, record.Record{})
		if err := parser.Parse(line, &pb.recs[len(pb.recs)-1]); err != nil {
			pb.recs = pb.recs[:len(pb.recs)-1]
			pb.rejects = append(pb.rejects, err)
		}
	}
}
