package agent

import (
	"fmt"
	"testing"

	"github.com/socx/sharkfin/agent/config"
	"github.com/socx/sharkfin/tailer"
	"github.com/socx/sharkfin/tailer/format"
)

// A tailer batch is counted in parts of parsePart lines, and only its last
// part may carry the checkpoints (and allow a commit): recycled parts must
// not keep the last flag of an earlier use. (They did: a middle part with no
// checkpoints passed for the last, and the next commit dropped every
// checkpoint of the input, so a restart read its files again from the
// start, double counting the open windows. The crash suite found it.)
func TestRunParser_OnlyLastPartCarriesCheckpoints(t *testing.T) {
	in := &input{cfg: config.Input{Name: "web"}, parser: format.Parser{Format: format.Combined}}
	a := &Agent{byName: map[string]*input{"web": in}}
	batches := make(chan *tailer.Batch, 3)
	parsed := make(chan *parsedBatch, 64)
	free := make(chan *parsedBatch, 64)
	for range 3 { // few parts, so they are recycled between batches
		free <- &parsedBatch{}
	}
	line := []byte(`192.0.2.1 - - [01/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "t"`)
	sizes := []int{2*parsePart + 5, 3, parsePart*3 + 1}
	for i, n := range sizes {
		b := &tailer.Batch{Input: "web", Checkpoints: []tailer.Checkpoint{{Path: fmt.Sprintf("batch%d", i), Offset: int64(n)}}}
		for range n {
			b.Lines = append(b.Lines, line)
		}
		batches <- b
	}
	close(batches)
	done := make(chan struct{})
	go func() { a.runParser(batches, parsed, free); close(done) }()
	batch, lines := 0, 0
	for pb := range parsed {
		<-pb.ready
		lines += len(pb.lines)
		if len(pb.recs) != len(pb.lines) {
			t.Fatalf("part of %d lines parsed %d", len(pb.lines), len(pb.recs))
		}
		last := lines == sizes[batch]
		if pb.last != last || (pb.batch != nil) != last {
			t.Fatalf("batch %d: part ending at line %d of %d has last=%v, batch %v", batch, lines, sizes[batch], pb.last, pb.batch != nil)
		}
		if last {
			if len(pb.checkpoints) != 1 || pb.checkpoints[0].Path != fmt.Sprintf("batch%d", batch) {
				t.Fatalf("batch %d: last part carries %v", batch, pb.checkpoints)
			}
			batch, lines = batch+1, 0
		} else if len(pb.checkpoints) != 0 {
			t.Fatalf("batch %d: a middle part carries checkpoints %v", batch, pb.checkpoints)
		}
		free <- pb
	}
	<-done
	if batch != len(sizes) {
		t.Fatalf("%d batches completed, want %d", batch, len(sizes))
	}
}
