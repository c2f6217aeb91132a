package output

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/socx/sharkfin/event"
	"github.com/tinylib/msgp/msgp"
)

func newForward(t testing.TB, cfg ForwardConfig) *Forward {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	f, err := NewForward(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// checkDelivered asserts that the receiver got exactly the events, with
// every field equal to what was sent.
func checkDelivered(t *testing.T, got []entry, sent []*event.Event, prefix string) {
	t.Helper()
	if len(got) != len(sent) {
		t.Fatalf("receiver got %d entries, sent %d", len(got), len(sent))
	}
	byID := make(map[string]entry, len(got))
	for _, g := range got {
		byID[g.Record["event_id"].(string)] = g
	}
	for _, e := range sent {
		g, ok := byID[e.EventID]
		if !ok {
			t.Errorf("event %s (%s) not received", e.EventID, e.Type)
			continue
		}
		if want := prefix + "." + e.Kind + "." + e.Type; g.Tag != want {
			t.Errorf("event %s: tag %q, want %q", e.EventID, g.Tag, want)
		}
		if want := e.WindowEnd.UnixNano(); g.TimeNs != want {
			t.Errorf("event %s: time %d, want %d (window end %v)", e.EventID, g.TimeNs, want, e.WindowEnd)
		}
		want, err := e.Map()
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(g.Record, want) {
			t.Errorf("event %s: record\n got %#v\nwant %#v", e.EventID, g.Record, want)
		}
	}
}

func TestForward_RecordsArriveIntact(t *testing.T) {
	tests := []struct {
		name   string
		prefix string
	}{
		{"default prefix", ""},
		{"own prefix", "sec.node-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := startReceiver(t, "")
			f := newForward(t, ForwardConfig{Address: r.addr, TagPrefix: tt.prefix, Timeout: 10 * time.Second})
			sent := sampleEvents()
			if err := f.Write(context.Background(), sent); err != nil {
				t.Fatalf("Write: %v", err)
			}
			prefix := tt.prefix
			if prefix == "" {
				prefix = DefaultTagPrefix
			}
			checkDelivered(t, r.entries(), sent, prefix)
		})
	}
}

func TestForward_UnixSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "fluent.sock")
	r := startReceiver(t, "", "-listen", "unix://"+sock)
	if r.addr != "unix://"+sock {
		t.Fatalf("receiver listens on %q, want unix://%s", r.addr, sock)
	}
	f := newForward(t, ForwardConfig{Address: r.addr})
	sent := sampleEvents()
	for i := range 3 { // the connection is kept between writes
		if err := f.Write(context.Background(), sent[i:i+1]); err != nil {
			t.Fatalf("Write %d: %v", i, err)
		}
	}
	checkDelivered(t, r.entries(), sent[:3], DefaultTagPrefix)
}

func TestForward_EmptyBatch(t *testing.T) {
	f := newForward(t, ForwardConfig{Address: "127.0.0.1:1"}) // nothing listens there
	if err := f.Write(context.Background(), nil); err != nil {
		t.Fatalf("Write of no events: %v, want nil without connecting", err)
	}
}

func TestForward_BadEventIsPermanent(t *testing.T) {
	good := sampleEvents()[0]
	tests := []struct {
		name string
		edit func(e *event.Event)
	}{
		{"unknown type", func(e *event.Event) { e.Type = "bogus" }},
		{"no kind", func(e *event.Event) { e.Kind = "" }},
		{"kind unfit for a tag", func(e *event.Event) { e.Kind = "we b" }},
		{"no window end", func(e *event.Event) { e.WindowEnd = time.Time{} }},
		{"window end before 1970", func(e *event.Event) { e.WindowEnd = time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newForward(t, ForwardConfig{Address: "127.0.0.1:1"})
			bad := *good
			tt.edit(&bad)
			err := f.Write(context.Background(), []*event.Event{good, &bad})
			if !errors.Is(err, ErrBadEvent) {
				t.Fatalf("Write: %v, want ErrBadEvent", err)
			}
			var be *BadEventError
			if !errors.As(err, &be) || be.Index != 1 || be.EventID != bad.EventID {
				t.Fatalf("Write: %#v, want a *BadEventError for event #1 %s", err, bad.EventID)
			}
			if !strings.Contains(err.Error(), bad.EventID) {
				t.Errorf("error %q does not name event %s", err, bad.EventID)
			}
		})
	}
}

