// Package pipeline is the code path from a parsed line to a scored event
// that the agent and the offline commands share: a Pipeline parses lines,
// counts them into event-time windows (package detect) and scores each
// closed key with the input's model (Scoring), so that `sharkfin score`
// gives the events the agent would have given for the same lines.
//
// The offline readers (ReadAll, ReadBytes; used by `sharkfin score` and
// `sharkfin train`, not by the daemon) read whole files in chunks that a
// worker per CPU splits and parses in parallel, while the calling goroutine
// counts them in order; with an Encoder set, closed keys are scored and
// rendered by workers too, and written in order.
package pipeline
