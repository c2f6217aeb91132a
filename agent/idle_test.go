package agent

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/socx/sharkfin/agent/config"
	"github.com/socx/sharkfin/detect"
	"github.com/socx/sharkfin/pipeline"
	"github.com/socx/sharkfin/tailer"
	"github.com/socx/sharkfin/tailer/format"
)

// Windows close by the wall clock only when the input is quiet: no batch
// for lateness and its tailer caught up. A tailer that has not caught up
// (a slow reader on a loaded machine: lines read and not yet counted, or
// not yet read) keeps them open, however long ago its last batch was; a
// catch-up's windows closed early made the rest of their lines late.
func TestCloseIdle_WaitsForTheTailer(t *testing.T) {
	const lateness = 5 * time.Second
	a := &Agent{cfg: &config.Config{Detect: config.Detect{Lateness: config.Duration(lateness)}}}
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tl, err := tailer.New(tailer.Config{Name: "web", Paths: []string{path}, StartAt: tailer.StartAtBeginning}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	parser := format.Parser{Format: format.Combined, Location: time.UTC}
	pipe, err := pipeline.New(pipeline.Config{Host: "h", Source: "web", Parser: parser,
		Window: detect.WindowConfig{Window: time.Minute, Lateness: lateness}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	in := &input{cfg: config.Input{Name: "web"}, parser: parser, tailer: tl, pipe: pipe}
	pipe.Defer(a.deferFor(in))
	a.inputs = []*input{in}
	pipe.Line([]byte(`192.0.2.1 - - [01/Jan/2026:00:00:10 +0000] "GET / HTTP/1.1" 200 1 "-" "t"`))
	in.lastBatch = time.Date(2026, 1, 1, 0, 0, 10, 0, time.UTC)
	now := in.lastBatch.Add(time.Hour) // long quiet by the wall clock

	a.closeIdle(now) // the tailer has not caught up: it has not even run
	if pipe.OpenWindows() != 1 || a.closed != 0 {
		t.Fatalf("tailer not caught up: %d windows open, %d keys closed; want 1, 0", pipe.OpenWindows(), a.closed)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tl.Run(ctx, make(chan *tailer.Batch)) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(5 * time.Second)
	for !tl.CaughtUp() { // an empty file: caught up once Run has looked
		if time.Now().After(deadline) {
			t.Fatal("tailer of an empty file not caught up after 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	a.closeIdle(now)
	if pipe.OpenWindows() != 0 || a.closed != 1 {
		t.Fatalf("tailer caught up: %d windows open, %d keys closed; want 0, 1", pipe.OpenWindows(), a.closed)
	}
}
