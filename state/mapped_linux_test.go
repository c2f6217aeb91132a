//go:build linux

package state_test

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/socx/sharkfin/state"
	"github.com/socx/sharkfin/state/statetest"
)

// rssFileKiB is this process's resident file-backed memory.
func rssFileKiB(t *testing.T) int {
	t.Helper()
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "RssFile:" {
			n, err := strconv.Atoi(f[1])
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Skip("no RssFile in /proc/self/status")
	return 0
}

// Reading 32 MiB of outbox maps the pages into the process; ReleaseMapped
// gives them back, and the outbox reads the same afterwards.
func TestStore_ReleaseMapped(t *testing.T) {
	s := statetest.NewWithOptions(t, state.Options{NoSync: true})
	ev := []byte(strings.Repeat("x", 1000))
	const n = 32 << 10
	for range n / 4096 {
		c := &state.Commit{}
		for range 4096 {
			c.Events = append(c.Events, ev)
		}
		if _, err := s.Apply(c); err != nil {
			t.Fatal(err)
		}
	}
	read := func() int {
		total := 0
		if err := s.OutboxRead(0, 0, func(_ uint64, d []byte) error {
			total += len(d)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return total
	}
	base := rssFileKiB(t)
	if got := read(); got != n*len(ev) {
		t.Fatalf("read %d bytes, want %d", got, n*len(ev))
	}
	mapped := rssFileKiB(t)
	if err := s.ReleaseMapped(); err != nil {
		t.Fatal(err)
	}
	released := rssFileKiB(t)
	t.Logf("RssFile: %d KiB before reading, %d after reading 32 MiB of outbox, %d after ReleaseMapped", base, mapped, released)
	if mapped-base < 24<<10 {
		t.Skipf("reading did not map the file (%d KiB more); nothing to measure", mapped-base)
	}
	if released-base > 4<<10 {
		t.Errorf("ReleaseMapped left %d KiB more mapped than before the read", released-base)
	}
	if got := read(); got != n*len(ev) {
		t.Fatalf("after release: read %d bytes, want %d", got, n*len(ev))
	}
}
