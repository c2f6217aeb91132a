// Package output ships events to where they are read: Stdout writes JSON
// lines, Forward sends them to Fluentd (or anything speaking its forward
// protocol) and returns only once every event was acknowledged.
//
// A Sink does not keep events: the caller's durable outbox does. The caller
// passes a batch to Write, deletes it from the outbox when Write returns nil,
// and otherwise retries the whole batch later, waiting as its Backoff says.
// A batch that failed part way may thus be delivered twice; every copy
// carries the same event_id, which downstream uses to de-duplicate.
//
// Forward sends each batch as Forward-mode messages, one per tag (at most
// 1 MiB of entries each), every message with its own `chunk` id, and waits
// for all the acks. Entries carry the window end as an EventTime with
// nanoseconds, and the record is event.Map(). It connects lazily, keeps the
// connection across writes, checks that an idle connection is still open
// before using it, and drops it on any error; the next Write dials again.
//
// Why not the transport of github.com/fluent/fluent-logger-golang (v1.10.2):
// its synchronous mode with RequestAck sends one event per round trip
// (about 7,000 events/s over loopback to the test receiver, against about
// 40,000 for Forward with batches of 500; see bench_test.go); its
// asynchronous mode drops events once its retries run out; it takes no
// context, dials in its constructor, and its TLS mode trusts only the
// system roots (no CA file; SSL_CERT_FILE would work only by changing the
// roots of the whole process). Forward uses the library's protocol type
// EventTime for the entry time and its msgpack library, on a connection of
// its own. Acks are read by readAck, not AckResp.DecodeMsg: that allocates
// whatever length the peer claims for the chunk id (512 MiB for ten bytes
// on the wire).
package output
