// Package detect turns parsed records into per-key feature vectors over
// tumbling event-time windows and scores them against a K-Means model.
//
// Everything here is pure computation: no files, no bbolt, no network. The
// agent and the offline `sharkfin score` command drive the same code. Two
// pieces of state beyond a window feed a web client's features: the
// model's path vocabulary (vocab.go: what the site serves, for the rare_
// features) and the client's decayed recent failures (horizon.go: the
// hour_ and day_ features), which the agent stores with each commit.
//
// Hot path: Aggregator.Add is called once per log line and allocates
// nothing in steady state (new keys and new windows allocate; lines do not).
// Scorer.Score is called once per key and window and allocates nothing.
package detect
