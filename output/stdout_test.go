package output

import (
	"bytes"
	"context"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/socx/sharkfin/event"
)

func TestStdout_WritesJSONLines(t *testing.T) {
	var buf bytes.Buffer
	s := NewStdout(&buf)
	events := sampleEvents()
	if err := s.Write(context.Background(), events[:2]); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(context.Background(), events[2:]); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != len(events) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(events), buf.String())
	}
	for i, e := range events {
		want, err := e.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		if lines[i] != string(want) {
			t.Errorf("line %d:\n got %s\nwant %s", i, lines[i], want)
		}
	}
}

func TestStdout_StopsCleanly(t *testing.T) {
	events := sampleEvents()
	bad := *events[1]
	bad.Type = "bogus"
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name      string
		ctx       context.Context
		events    []*event.Event
		want      error
		wantLines int
	}{
		{"bad event", context.Background(), []*event.Event{events[0], &bad, events[2]}, ErrBadEvent, 1},
		{"canceled", canceled, events, context.Canceled, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := NewStdout(&buf).Write(tt.ctx, tt.events)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Write: %v, want %v", err, tt.want)
			}
			whole := buf.Len() == 0 || strings.HasSuffix(buf.String(), "\n")
			if n := strings.Count(buf.String(), "\n"); n != tt.wantLines || !whole {
				t.Errorf("wrote %q, want %d whole lines", buf.String(), tt.wantLines)
			}
		})
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestStdout_ReportsWriteErrors(t *testing.T) {
	s := NewStdout(failingWriter{})
	if err := s.Write(context.Background(), sampleEvents()); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Write to a failing writer: %v", err)
	}
}

func TestStdout_WriteAfterClose(t *testing.T) {
	var buf bytes.Buffer
	s := NewStdout(&buf)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(context.Background(), sampleEvents()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Write after Close: %v, want ErrClosed", err)
	}
}

// A Write blocked on its writer (a pipe nobody reads) does not hold up
// Close, nor a later Write, which fails with ErrClosed.
func TestStdout_CloseDoesNotWaitForABlockedWrite(t *testing.T) {
	pr, pw := io.Pipe() // never read: the first write blocks
	defer pr.Close()
	s := NewStdout(pw)
	go s.Write(context.Background(), sampleEvents())
	closed := make(chan error, 2)
	go func() {
		for s.mu.TryLock() { // until the Write holds the lock (its flush blocks on the pipe)
			s.mu.Unlock()
			runtime.Gosched()
		}
		closed <- s.Close()
		closed <- s.Write(context.Background(), sampleEvents())
	}()
	for i, want := range []error{nil, ErrClosed} {
		select {
		case err := <-closed:
			if !errors.Is(err, want) && err != want {
				t.Fatalf("call %d: %v, want %v", i, err, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("call %d (Close, then Write) still blocked after 5s", i)
		}
	}
}

func BenchmarkStdout_Write(b *testing.B) {
	s := NewStdout(discard{})
	events := benchEvents(500)
	b.ReportAllocs()
	for n := 0; n < b.N; n += len(events) {
		if err := s.Write(context.Background(), events[:min(len(events), b.N-n)]); err != nil {
			b.Fatal(err)
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
