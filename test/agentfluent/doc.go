// Package agentfluent holds the agent-level integration tests of delivery to
// Fluentd: the real sharkfin binary follows a log file written by the test
// and ships its events over the forward protocol to a real receiver (the
// OpenTelemetry Collector's fluentforward receiver, wrapped by the test-only
// module in ../forwardrecv), which the tests stop, crash, flap and put behind
// TLS. Every suite compares what the receiver decoded with the ground truth
// of the lines written: one ip_score event per source address and window,
// with the counts of the lines, de-duplicated by event_id, none missing.
//
// The package has no code of its own; the tests are in package
// agentfluent_test. They are skipped with -short. SHARKFIN_E2E_LONG=1 runs
// the longer variants (a 30 s outage, more events to flap and measure).
package agentfluent
