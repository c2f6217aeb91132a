package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

const tagAttribute = "fluent.tag" // where the collector keeps the tag

var (
	errFlap     = errors.New("flap: chunk refused")
	errDropAcks = errors.New("chunk stored, ack withheld")
)

// sink is the collector's consumer: it writes entries as JSON lines and
// injects faults. Returning an error makes the collector close the client's
// connection without an ack.
type sink struct {
	mu       sync.Mutex
	w        io.Writer
	buf      []byte // a batch's lines, written at once
	rng      *rand.Rand
	flap     int // mean entries between refusals; 0 never
	untilRef int // entries left before the next refusal
	dropAcks float64

	entries, refused, unacked int
}

func newSink(w io.Writer, flap int, dropAcks float64, rng *rand.Rand) *sink {
	s := &sink{w: w, rng: rng, flap: flap, dropAcks: dropAcks}
	s.untilRef = s.nextRefusal()
	return s
}

func (s *sink) nextRefusal() int {
	if s.flap == 0 {
		return math.MaxInt
	}
	return 1 + s.rng.IntN(2*s.flap)
}

func (s *sink) consume(_ context.Context, ld plog.Logs) error {
	s.mu.Lock()
	defer s.mu.Unlock()

	n := ld.LogRecordCount()
	s.untilRef -= n
	if s.untilRef <= 0 {
		s.untilRef = s.nextRefusal()
		s.refused++
		return errFlap
	}
	// One write for the whole batch: a receiver killed (as tests kill it)
	// between two writes of a buffered writer left half a line, which the
	// next receiver on the same file appended to.
	s.buf = s.buf[:0]
	for _, rl := range ld.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				s.buf = appendEntry(s.buf, lr)
			}
		}
	}
	if _, err := s.w.Write(s.buf); err != nil {
		return err
	}
	s.entries += n
	if s.dropAcks > 0 && s.rng.Float64() < s.dropAcks {
		s.unacked++
		return errDropAcks
	}
	return nil
}

// appendEntry writes one entry as a JSON line.
func appendEntry(b []byte, lr plog.LogRecord) []byte {
	tag, _ := lr.Attributes().Get(tagAttribute)
	b = append(b, `{"tag":`...)
	b = appendString(b, tag.Str())
	b = append(b, `,"time_ns":`...)
	b = strconv.AppendInt(b, lr.Timestamp().AsTime().UnixNano(), 10)
	b = append(b, `,"record":{`...)
	first := true
	if lr.Body().Type() != pcommon.ValueTypeEmpty {
		b = appendString(b, "message")
		b = append(b, ':')
		b = appendValue(b, lr.Body())
		first = false
	}
	for k, v := range lr.Attributes().All() {
		if k == tagAttribute {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendString(b, k)
		b = append(b, ':')
		b = appendValue(b, v)
	}
	return append(b, "}}\n"...)
}

func appendValue(b []byte, v pcommon.Value) []byte {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return appendString(b, v.Str())
	case pcommon.ValueTypeInt:
		return strconv.AppendInt(b, v.Int(), 10)
	case pcommon.ValueTypeDouble:
		return appendFloat(b, v.Double())
	case pcommon.ValueTypeBool:
		return strconv.AppendBool(b, v.Bool())
	case pcommon.ValueTypeBytes:
		return appendString(b, base64.StdEncoding.EncodeToString(v.Bytes().AsRaw()))
	case pcommon.ValueTypeMap:
		b = append(b, '{')
		i := 0
		for k, x := range v.Map().All() {
			if i > 0 {
				b = append(b, ',')
			}
			i++
			b = appendString(b, k)
			b = append(b, ':')
			b = appendValue(b, x)
		}
		return append(b, '}')
	case pcommon.ValueTypeSlice:
		b = append(b, '[')
		for i, x := range v.Slice().All() {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendValue(b, x)
		}
		return append(b, ']')
	}
	return append(b, "null"...)
}

// appendFloat writes a float so that it always reads back as one: with a
// fraction or an exponent.
func appendFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return appendString(b, strconv.FormatFloat(f, 'g', -1, 64))
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	b = append(b, s...)
	if !strings.ContainsAny(s, ".e") {
		b = append(b, ".0"...)
	}
	return b
}

func appendString(b []byte, s string) []byte {
	q, _ := json.Marshal(s)
	return append(b, q...)
}
