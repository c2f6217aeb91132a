// Package state is the agent's durable store: one bbolt file
// (go.etcd.io/bbolt) holding file checkpoints, open-window accumulators, the
// outbox of events not yet acknowledged downstream, per-IP and per-domain
// history, and an enrichment cache.
//
// # Contract
//
// The agent reads a batch of lines, updates its windows in memory, and
// commits at most every second (or every N lines) with one call to
// Store.Apply: the checkpoints it reached, the accumulators of the windows
// still open, the events of the windows it closed, and their history. Apply
// is one bbolt write transaction, fsynced before it returns, so after a
// crash the agent restarts from Checkpoints and Windows exactly where the
// last Apply left it: no line is lost or counted twice, no event is emitted
// twice or dropped.
//
// The sender goroutine reads the outbox in order with Store.OutboxRead and
// removes what the receiver acknowledged with Store.OutboxDelete. Events
// are numbered by a sequence that only grows (bbolt's NextSequence), also
// across restarts, so the sender can resume after the last number it read.
//
// One process writes a file at a time: Open takes an exclusive flock and
// fails after Options.Timeout with an error matching ErrLocked, naming the
// holder's pid where /proc/locks tells it. OpenReadOnly gives the `sharkfin
// state` command a consistent view while the agent runs, from a copy,
// without ever taking a lock the agent could wait on.
//
// A file that is not a bbolt database, is truncated, or fails the
// consistency check at Open is renamed to <path>.corrupt-<unix time> and
// replaced by an empty one (Store.Recovered says so), so the agent starts
// instead of crash-looping; it loses its state, not its ability to run.
//
// # Layout (schema version 2)
//
// Integers in keys are big-endian so that byte order is numeric order.
// Values start with a version byte; varints are encoding/binary's.
//
//	meta            "schema"       uint32: SchemaVersion
//	                "created"      int64: Unix ns when the file was made
//	                "retention"    int64: Options.Retention (ns) of the last
//	                               Open, for snapshot readers
//	                "outbox.count" uint64: events in the outbox
//	                "outbox.bytes" uint64: their total size, kept by the
//	                               same transactions as the outbox
//	checkpoints     dev u64 | ino u64 | input name
//	                -> 1 | fingerprint u64 | fingerprint len uvarint |
//	                   offset uvarint | updated Unix ns varint (0 = zero) |
//	                   path len uvarint | path
//	windows         key as given -> accumulator blob as given
//	windows.closing key as given -> blob as given (written once, deleted
//	                once: kept apart from windows, which every commit
//	                rewrites)
//	outbox          last seq u64 -> segment: uvarint count, then per event
//	                uvarint length + the encoded event (one segment per
//	                commit, split at 512 events or 256 KiB; sequence numbers
//	                are per event; pages filled 100%). The state package
//	                does not read events; the agent's are JSON objects or
//	                packed ip_score records (event.Packed)
//	outbox.contexts id u64 -> a value the outbox events refer to by id
//	                (the agent's: event.Context); written by each commit
//	                whose events use it, all dropped when the outbox
//	                empties (new in version 2)
//	history.ip      IP -> totals
//	history.domain  domain -> totals
//	history.ip.windows, history.domain.windows
//	                hour u32 | key -> chunk (hour = Unix seconds / 3600)
//	cache/<name>    key -> 1 | expires Unix ns u64 (0 = never) | value
//
// Totals and chunks (times are Unix seconds of window starts):
//
//	totals  1 | first uvarint | last-first uvarint | hits uvarint |
//	        bytes uvarint | windows uvarint | anomalies uvarint
//	chunk   1 | n uvarint |
//	        n × ( start-previous uvarint | hits<<1|anomalous uvarint |
//	              bytes uvarint )
//
// where "previous" is the start of the hour for the first window. Chunks
// are keyed hour first: the updates of one window all fall in one hour, so
// a commit rewrites the adjacent chunks of the current hour rather than a
// page per key (500 updates against a full day of history: ~12 ms with
// fsync, against ~100 ms for one record per key holding every window);
// History reads one chunk per hour retained, and expiry deletes a prefix. A window takes about 6 bytes in its chunk.
// Apply drops the chunks of hours wholly older than Options.Retention
// before the newest window it applies; Prune drops keys and windows older
// than its retention on the wall clock.
package state
