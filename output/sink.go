package output

import (
	"context"
	"errors"
	"fmt"

	"github.com/socx/sharkfin/event"
)

// Sink delivers batches of events.
type Sink interface {
	// Write delivers a batch of events. It returns nil only when every event
	// of the batch was accepted (for Fluentd: acknowledged). On error the
	// caller retries the whole batch later, so a batch that failed part way
	// may be delivered twice; the copies carry the same event_id. An error
	// matching ErrBadEvent (a *BadEventError) means the batch can never be
	// delivered as it is: the error names the event to set aside.
	// Write returns promptly once ctx is done. Write is not safe for
	// concurrent use; Close may be called concurrently and interrupts it.
	Write(ctx context.Context, events []*event.Event) error
	// Close releases the sink. It does not close what the sink writes to
	// when the sink did not open it.
	Close() error
}

// JSONSink is a Sink that can take events in their JSON encoding (as
// event.AppendJSON writes them), sparing the caller a decode. Same contract
// as Write.
type JSONSink interface {
	Sink
	WriteJSON(ctx context.Context, events [][]byte) error
}

var (
	// ErrBadEvent is wrapped by Write errors caused by an event that cannot
	// be encoded (unknown type, no window end, a kind unfit for a tag). No
	// retry will deliver it.
	ErrBadEvent = errors.New("event cannot be encoded")
	// ErrClosed is returned by Write after Close.
	ErrClosed = errors.New("sink closed")
)

// BadEventError reports the event of a batch that cannot be encoded.
// errors.Is(err, ErrBadEvent) holds for it.
type BadEventError struct {
	Index   int // in the batch
	EventID string
	Err     error
}

func (e *BadEventError) Error() string {
	return fmt.Sprintf("event %s (#%d of the batch) cannot be encoded: %v", e.EventID, e.Index, e.Err)
}

func (e *BadEventError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrBadEvent) true.
func (e *BadEventError) Is(target error) bool { return target == ErrBadEvent }
