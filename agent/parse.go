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
	checkpoints []tailer.Checkpoint
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
		pb := <-free
		pb.in = in
		pb.buf, pb.recs, pb.rejects = pb.buf[:0], pb.recs[:0], pb.rejects[:0]
		pb.lines = len(b.Lines)
		pb.checkpoints = append(pb.checkpoints[:0], b.Checkpoints...)
		pb.ends = pb.ends[:0]
		for _, l := range b.Lines {
			pb.buf = append(pb.buf, l...)
			pb.ends = append(pb.ends, len(pb.buf))
		}
		// The tailer may reuse its memory and read on, b.Lines included:
		// only pb is read from here.
		b.Done()
		off := 0
		parser := in.parser
		for _, end := range pb.ends {
			line := pb.buf[off:end:end]
			off = end
			pb.recs = append(pb.recs, record.Record{})
			if err := parser.Parse(line, &pb.recs[len(pb.recs)-1]); err != nil {
				pb.recs = pb.recs[:len(pb.recs)-1]
				pb.rejects = append(pb.rejects, err)
			}
		}
		parsed <- pb
	}
}
