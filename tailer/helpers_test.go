package tailer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// collector consumes a Tailer's batches like the agent does: it keeps the
// lines, persists the checkpoints, then calls Done.
type collector struct {
	mu      sync.Mutex
	lines   []string
	paths   map[string]int // lines per batch path
	ckpts   []Checkpoint
	batches int
	onBatch func(*Batch)
}

func (c *collector) take(b *Batch) {
	c.mu.Lock()
	for _, l := range b.Lines {
		c.lines = append(c.lines, string(l))
	}
	if c.paths == nil {
		c.paths = make(map[string]int)
	}
	c.paths[b.Path] += len(b.Lines)
	c.ckpts = append(c.ckpts[:0], b.Checkpoints...)
	c.batches++
	f := c.onBatch
	c.mu.Unlock()
	if f != nil {
		f(b)
	}
	b.Done()
}

func (c *collector) snapshot() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.lines...)
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.lines)
}

func (c *collector) checkpoints() []Checkpoint {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Checkpoint(nil), c.ckpts...)
}

// running is a Tailer under test.
type running struct {
	t      *Tailer
	c      *collector
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// startTailer runs a Tailer for cfg with a collector until the test ends
// or stop is called.
func startTailer(tb testing.TB, cfg Config, resume []Checkpoint, c *collector) *running {
	tb.Helper()
	if c == nil {
		c = &collector{}
	}
	tl, err := New(cfg, resume, testLogger(tb))
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan *Batch)
	done := make(chan error, 1)
	go func() { done <- tl.Run(ctx, out) }()
	go func() {
		for {
			select {
			case b := <-out:
				c.take(b)
			case <-ctx.Done():
				return
			}
		}
	}()
	r := &running{t: tl, c: c, cancel: cancel, done: done}
	tb.Cleanup(func() { r.stop(tb) })
	select {
	case <-tl.Ready():
	case err := <-done:
		tb.Fatalf("Run returned before it was ready: %v", err)
	case <-time.After(10 * time.Second):
		tb.Fatal("tailer not ready after 10s")
	}
	return r
}

