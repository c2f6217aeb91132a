package output

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/socx/sharkfin/event"
)

var _ Sink = (*Stdout)(nil)

// Stdout writes events as JSON lines, one per event, in the encoding of
// event.MarshalJSON (written by event.AppendJSON). Lines are buffered and flushed at the end of each Write,
// so a batch reaches the writer whole or Write returns the error.
type Stdout struct {
	mu     sync.Mutex
	w      *bufio.Writer
	line   []byte
	closed atomic.Bool // set by Close without mu: a Write may hold it, blocked on w
}

// NewStdout returns a sink writing to w (usually os.Stdout). Close does not
// close w.
func NewStdout(w io.Writer) *Stdout {
	return &Stdout{w: bufio.NewWriterSize(w, 64<<10)}
}

// Write encodes and writes the batch, then flushes. ctx is checked between
// events: once it is done, or an event cannot be encoded, the lines already
// encoded are flushed (a line is never cut) and the error returned. A write
// blocked on w is not interrupted (a reader of a pipe that stopped reading):
// Close does not wait for it, and the agent gives up waiting on stop (its
// events stay in the outbox).
func (s *Stdout) Write(ctx context.Context, events []*event.Event) error {
	if s.closed.Load() { // before waiting on a Write that may never return
		return ErrClosed
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return ErrClosed
	}
	err := s.encode(ctx, events)
	if ferr := s.w.Flush(); ferr != nil {
		return fmt.Errorf("write events: %w", ferr)
	}
	return err
}

func (s *Stdout) encode(ctx context.Context, events []*event.Event) error {
	for i, e := range events {
		if err := ctx.Err(); err != nil {
			return err
		}
		b, err := e.AppendJSON(s.line[:0])
		if err != nil {
			return &BadEventError{Index: i, EventID: e.EventID, Err: err}
		}
		s.line = append(b, '\n')
		s.w.Write(s.line) // errors stick in s.w; Flush reports them
	}
	return nil
}

// Close marks the sink closed: later Writes fail with ErrClosed. It does
// not wait for a Write in progress. What Write returned nil for was
// flushed.
func (s *Stdout) Close() error {
	s.closed.Store(true)
	return nil
}

var _ JSONSink = (*Stdout)(nil)

// WriteJSON writes events already encoded as JSON (one object each, as
// event.AppendJSON writes them), one per line, then flushes: the agent's
// outbox holds that encoding, so stdout needs no decode and re-encode.
func (s *Stdout) WriteJSON(ctx context.Context, events [][]byte) error {
	if s.closed.Load() { // before waiting on a Write that may never return
		return ErrClosed
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return ErrClosed
	}
	var err error
	for _, e := range events {
		if err = ctx.Err(); err != nil {
			break
		}
		s.w.Write(e)
		s.w.WriteByte('\n')
	}
	if ferr := s.w.Flush(); ferr != nil {
		return fmt.Errorf("write events: %w", ferr)
	}
	return err
}
