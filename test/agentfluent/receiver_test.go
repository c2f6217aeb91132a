package agentfluent_test

import (
	"github.com/socx/sharkfin/internal/forwardtest"

	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// receiver is one forwardrecv process. Every process of a test appends
// its decoded entries to the same file, so a receiver restarted on the
// same address continues the record of the previous one.
type receiver struct {
	t      testing.TB
	cmd    *exec.Cmd
	addr   string
	stderr *lockedBuffer
	done   chan struct{}
}

// startReceiver runs forwardrecv on addr (host:port) with extra flags,
// appending to out, and waits until it listens.
func startReceiver(t testing.TB, addr, out string, flags ...string) *receiver {
	t.Helper()
	args := append([]string{"-listen", addr, "-out", out}, flags...)
	cmd := exec.Command(bins.receiver, args...)
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start receiver: %v", err)
	}
	r := &receiver{t: t, cmd: cmd, stderr: &lockedBuffer{}, done: make(chan struct{})}
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			line := sc.Text()
			if a, ok := strings.CutPrefix(line, "listening "); ok {
				listening <- a
			}
			r.stderr.WriteLine(line)
		}
		cmd.Wait()
		close(r.done)
	}()
	t.Cleanup(func() { r.kill() })
	select {
	case r.addr = <-listening:
	case <-r.done:
		t.Fatalf("receiver exited before listening:\n%s", r.stderr)
	case <-time.After(20 * time.Second):
		r.kill()
		t.Fatalf("receiver not listening after 20s:\n%s", r.stderr)
	}
	if r.addr != addr {
		t.Fatalf("receiver listens on %s, asked for %s", r.addr, addr)
	}
	return r
}

// kill ends the receiver at once, as a crash would; it is a no-op on an
// ended one.
func (r *receiver) kill() {
	select {
	case <-r.done:
		return
	default:
	}
	if err := r.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		r.t.Errorf("kill receiver: %v", err)
	}
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		r.t.Errorf("receiver still running 10s after SIGKILL")
	}
}

// stop ends the receiver cleanly and returns the counts it logged.
func (r *receiver) stop() string {
	r.t.Helper()
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		r.t.Errorf("stop receiver: %v", err)
	}
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		r.t.Errorf("receiver did not stop on SIGTERM:\n%s", r.stderr)
		r.kill()
	}
	for line := range strings.Lines(r.stderr.String()) {
		if _, after, ok := strings.Cut(line, "msg=stopped "); ok {
			return strings.TrimSpace(after)
		}
	}
	return "no summary"
}

// entry is one entry as the receiver decoded it.
// entry is one entry the receiver decoded.
type entry = forwardtest.Entry

// entryLog reads the receiver's output file as it grows.
type entryLog struct {
	path    string
	off     int64
	entries []entry
}

// poll reads the complete lines appended since the last call and returns
// every entry so far.
func (l *entryLog) poll(t testing.TB) []entry {
	t.Helper()
	f, err := os.Open(l.path)
	if errors.Is(err, os.ErrNotExist) {
		return l.entries
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.NewSectionReader(f, l.off, 1<<40))
	if err != nil {
		t.Fatal(err)
	}
	end := bytes.LastIndexByte(data, '\n') + 1
	for line := range bytes.Lines(data[:end]) {
		l.entries = append(l.entries, decodeEntry(t, line))
	}
	l.off += int64(end)
	return l.entries
}

// decodeEntry decodes one line. Numbers become int64 when written without
// a fraction or exponent and float64 otherwise, so that the msgpack types
// the agent sent show.
func decodeEntry(t testing.TB, line []byte) entry {
	e, err := forwardtest.DecodeEntry(line)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// lockedBuffer collects a process's standard error.
type lockedBuffer = forwardtest.LockedBuffer
