package tailer

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nxadm/tail"
)

// benchLines is the size of the catch-up file, as in the design card.
const benchLines = 2_000_000

var benchLog struct {
	once sync.Once
	dir  string
	path string
	size int64
}

// catchUpFile writes (once per process) a file of benchLines sequence
// lines, about 85 bytes each.
func catchUpFile(b *testing.B) (string, int64) {
	b.Helper()
	benchLog.once.Do(func() {
		dir, err := os.MkdirTemp("", "tailer-bench-")
		if err != nil {
			b.Fatal(err)
		}
		benchLog.dir = dir
		benchLog.path = filepath.Join(dir, "access.log")
		f, err := os.Create(benchLog.path)
		if err != nil {
			b.Fatal(err)
		}
		w := bufio.NewWriterSize(f, 1<<20)
		buf := make([]byte, 0, 256)
		for i := range benchLines {
			w.Write(seqLine(buf[:0], i))
		}
		if err := w.Flush(); err != nil {
			b.Fatal(err)
		}
		fi, _ := f.Stat()
		benchLog.size = fi.Size()
		f.Close()
	})
	return benchLog.path, benchLog.size
}

func removeBenchFile() {
	if benchLog.dir != "" {
		os.RemoveAll(benchLog.dir)
	}
}

// BenchmarkTailer_CatchUp reads the whole file through the Tailer: bulk
// reads, batches handed to a consumer that only counts.
func BenchmarkTailer_CatchUp(b *testing.B) {
	path, size := catchUpFile(b)
	b.SetBytes(size)
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		cfg := Config{Name: "bench", Paths: []string{path}, StartAt: StartAtBeginning}
		tl, err := New(cfg, nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		out := make(chan *Batch)
		done := make(chan error, 1)
		go func() { done <- tl.Run(ctx, out) }()
		n := 0
		for n < benchLines {
			bt := <-out
			n += len(bt.Lines)
			bt.Done()
		}
		cancel()
		<-done
	}
	b.ReportMetric(float64(benchLines*b.N)/time.Since(start).Seconds(), "lines/s")
}

// BenchmarkNxadmTail_Channel reads the same file through nxadm/tail's
// per-line channel, the design card's first idea.
func BenchmarkNxadmTail_Channel(b *testing.B) {
	path, size := catchUpFile(b)
	b.SetBytes(size)
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		t, err := tail.TailFile(path, tail.Config{MustExist: true, Logger: tail.DiscardingLogger})
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for line := range t.Lines {
			if line.Err != nil {
				b.Fatal(line.Err)
			}
			n++
		}
		t.Cleanup()
		if n != benchLines {
			b.Fatalf("read %d lines, want %d", n, benchLines)
		}
	}
	b.ReportMetric(float64(benchLines*b.N)/time.Since(start).Seconds(), "lines/s")
}

// BenchmarkBulkRead_Split is the floor: the read and split loop alone.
func BenchmarkBulkRead_Split(b *testing.B) {
	path, size := catchUpFile(b)
	b.SetBytes(size)
	b.ReportAllocs()
	buf := make([]byte, minReadBuffer)
	lines := make([][]byte, 0, 16<<10)
	start := time.Now()
	for b.Loop() {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		var off int64
		n := 0
		for {
			m, err := f.ReadAt(buf, off)
			var consumed int
			lines, consumed, _ = splitLines(buf[:m], DefaultMaxLineBytes, lines[:0])
			n += len(lines)
			off += int64(consumed)
			if err == io.EOF || m == 0 {
				break
			}
		}
		f.Close()
		if n != benchLines {
			b.Fatalf("read %d lines", n)
		}
	}
	b.ReportMetric(float64(benchLines*b.N)/time.Since(start).Seconds(), "lines/s")
}

// TestTailer_IdleCPU follows a few files nobody writes and measures the
// process's CPU time: no busy polling in either mode.
func TestTailer_IdleCPU(t *testing.T) {
	for _, m := range modes() {
		t.Run(m.name, func(t *testing.T) {
			dir := t.TempDir()
			for i := range 5 {
				appendFile(t, filepath.Join(dir, fmt.Sprintf("f%d.log", i)), fmt.Sprintf("file %d line\n", i))
			}
			cfg := Config{Name: "idle", Paths: []string{filepath.Join(dir, "*.log")}, StartAt: StartAtBeginning, Poll: m.poll}
			r := startTailer(t, cfg, nil, nil)
			waitFor(t, 3*time.Second, "initial lines", func() bool { return r.c.count() == 5 })
			time.Sleep(100 * time.Millisecond)
			const window = 1500 * time.Millisecond
			before := cpuTime(t)
			time.Sleep(window)
			used := cpuTime(t) - before
			pct := 100 * used.Seconds() / window.Seconds()
			t.Logf("%s: %v CPU in %v idle with 5 files (%.3f%%)", m.name, used, window, pct)
			if pct > 2 {
				t.Errorf("idle tailer uses %.2f%% CPU", pct)
			}
		})
	}
}

func cpuTime(t *testing.T) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
