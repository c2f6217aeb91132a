package agent_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// stream is one log written at its own rate.
type stream struct {
	lf   *logFile
	g    *traffic
	rate float64
	p    *pacer
	on   bool
}

// streams writes several logs at once, each at its rate.
type streams []*stream

// writeFor writes the streams that are on for d.
func (ss streams) writeFor(d time.Duration) {
	end := time.Now().Add(d)
	var buf []byte
	for time.Now().Before(end) {
		for _, s := range ss {
			if s.p == nil {
				s.p = newPacer(s.rate)
			}
			n := s.p.due(int(s.rate))
			if s.on && n > 0 {
				buf = s.g.lines(buf[:0], n)
				s.lf.write(buf)
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// unprivileged returns the credentials to run the agent as a user that
// chmod 000 locks out: nobody when the test runs as root, else nil (the
// test's own user is locked out already).
func unprivileged() *syscall.Credential {
	if os.Getuid() != 0 {
		return nil
	}
	return &syscall.Credential{Uid: 65534, Gid: 65534}
}

// TestAgent_BadInputWhileFollowing feeds the agent, while it follows, binary
// junk, a 10 MiB line and lines with invalid UTF-8 in the main log; replaces
// a second log by a directory; and keeps a third log unreadable (chmod 000)
// for a while. The agent must not stop, and every line that is a valid log
// line (those with invalid UTF-8 in the path and user agent included) must
// be counted exactly; lines of a log are counted once it becomes readable.
//
// The tests run as root, whom chmod 000 does not lock out: the agent then
// runs as uid/gid 65534 (nobody), on a tree it can read.
func TestAgent_BadInputWhileFollowing(t *testing.T) {
	cred := unprivileged()
	base := t.TempDir()
	if cred != nil {
		// t.TempDir's directories are 0700: open the path to nobody.
		for _, d := range []string{filepath.Dir(base), base} {
			if err := os.Chmod(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	dir := filepath.Join(base, "e2e")
	for _, d := range []string{dir, filepath.Join(dir, "web"), filepath.Join(dir, "gone"), filepath.Join(dir, "locked"), filepath.Join(dir, "state")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if cred != nil {
		if err := os.Chown(filepath.Join(dir, "state"), int(cred.Uid), int(cred.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	webPath := filepath.Join(dir, "web", "access.log")
	gonePath := filepath.Join(dir, "gone", "access.log")
	lockedPath := filepath.Join(dir, "locked", "access.log")
	h := newAgent(t, dir, e2eConfig{Inputs: []e2eInput{
		{Name: "web", Path: webPath},
		{Name: "gone", Path: gonePath},
		{Name: "locked", Path: lockedPath},
	}})
	h.cred = cred
	events := newEventLog(h)

	web := &stream{lf: openLog(t, webPath), g: newTraffic("web", 16, 11, 10*time.Millisecond), rate: 5000, on: true}
	gone := &stream{lf: openLog(t, gonePath), g: newTraffic("gone", 8, 12, 10*time.Millisecond), rate: 1000, on: true}
	locked := &stream{lf: openLog(t, lockedPath), g: newTraffic("locked", 8, 13, 10*time.Millisecond), rate: 1000, on: true}
	if err := os.Chmod(lockedPath, 0); err != nil {
		t.Fatal(err)
	}
	all := streams{web, gone, locked}
	rng := rand.New(rand.NewPCG(14, 15))

	h.startReady()
	all.writeFor(500 * time.Millisecond)

	// Binary junk: 64 KiB of random bytes, in lines.
	junk := make([]byte, 64<<10)
	for i := range junk {
		junk[i] = byte(rng.Uint32())
	}
	junk[len(junk)-1] = '\n'
	junkLines := bytes.Count(junk, []byte{'\n'})
	web.lf.write(junk)
	all.writeFor(300 * time.Millisecond)

	// One line of 10 MiB, over the 1 MiB limit: skipped, not fatal.
	long := bytes.Repeat([]byte("A"), 10<<20)
	web.lf.write(append(long, '\n'))
	all.writeFor(300 * time.Millisecond)

	// Valid lines with invalid UTF-8 in the path and the user agent.
	var buf []byte
	for i := range 300 {
		buf = web.g.line(buf[:0], web.g.ips[i%len(web.g.ips)], "\xff\xfe\xc3(\x80")
		web.lf.write(buf)
	}
	all.writeFor(300 * time.Millisecond)

	// The second log becomes a directory.
	gone.on = false
	if err := os.Remove(gonePath); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(gonePath, 0o755); err != nil {
		t.Fatal(err)
	}
	all.writeFor(1500 * time.Millisecond)
	h.requireAlive()

	// The third log becomes readable.
	if err := os.Chmod(lockedPath, 0o644); err != nil {
		t.Fatal(err)
	}
	all.writeFor(time.Second)

	want := truth{}
	for _, s := range all {
		want.add(s.g.truth)
	}
	took := events.waitCounts(want, 30*time.Second)
	diag := h.diagnose()
	// The log that became a directory and the one not readable for a
	// while are counted as file errors of their inputs, the web log's not.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	for input, bad := range map[string]bool{"gone": true, "locked": true, "web": false} {
		n, err := scrapeSample(ctx, h.metrics, "sharkfin_file_errors_total", `input="`+input+`"`)
		if err != nil || (n > 0) != bad {
			t.Errorf("sharkfin_file_errors_total{input=%q} = %v, %v; want errors: %v", input, n, err, bad)
		}
	}
	cancel()
	time.Sleep(500 * time.Millisecond)
	h.stop(5 * time.Second)
	events.requireCounts(want)
	events.requireOnePerWindow()

	if cred != nil {
		fi, err := os.Stat(filepath.Join(dir, "state", "state.db"))
		if err != nil {
			t.Fatal(err)
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); !ok || st.Uid != cred.Uid {
			t.Fatalf("the state file is not owned by uid %d: the agent did not run unprivileged", cred.Uid)
		}
	}
	t.Logf("bad input: %d web lines (%d junk lines and a 10 MiB line around them), %d lines before the log became a directory, "+
		"%d lines of a log readable only later; exact %s after the last line; %s",
		web.g.seq, junkLines, gone.g.seq, locked.g.seq, took.Round(time.Millisecond), diag)
}
