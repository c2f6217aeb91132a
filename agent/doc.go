// Package agent wires the tailer, the detectors (through package pipeline),
// the state store and the outputs into the long-running sharkfin agent:
// configuration, lifecycle, commits, delivery and metrics.
//
// # Service manager
//
// Under systemd (Type=notify) the agent sends READY=1 once every input has
// taken its start position; on SIGHUP, RELOADING=1 (with MONOTONIC_USEC)
// before it re-reads the configuration and READY=1 after; on SIGTERM,
// STOPPING=1 at once, and nothing after it.
//
// With WatchdogSec (WATCHDOG_USEC, Options.Watchdog) the main loop itself
// sends WATCHDOG=1 every quarter of the interval, from its own select: no timer
// goroutine pings for a loop that is stuck. It also stops pinging once the
// committer has held a cut for more than half the interval (a hung disk),
// even while the loop still counts lines, so the manager restarts an agent
// that no longer commits; the pings resume when the cut is written.
package agent
