package output

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/fluent/fluent-logger-golang/fluent"
	"github.com/socx/sharkfin/event"
)

// benchEvents returns n distinct events of the long sequence.
func benchEvents(n int) []*event.Event {
	events := make([]*event.Event, n)
	for i := range events {
		events[i] = seqEvent(i, 1000)
	}
	return events
}

// BenchmarkForward_Write measures events/s delivered and acknowledged over
// loopback by the real receiver (writing to /dev/null), by batch size. One
// op is one event.
func BenchmarkForward_Write(b *testing.B) {
	for _, size := range []int{1, 50, 500, 5000} {
		b.Run("batch="+strconv.Itoa(size), func(b *testing.B) {
			r := startReceiver(b, "/dev/null")
			f := newForward(b, ForwardConfig{Address: r.addr, Timeout: 30 * time.Second})
			events := benchEvents(size)
			ctx := context.Background()
			if err := f.Write(ctx, events); err != nil { // connect
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for n := 0; n < b.N; n += size {
				if err := f.Write(ctx, events[:min(size, b.N-n)]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
		})
	}
}

// BenchmarkLibrary_PostWithTime measures fluent-logger-golang's own
// transport in its only lossless mode, synchronous with RequestAck: one
// event and one round trip per PostWithTime. One op is one event.
func BenchmarkLibrary_PostWithTime(b *testing.B) {
	r := startReceiver(b, "/dev/null")
	host, port, err := net.SplitHostPort(r.addr)
	if err != nil {
		b.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	lib, err := fluent.New(fluent.Config{
		FluentHost: host, FluentPort: p, RequestAck: true, SubSecondPrecision: true,
		MaxRetry: 1, Timeout: 30 * time.Second, ReadTimeout: 30 * time.Second, TagPrefix: DefaultTagPrefix,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer lib.Close()
	events := benchEvents(1000)
	recs := make([]map[string]any, len(events))
	for i, e := range events {
		if recs[i], err = e.Map(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		e := events[i%len(events)]
		if err := lib.PostWithTime(e.Kind+"."+e.Type, e.WindowEnd, recs[i%len(recs)]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}

// BenchmarkEncoder_Encode measures encoding alone: event.Map and msgpack.
// One op is one event.
func BenchmarkEncoder_Encode(b *testing.B) {
	events := benchEvents(500)
	enc := encoder{prefix: DefaultTagPrefix}
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; n += len(events) {
		if _, err := enc.encode(events[:min(len(events), b.N-n)]); err != nil {
			b.Fatal(err)
		}
	}
}
