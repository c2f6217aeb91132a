package agentfluent_test

import (
	"github.com/socx/sharkfin/internal/forwardtest"

	"bytes"
	"errors"
	"io"
	"os"
	"testing"
)

// receiver is one forwardrecv process. Every process of a test appends
// its decoded entries to the same file, so a receiver restarted on the
// same address continues the record of the previous one.
type receiver struct{ *forwardtest.Receiver }

// startReceiver runs forwardrecv on addr (host:port) with extra flags,
// appending to out, and waits until it listens.
func startReceiver(t testing.TB, addr, out string, flags ...string) *receiver {
	t.Helper()
	return &receiver{forwardtest.Start(t, bins.receiver, addr, out, flags...)}
}

// kill ends the receiver at once, as a crash would.
func (r *receiver) kill() { r.Kill() }

// stop ends the receiver cleanly and returns the counts it logged.
func (r *receiver) stop() string { return r.Stop() }

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
