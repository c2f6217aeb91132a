package output

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"math"

	"github.com/fluent/fluent-logger-golang/fluent"
	"github.com/socx/sharkfin/event"
	"github.com/tinylib/msgp/msgp"
)

// maxMessageBytes caps the encoded entries of one Forward-mode message; a
// larger batch of one tag goes as several messages.
const maxMessageBytes = 1 << 20

// message is one Forward-mode message of the forward protocol:
//
//	[tag, [[EventTime, record], ...], {"chunk": id, "size": n}]
type message struct {
	kind, typ string
	tag       string
	entries   []byte // the encoded [time, record] pairs
	n         int
	chunk     string
	acked     bool
	full      bool
}

// encoder turns a batch of events into messages, one or more per tag in
// the order of the tags' first events. Its buffers are reused from batch to
// batch. An encoder is not safe for concurrent use.
type encoder struct {
	prefix string
	msgs   []*message // the current batch
	spare  []*message // reusable
	et     fluent.EventTime
	head   []byte
}

// encode encodes a batch. The messages are valid until the next call.
func (enc *encoder) encode(events []*event.Event) ([]*message, error) {
	enc.spare = append(enc.spare, enc.msgs...)
	clear(enc.msgs)
	enc.msgs = enc.msgs[:0]
	for i, e := range events {
		if err := enc.add(e); err != nil {
			return nil, &BadEventError{Index: i, EventID: e.EventID, Err: err}
		}
	}
	for _, m := range enc.msgs {
		m.tag = enc.prefix + "." + m.kind + "." + m.typ
		m.chunk = newChunkID()
	}
	return enc.msgs, nil
}

func (enc *encoder) add(e *event.Event) error {
	if err := checkTagPart(e.Kind); err != nil {
		return fmt.Errorf("kind %q: %w", e.Kind, err)
	}
	if err := checkTagPart(e.Type); err != nil {
		return fmt.Errorf("type %q: %w", e.Type, err)
	}
	t := e.WindowEnd
	if t.IsZero() {
		return fmt.Errorf("no window end for the event time")
	}
	if s := t.Unix(); s < 0 || s > math.MaxUint32 {
		return fmt.Errorf("window end %v out of the range of an EventTime", t)
	}
	rec, err := e.Map()
	if err != nil {
		return err
	}

	m := enc.open(e.Kind, e.Type)
	start := len(m.entries)
	m.entries = append(m.entries, 0x92) // fixarray of 2: [time, record]
	enc.et = fluent.EventTime(t)
	if m.entries, err = msgp.AppendExtension(m.entries, &enc.et); err == nil {
		m.entries, err = msgp.AppendMapStrIntf(m.entries, rec)
	}
	if err != nil {
		m.entries = m.entries[:start]
		return err
	}
	m.n++
	m.full = len(m.entries) >= maxMessageBytes
	return nil
}

// open returns the message taking entries of this kind and type, starting
// one when there is none or it is full.
func (enc *encoder) open(kind, typ string) *message {
	for i := len(enc.msgs) - 1; i >= 0; i-- {
		if m := enc.msgs[i]; m.kind == kind && m.typ == typ {
			if m.full {
				break
			}
			return m
		}
	}
	var m *message
	if n := len(enc.spare); n > 0 {
		m, enc.spare = enc.spare[n-1], enc.spare[:n-1]
		*m = message{entries: m.entries[:0]}
	} else {
		m = &message{}
	}
	m.kind, m.typ = kind, typ
	enc.msgs = append(enc.msgs, m)
	return m
}

// writeTo writes the message to w.
func (enc *encoder) writeTo(w *bufio.Writer, m *message) {
	b := append(enc.head[:0], 0x93) // fixarray of 3: [tag, entries, option]
	b = msgp.AppendString(b, m.tag)
	b = msgp.AppendArrayHeader(b, uint32(m.n))
	w.Write(b)
	w.Write(m.entries)
	b = msgp.AppendMapHeader(b[:0], 2)
	b = msgp.AppendString(b, "chunk")
	b = msgp.AppendString(b, m.chunk)
	b = msgp.AppendString(b, "size")
	b = msgp.AppendInt(b, m.n)
	w.Write(b)
	enc.head = b
}

// newChunkID returns a unique chunk id: 128 random bits in base64, as
// Fluentd's out_forward makes them.
func newChunkID() string {
	var id [16]byte
	rand.Read(id[:])
	return base64.StdEncoding.EncodeToString(id[:])
}