func TestForward_ReceiverDownThenBack(t *testing.T) {
	out := filepath.Join(t.TempDir(), "entries.jsonl")
	r := startReceiver(t, out)
	timeout := 2 * time.Second
	f := newForward(t, ForwardConfig{Address: r.addr, Timeout: timeout})
	ctx := context.Background()
	events := sampleEvents()
	if err := f.Write(ctx, events[:1]); err != nil {
		t.Fatalf("first Write: %v", err)
	}

	r.kill()
	for i := range 2 { // the dead connection, then a refused dial
		start := time.Now()
		err := f.Write(ctx, events[1:2])
		if err == nil {
			t.Fatalf("Write %d with the receiver down: nil error", i)
		}
		if d := time.Since(start); d > timeout {
			t.Errorf("Write %d with the receiver down took %v, want at most the timeout %v", i, d, timeout)
		}
		if !strings.Contains(err.Error(), r.addr) {
			t.Errorf("error %q does not name the address", err)
		}
	}

	r2 := startReceiver(t, out, "-listen", r.addr)
	if err := f.Write(ctx, events[1:]); err != nil {
		t.Fatalf("Write after the receiver came back: %v", err)
	}
	checkDelivered(t, r2.entries(), events, DefaultTagPrefix)
}

func TestForward_StalledReceiverTimesOut(t *testing.T) {
	r := startReceiver(t, "")
	timeout := 500 * time.Millisecond
	f := newForward(t, ForwardConfig{Address: r.addr, Timeout: timeout})
	events := sampleEvents()
	if err := f.Write(context.Background(), events[:1]); err != nil {
		t.Fatalf("first Write: %v", err)
	}
	r.signal(syscall.SIGSTOP) // connected, reads nothing, acks nothing
	start := time.Now()
	err := f.Write(context.Background(), events[1:])
	d := time.Since(start)
	r.signal(syscall.SIGCONT)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Write to a stalled receiver: %v, want a deadline error", err)
	}
	if d < timeout || d > timeout+time.Second {
		t.Errorf("Write to a stalled receiver returned after %v, want about %v", d, timeout)
	}
	// The receiver is alive again: the next Write goes through, on a new
	// connection.
	if err := f.Write(context.Background(), events[1:]); err != nil {
		t.Fatalf("Write after the stall: %v", err)
	}
}

func TestForward_Interrupted(t *testing.T) {
	tests := []struct {
		name      string
		interrupt func(cancel context.CancelFunc, f *Forward)
		want      error
	}{
		{"context canceled", func(cancel context.CancelFunc, _ *Forward) { cancel() }, context.Canceled},
		{"sink closed", func(_ context.CancelFunc, f *Forward) { f.Close() }, ErrClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := startReceiver(t, "")
			f := newForward(t, ForwardConfig{Address: r.addr, Timeout: time.Minute})
			events := sampleEvents()
			if err := f.Write(context.Background(), events[:1]); err != nil {
				t.Fatalf("first Write: %v", err)
			}
			r.signal(syscall.SIGSTOP)
			defer r.signal(syscall.SIGCONT)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			time.AfterFunc(100*time.Millisecond, func() { tt.interrupt(cancel, f) })
			start := time.Now()
			err := f.Write(ctx, events[1:])
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("Write returned %v after the interruption, want promptly", d)
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("interrupted Write: %v, want %v", err, tt.want)
			}
		})
	}
}

func TestForward_WriteAfterClose(t *testing.T) {
	f := newForward(t, ForwardConfig{Address: "127.0.0.1:1"})
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := f.Write(context.Background(), sampleEvents()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Write after Close: %v, want ErrClosed", err)
	}
}

func TestNewForward_Validates(t *testing.T) {
	ca := filepath.Join(t.TempDir(), "ca.pem")
	writeFile(t, ca, []byte("not a certificate\n"))
	tests := []struct {
		name string
		cfg  ForwardConfig
		want string // in the error
	}{
		{"no address", ForwardConfig{}, "want host:port"},
		{"no port", ForwardConfig{Address: "fluentd"}, "want host:port"},
		{"bad port", ForwardConfig{Address: "fluentd:http"}, "bad port"},
		{"port zero", ForwardConfig{Address: "fluentd:0"}, "bad port"},
		{"no host", ForwardConfig{Address: ":24224"}, "no host"},
		{"no socket path", ForwardConfig{Address: "unix://"}, "no socket path"},
		{"TLS on a socket", ForwardConfig{Address: "unix:///run/f.sock", TLS: true}, "TCP addresses only"},
		{"CA file without TLS", ForwardConfig{Address: "h:24224", CAFile: ca}, "needs TLS"},
		{"CA file missing", ForwardConfig{Address: "h:24224", TLS: true, CAFile: ca + ".missing"}, "ca.pem.missing"},
		{"CA file without PEM", ForwardConfig{Address: "h:24224", TLS: true, CAFile: ca}, "no PEM certificate"},
		{"bad tag prefix", ForwardConfig{Address: "h:24224", TagPrefix: "a..b"}, "empty tag part"},
		{"tag prefix with space", ForwardConfig{Address: "h:24224", TagPrefix: "a b"}, "not allowed"},
		{"negative timeout", ForwardConfig{Address: "h:24224", Timeout: -time.Second}, "timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewForward(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewForward(%+v): %v, want an error containing %q", tt.cfg, err, tt.want)
			}
		})
	}
	for _, addr := range []string{"127.0.0.1:24224", "[::1]:24224", "fluentd.example:24224", "unix:///run/fluent.sock"} {
		if _, err := NewForward(ForwardConfig{Address: addr}); err != nil {
			t.Errorf("NewForward(%q): %v", addr, err)
		}
	}
}

