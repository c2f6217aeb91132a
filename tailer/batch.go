package tailer

import "sync/atomic"

// Checkpoint is the persisted position in one file.
type Checkpoint struct {
	// Path is the name the file was last followed under.
	Path string
	// ID is the file's identity when the checkpoint was taken.
	ID FileID
	// Offset is just past the last delivered complete line.
	Offset int64
}

// Batch is a run of complete lines read from one file.
//
// The consumer processes the lines, persists Checkpoints (atomically with
// whatever it derived from the lines), then calls Done. Batches must be
// released in the order they came: the tailer has at most three out (it
// reads ahead while the consumer handles the first) and reuses the memory
// of a batch's Lines and Checkpoints once it is released.
type Batch struct {
	// Input is Config.Name.
	Input string
	// Path and ID name the file the lines come from.
	Path string
	ID   FileID
	// Lines are the complete lines, without '\n', in file order; they may
	// be empty when only skipped lines advanced the offset. They are valid
	// until Done.
	Lines [][]byte
	// EndOffset is the offset just after the last line.
	EndOffset int64
	// Checkpoints is the complete state of this input after this batch:
	// replace the previously persisted set with it. It includes this
	// file's new offset and every identity change (rotation, truncation,
	// files dropped after deletion).
	Checkpoints []Checkpoint

	seq  uint64
	ack  chan<- uint64
	done atomic.Bool
}

// Done releases the batch, and every batch before it. Call it once, after
// persisting Checkpoints (or copying them and the lines); later calls do
// nothing.
func (b *Batch) Done() {
	if !b.done.CompareAndSwap(false, true) {
		return
	}
	select {
	case b.ack <- b.seq:
	default: // the tailer has stopped; nobody waits
	}
}
