// Package agent wires the tailer, the detectors, the state store and the
// outputs into the long-running sharkfin agent, and holds the pipeline that
// `sharkfin score` and `sharkfin train` run offline over whole files.
package agent
