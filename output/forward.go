package output

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/socx/sharkfin/event"
	"github.com/tinylib/msgp/msgp"
)

var _ Sink = (*Forward)(nil)

// Forward sends events to a Fluentd forward-protocol receiver and waits for
// the acknowledgement of every message (see the package doc).
type Forward struct {
	ep        *endpoint
	closing   context.Context // done once Close was called
	interrupt context.CancelFunc

	mu     sync.Mutex // serializes Write and Close
	closed bool
	conn   *conn
	enc    encoder
}

// NewForward validates cfg and returns a sink that connects on its first
// Write. It reads cfg.CAFile but starts nothing.
func NewForward(cfg ForwardConfig) (*Forward, error) {
	ep, err := cfg.endpoint()
	if err != nil {
		return nil, fmt.Errorf("fluentd output: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Forward{ep: ep, closing: ctx, interrupt: cancel, enc: encoder{prefix: ep.tagPrefix}}, nil
}

// Write sends the batch and returns nil once every message of it was
// acknowledged. It gives up when ctx is done, when Close is called, or
// after the configured Timeout, dropping the connection; the next Write
// connects again.
func (f *Forward) Write(ctx context.Context, events []*event.Event) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return ErrClosed
	}
	if len(events) == 0 {
		return nil
	}
	msgs, err := f.enc.encode(events)
	if err != nil {
		return fmt.Errorf("forward to %s: %w", f.ep.display(), err)
	}

	ctx, cancel := context.WithTimeout(ctx, f.ep.timeout)
	defer cancel()
	stop := context.AfterFunc(f.closing, cancel)
	defer stop()

	if err := f.deliver(ctx, msgs); err != nil {
		f.disconnect(err)
		if f.closing.Err() != nil {
			err = ErrClosed
		}
		return fmt.Errorf("forward %d events to %s: %w", len(events), f.ep.display(), err)
	}
	return nil
}

// deliver sends the messages on the connection, dialing one if needed, and
// reads their acks.
func (f *Forward) deliver(ctx context.Context, msgs []*message) error {
	if f.conn != nil && !f.conn.alive() {
		f.disconnect(errPeerClosed)
	}
	if f.conn == nil {
		c, err := dial(ctx, f.ep)
		if err != nil {
			return err
		}
		f.ep.log.Debug("connected to fluentd", "address", f.ep.display())
		f.conn = c
	}
	c := f.conn
	stop := c.bound(ctx)
	defer stop()

	for _, m := range msgs {
		f.enc.writeTo(c.w, m)
	}
	if err := c.w.Flush(); err != nil {
		return c.fail(ctx, "send", err)
	}
	for waiting := len(msgs); waiting > 0; waiting-- {
		ack, err := readAck(c.r)
		if err != nil {
			return c.fail(ctx, fmt.Sprintf("await ack (%d of %d messages unacknowledged)", waiting, len(msgs)), err)
		}
		if !markAcked(msgs, ack) {
			return fmt.Errorf("receive ack: unexpected chunk id %q", ack)
		}
	}
	return nil
}

// maxChunkID is the longest chunk id an ack may carry: ours are 24 bytes
// (16 random bytes in base64).
const maxChunkID = 64

// readAck reads one ack, a map {"ack": chunk id} (other keys are
// skipped). fluent.AckResp.DecodeMsg allocated whatever length the peer
// claimed for the id, up to 4 GiB for ten bytes on the wire; an id longer
// than any sent is refused here before it is read.
func readAck(r *msgp.Reader) (string, error) {
	n, err := r.ReadMapHeader()
	if err != nil {
		return "", err
	}
	var id [maxChunkID]byte
	ack, found := "", false
	for range n {
		// The key by hand too: ReadMapKeyPtr grows the reader's buffer
		// to the length claimed.
		ks, err := r.ReadStringHeader()
		if err != nil {
			return "", err
		}
		var key [8]byte
		if ks > uint32(len(key)) {
			if _, err := r.R.Skip(int(ks)); err != nil {
				return "", err
			}
		} else if _, err := r.ReadFull(key[:ks]); err != nil {
			return "", err
		}
		if ks > uint32(len(key)) || string(key[:ks]) != "ack" {
			if err := r.Skip(); err != nil { // the value: Skip reads through, keeping nothing
				return "", err
			}
			continue
		}
		sz, err := r.ReadStringHeader()
		if err != nil {
			return "", err
		}
		if sz > maxChunkID {
			return "", fmt.Errorf("an ack's chunk id of %d bytes, longer than any sent (%d)", sz, maxChunkID)
		}
		if _, err := r.ReadFull(id[:sz]); err != nil {
			return "", err
		}
		ack, found = string(id[:sz]), true
	}
	if !found {
		return "", errors.New(`an ack without "ack"`)
	}
	return ack, nil
}

func markAcked(msgs []*message, chunk string) bool {
	for _, m := range msgs {
		if !m.acked && m.chunk == chunk {
			m.acked = true
			return true
		}
	}
	return false
}

// disconnect drops the connection, if any, after a failure.
func (f *Forward) disconnect(why error) {
	if f.conn == nil {
		return
	}
	f.ep.log.Debug("dropping fluentd connection", "address", f.ep.display(), "err", why)
	f.conn.nc.Close()
	f.conn = nil
}

// Close interrupts a Write in progress, closes the connection and makes
// later Writes fail with ErrClosed. It is safe to call more than once.
func (f *Forward) Close() error {
	f.interrupt()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	if f.conn != nil {
		f.conn.nc.Close()
		f.conn = nil
	}
	return nil
}