// stop cancels Run and waits for it; it returns the persisted checkpoints.
func (r *running) stop(tb testing.TB) []Checkpoint {
	tb.Helper()
	r.once.Do(func() {
		r.cancel()
		select {
		case err := <-r.done:
			if err != nil {
				tb.Errorf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			tb.Error("Run did not return after cancel")
		}
	})
	return r.c.checkpoints()
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func testLogger(tb testing.TB) *slog.Logger {
	if testing.Verbose() && os.Getenv("TAILER_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// testConfig is a configuration with short intervals for tests.
func testConfig(poll bool, paths ...string) Config {
	return Config{
		Name:           "test",
		Paths:          paths,
		StartAt:        StartAtBeginning,
		Poll:           poll,
		PollInterval:   50 * time.Millisecond,
		RescanInterval: 300 * time.Millisecond,
		RotateWait:     500 * time.Millisecond,
	}
}

func appendFile(tb testing.TB, path string, data string) {
	tb.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := f.WriteString(data); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
}

// seqLine is the sequence-numbered line the writers produce.
func seqLine(buf []byte, seq int) []byte {
	buf = fmt.Appendf(buf, "%09d ", seq)
	buf = append(buf, "GET /index.html HTTP/1.1 200 5123 \"Mozilla/5.0 (X11; Linux x86_64)\""...)
	return append(buf, '\n')
}

// parseSeq returns the sequence number of a seqLine.
func parseSeq(line string) (int, error) {
	if len(line) < 10 || line[9] != ' ' {
		return 0, fmt.Errorf("not a sequence line: %q", line)
	}
	return strconv.Atoi(line[:9])
}

// seqCounts counts delivered lines per sequence number.
func seqCounts(tb testing.TB, lines []string) map[int]int {
	tb.Helper()
	return seqCountsTorn(tb, lines, nil, true)
}

// seqCountsTorn is seqCounts that accepts the lines of torn (not counted),
// each at most once; report says whether to fail on others.
func seqCountsTorn(tb testing.TB, lines []string, torn map[string]bool, report bool) map[int]int {
	tb.Helper()
	m := make(map[int]int, len(lines))
	bad := 0
	tornSeen := make(map[string]int)
	for _, l := range lines {
		n, err := parseSeq(l)
		if err != nil && torn[l] {
			if tornSeen[l]++; tornSeen[l] > 1 && report {
				tb.Errorf("torn line %q delivered %d times", l, tornSeen[l])
			}
			continue
		}
		if err != nil {
			if bad < 5 && report {
				tb.Errorf("delivered a broken line: %v", err)
			}
			bad++
			continue
		}
		m[n]++
	}
	return m
}

// Writer child process. The tests start the test binary again with
// TAILER_TEST_WRITER set; it appends sequence lines to a file the way a
// logging library with "watched file" semantics does: it checks every few
// lines whether the path still names its file and reopens it if not (so a
// few lines land in the renamed file after a rotation, as with real
// daemons), and uses O_APPEND (so copytruncate works).
const (
	envWriter = "TAILER_TEST_WRITER" // path,first,count,linesPerSecond
)

func TestMain(m *testing.M) {
	if spec := os.Getenv(envWriter); spec != "" {
		if err := writerMain(spec); err != nil {
			fmt.Fprintln(os.Stderr, "writer:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	code := m.Run()
	removeBenchFile()
	os.Exit(code)
}

func writerMain(spec string) error {
	var path string
	var first, count, rate int
	parts := bytes.Split([]byte(spec), []byte(","))
	if len(parts) != 4 {
		return fmt.Errorf("bad spec %q", spec)
	}
	path = string(parts[0])
	var err error
	if first, err = strconv.Atoi(string(parts[1])); err != nil {
		return err
	}
	if count, err = strconv.Atoi(string(parts[2])); err != nil {
		return err
	}
	if rate, err = strconv.Atoi(string(parts[3])); err != nil {
		return err
	}
	var f *os.File
	var ino inode
	// Like a daemon told to reopen by logrotate's postrotate, the writer
	// creates the file only at start; on reopen it waits for logrotate to
	// create it (a writer that creates it races with "create", and
	// logrotate then moves the writer's file to a .backup name).
	flags := os.O_WRONLY | os.O_APPEND | os.O_CREATE
	reopen := func() error {
		if f != nil {
			f.Close()
		}
		var err error
		for deadline := time.Now().Add(10 * time.Second); ; {
			f, err = os.OpenFile(path, flags, 0o644)
			if !errors.Is(err, fs.ErrNotExist) || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Microsecond)
		}
		flags &^= os.O_CREATE
		if err != nil {
			return err
		}
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		ino, _ = inodeOf(fi)
		return nil
	}
	if err := reopen(); err != nil {
		return err
	}
	// count 0 writes until SIGTERM, then prints how many lines it wrote.
	stop := make(chan os.Signal, 1)
	if count == 0 {
		count = math.MaxInt
		signal.Notify(stop, syscall.SIGTERM)
	}
	const checkEvery = 16
	start := time.Now()
	buf := make([]byte, 0, 256)
	i := 0
	defer func() { fmt.Println(i) }()
	for ; i < count; i++ {
		if i%checkEvery == 0 {
			select {
			case <-stop:
				return f.Close()
			default:
			}
		}
		if i%checkEvery == 0 {
			fi, err := os.Stat(path)
			var k inode
			if err == nil {
				k, _ = inodeOf(fi)
			}
			if err != nil || k != ino {
				if err := reopen(); err != nil {
					return err
				}
			}
		}
		if _, err := f.Write(seqLine(buf[:0], first+i)); err != nil {
			return err
		}
		if rate > 0 && i%64 == 63 {
			if d := time.Duration(i+1)*time.Second/time.Duration(rate) - time.Since(start); d > 0 {
				time.Sleep(d)
			}
		}
	}
	return f.Close()
}
