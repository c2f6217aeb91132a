package agent

import (
	"strings"
	"testing"
	"time"
)

// /readyz: not ready while the inputs start, ready once they have, and not
// ready again once delivery has failed for longer than readyFailing.
func TestAgent_Ready(t *testing.T) {
	a := &Agent{}
	if err := a.ready(); err == nil || !strings.Contains(err.Error(), "starting") {
		t.Errorf("before start: %v", err)
	}
	a.started.Store(true)
	if err := a.ready(); err != nil {
		t.Errorf("started: %v", err)
	}
	a.failingSince.Store(time.Now().Add(-10 * time.Second).UnixNano())
	if err := a.ready(); err != nil {
		t.Errorf("delivery failing for 10s: %v", err)
	}
	a.failingSince.Store(time.Now().Add(-readyFailing - time.Second).UnixNano())
	if err := a.ready(); err == nil || !strings.Contains(err.Error(), "delivery failing") {
		t.Errorf("delivery failing past the limit: %v", err)
	}
}
