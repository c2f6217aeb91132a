// Package agent wires the tailer, the detectors (through package pipeline),
// the state store and the outputs into the long-running sharkfin agent:
// configuration, lifecycle, commits, delivery and metrics.
package agent
