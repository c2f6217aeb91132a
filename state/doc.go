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
// # Layout (schema version 3)
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
//	                "history.<kind>.newest"  u64: newest window start applied
//	                "history.<kind>.sweep"   the index key the retention
//	                               sweep is past
//	                "cache.sweep.<name>"     the same, for a cache
//	checkpoints     dev u64 | ino u64 | input name
//	                -> 1 | fingerprint u64 | fingerprint len uvarint |
//	                   offset uvarint | updated Unix ns varint (0 = zero) |
//	                   path len uvarint | path
//	windows         key as given -> accumulator blob as given
//	windows.closing key as given -> blob as given (written once, deleted
//	                once: kept apart from windows, which every commit
//	                rewrites)
//	outbox          last seq u64 -> segment: uvarint count, then per event
//	                uvarint length + the encoded event (a commit's events
//	                in segments of up to 512 events and 2,000 bytes, or one
//	                longer event; sequence numbers are per event; pages
//	                filled 100%). The state package
//	                does not read events; the agent's are JSON objects or
//	                packed ip_score records (event.Packed)
//	outbox.contexts id u64 -> a value the outbox events refer to by id
//	                (the agent's: event.Context); written by each commit
//	                whose events use it, all dropped when the outbox
//	                empties (new in version 2)
//	history.<kind>.segments   (kind: ip or domain)
//	                window start u64 (Unix s) | seq u64 -> segment
//	history.<kind>.unfolded   segment key -> entries uvarint
//	history.<kind>  key -> totals (the per-key index)
//	horizon/<input> "T" | chunk u64 -> horizon record: the table, every
//	                entry in key order, in records of at most 2,000 bytes
//	                (earlier agents: one value, "t", still read)
//	                "d" | seq u64 -> horizon record: the changes of a commit,
//	                in records of at most 2,000 bytes, folded into a new table
//	                once they outgrow twice it
//	                "n"            u64: the bytes of the "d" records
//	                (horizon.go; a record is its version 2, then per
//	                client its key u64 and 0 | last window u64 | 6 float32
//	                sums | 4 uint16 recent rare-error paths, or 1 to delete
//	                it; version 1, of earlier agents: 4 sums, no paths)
//	cache/<name>    key -> 1 | expires Unix ns u64 (0 = never) | value
//	seen.domain     destination -> 1 | first window u64 | last window u64
//	                (Unix s): the destinations this node has counted, for
//	                the `new` of domain events; written with the counts
//	                that made them; swept (meta seen.domain.sweep) once
//	                older than Options.SeenRetention before the newest
//	                domain window applied. Added without a schema change:
//	                Open creates it in an older file
//
// Segments, totals:
//
//	segment 1 | n (3-byte varint) |
//	        n × ( shared uvarint | suffix len uvarint | suffix |
//	              hits<<1|anomalous uvarint | bytes uvarint )
//	totals  1 | first uvarint | last-first uvarint | hits uvarint |
//	        bytes uvarint | windows uvarint | anomalies uvarint
//
// A segment holds the counts of one window for up to 4096 keys and 2,000
// bytes (about 180 keys), in key order, each key stored as the length
// of the prefix it shares with the previous one and the rest (IP
// addresses of one window share most of theirs): about 11 bytes an entry.
//
// # History: why segments
//
// The history must take a commit of 16,384 windows of distinct keys (a
// cut of a catch-up on an edge server's log at detect.close_batch 16,384;
// the default is 4,096) in time that does not grow
// with the keys already held, and forget what is older than the retention
// without a transaction that deletes a day at once. bbolt, a B+tree whose
// nodes are split only when a transaction commits, makes an insert into a
// node shift the node's entries: many new keys in random order in one
// transaction are quadratic, and so is a read-modify-write of a record per
// key and window (schema 2 kept hour||key chunks and rewrote them with
// every window: a day of 100,000 clients took its first commit 130 s).
//
// So a commit writes each window's counts as segments whose keys start
// with the window start: they are appended at the tree's right edge (fill
// 100%), one Put per segment, nothing read. With each segment goes a
// marker in history.<kind>.unfolded, in the same transaction: offsets,
// open windows, the events of closed windows and their history stay one
// atomic commit, exactly once.
//
// The per-key index (first and last seen, totals) is folded from the
// segments by Maintain, in transactions of their own: each takes the
// oldest markers, sums their entries per key in memory (at most 16,384
// keys and 262,144 entries), reads and writes those keys in key order and
// deletes the markers, atomically: a segment is folded exactly once, and
// a crash between folds leaves markers that the next fold takes. During a
// catch-up the index lags (the agent folds after a commit only once the
// backlog passes 2^20 entries, about 11 MiB of segments, or segments are
// past the retention, and otherwise when idle) and folds a key's windows
// of many commits in one write. History and Top add the unfolded entries to what the index says,
// so they are exact whatever the lag.
//
// # Retention
//
// Retention runs by event time: the horizon of a kind is its newest window
// applied less Options.Retention, so that a replay of old logs keeps one
// retention of history, not all of it. Each Maintain deletes up to 512
// segments older than the horizon from the front of the segment bucket
// (folded ones only: an unfolded one is folded first, oldest first), and
// sweeps the index from where the last sweep stopped, twice as many keys
// as the fold wrote (4096 at least), deleting the keys last seen before
// the horizon; the sweep wraps around, so every key is looked at once per
// round. Until a round has passed the horizon (SweepPending), Maintain
// reports more work, so an idle agent sweeps on; while lines flow the
// sweep keeps the folds' pace (with commits of 4,096 keys, an index of
// 150,000 kept about 49,000 keys past the horizon once the folds were
// done). Caches are swept the same way, by their expiry on the wall clock.
// No maintenance transaction grows with the history: the file keeps about
// one retention of segments and the keys seen within it, and bbolt reuses
// the pages freed (the file itself never shrinks).
//
// # Values and free pages
//
// bbolt keeps a value whole on consecutive pages, and a commit that finds
// no free run as long as one it writes grows the file, however much is
// free in shorter runs; the pages a retention frees, a leaf here and
// there, are such short runs. So no value the store sizes itself is over
// 2,000 bytes (outbox segments, history segments, horizon records: two of
// them and their keys fill a 4 KiB page; an outbox event longer than that
// is a value of its own), and the free list, one value that grows
// with the free pages, is not written at all: bbolt rebuilds it at Open
// from the pages in use (NoFreelistSync, as etcd runs it; Open checks
// the pages first, checkPages, since bbolt's rebuild crashes on a damaged
// one). Close writes it once, for an earlier sharkfin, which would
// otherwise write it on opening the file, even one it refuses. A catch-up of 12 days of 100,000 clients a day left the file at
// 39-41 MiB with up to 16 MiB of it free, and 53.7 MiB at 24 days, when segments were up to
// 256 KiB and the horizon table one value; now the file holds what is in
// use at the peak of a commit: the index, a fold's copy of it (a fold
// rewrites most of the index's leaves), and the backlogs of unfolded
// segments and unsent events, none of which grows with the days read.
//
// A key's Windows and Anomalies count its window entries: one per input
// and window (the agent gives a key one update per window of an input; a
// key seen on two inputs in one window counts twice). History.Recent sums
// the entries of one window.
package state