func TestForward_ReconnectsAfterReceiverRestart(t *testing.T) {
	out := filepath.Join(t.TempDir(), "entries.jsonl")
	r := startReceiver(t, out)
	f := newForward(t, ForwardConfig{Address: r.addr})
	events := sampleEvents()
	if err := f.Write(context.Background(), events[:2]); err != nil {
		t.Fatal(err)
	}
	r.stop()
	r = startReceiver(t, out, "-listen", r.addr)
	// The idle connection was closed by the old receiver: Write notices
	// before sending and dials again instead of failing.
	if err := f.Write(context.Background(), events[2:]); err != nil {
		t.Fatalf("first Write after a receiver restart: %v", err)
	}
	checkDelivered(t, r.entries(), events, DefaultTagPrefix)
}

// answerOnce runs a receiver on loopback that reads the first message of
// one connection and answers it with reply, then waits for the client to
// hang up; it returns its address.
func answerOnce(t *testing.T, reply []byte) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		c.Read(make([]byte, 64<<10))
		c.Write(reply)
		c.Read(make([]byte, 1)) // until the client hangs up
	}()
	return l.Addr().String()
}

// TestForward_RejectsStrangeAcks runs a receiver that answers every message
// with an ack for another chunk.
func TestForward_RejectsStrangeAcks(t *testing.T) {
	f := newForward(t, ForwardConfig{Address: answerOnce(t, msgp.AppendString(msgp.AppendString(msgp.AppendMapHeader(nil, 1), "ack"), "not-a-chunk-we-sent")), Timeout: 5 * time.Second})
	err := f.Write(context.Background(), sampleEvents()[:1])
	if err == nil || !strings.Contains(err.Error(), "not-a-chunk-we-sent") {
		t.Fatalf("Write answered by a wrong ack: %v, want an error naming it", err)
	}
}

// TestForward_HugeAckRefused runs a receiver whose ack claims a chunk id of
// 512 MiB in ten bytes: the Write fails at once, naming it, without
// allocating what the peer claimed (fluent.AckResp.DecodeMsg did).
func TestForward_HugeAckRefused(t *testing.T) {
	huge := []byte{0x81, 0xa3, 'a', 'c', 'k', 0xdb, 0x20, 0x00, 0x00, 0x00} // {"ack": str32 of 512 MiB}
	f := newForward(t, ForwardConfig{Address: answerOnce(t, huge), Timeout: 5 * time.Second})
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	err := f.Write(context.Background(), sampleEvents()[:1])
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "longer than any sent") {
		t.Errorf("Write answered by a 512 MiB ack: %v, want an error naming it", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 32<<20 {
		t.Errorf("the Write allocated %d MiB", grew>>20)
	}
}

func FuzzReadAck(f *testing.F) {
	f.Add(msgp.AppendString(msgp.AppendString(msgp.AppendMapHeader(nil, 1), "ack"), "Zm9vYmFyYmF6cXV4cXV1eA=="))
	f.Add(msgp.AppendString(msgp.AppendInt(msgp.AppendString(msgp.AppendMapHeader(nil, 2), "x"), 7), "ack"))
	f.Add([]byte{0x81, 0xa3, 'a', 'c', 'k', 0xdb, 0x20, 0x00, 0x00, 0x00})
	f.Add([]byte{0xdf, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		ack, err := readAck(msgp.NewReaderSize(bytes.NewReader(data), 512))
		if err == nil && len(ack) > maxChunkID {
			t.Fatalf("an ack of %d bytes read", len(ack))
		}
	})
}
