package agent

import (
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// notify sends state to the service manager (Options.Notify). Nothing
// follows STOPPING=1: a reload's READY=1 or a watchdog ping racing the stop
// would otherwise tell the manager the agent runs on.
func (a *Agent) notify(state string) {
	a.notifyMu.Lock()
	defer a.notifyMu.Unlock()
	if a.stopping {
		return
	}
	a.stopping = state == "STOPPING=1"
	a.opt.Notify(state)
}

// reloadingState is RELOADING=1 with the time of the reload on
// CLOCK_MONOTONIC, which systemd 253 and later require for
// Type=notify-reload (and Type=notify ignores).
func reloadingState() string {
	s := "RELOADING=1"
	if m := strings.TrimSuffix(daemon.SdNotifyMonotonicUsec(), "\n"); m != "" {
		s += "\n" + m
	}
	return s
}

// pingsPerWatchdog is how many WATCHDOG=1 the main loop sends per
// watchdog interval while healthy. Pings are withheld once a commit has
// been in flight for half the interval, so four leave a quarter of the
// interval between the last ping and systemd's deadline even when the
// first withheld one would have been sent just before the hang was seen.
const pingsPerWatchdog = 4

// watchdog pings the service manager's watchdog (WATCHDOG=1); the main loop
// calls it every quarter of Options.Watchdog, so a loop that is stuck sends
// nothing. Nor does it ping while the committer has held the last cut for
// more than half the interval (a hung disk): the loop may count on for a
// while, but nothing it counts is committed, and once the cut grows past
// its bound (maxPendingFlushes) or a window closes in several commits
// (detect.close_batch), it waits for the committer too. The pings resume
// when the cut is written.
func (a *Agent) watchdog(now time.Time) {
	writing := len(a.commitIdle) == 0 // the committer gives its token back once it has written the cut
	if stuck := now.Sub(a.commitHanded); writing && stuck > a.opt.Watchdog/2 {
		if !a.withheld {
			a.withheld = true
			a.log.Warn("a commit has not been written for half the watchdog interval: watchdog pings withheld (is the state's disk hung?)",
				"commit_age", stuck.Round(time.Millisecond), "watchdog", a.opt.Watchdog, "state", a.cfg.State.Path)
		}
		return
	}
	if a.withheld {
		a.withheld = false
		a.log.Info("commits written again: watchdog pings resumed")
	}
	a.lastPing = now
	a.notify("WATCHDOG=1")
}

// maybePing pings when a ping is due, for stretches of the main loop that
// do not return to its select (a close spread over several commits).
func (a *Agent) maybePing(now time.Time) {
	if a.opt.Watchdog > 0 && now.Sub(a.lastPing) >= a.opt.Watchdog/pingsPerWatchdog {
		a.watchdog(now)
	}
}
