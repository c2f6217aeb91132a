package forwardtest

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Receiver is a running forwardrecv process.
type Receiver struct {
	Addr   string        // where it listens
	Stderr *LockedBuffer // its log
	Cmd    *exec.Cmd     // ProcessState is set once Done is closed
	t      testing.TB
	done   chan struct{}
}

// Start runs the receiver bin on addr (host:port), appending decoded
// entries to out, and waits until it listens there. It is killed at
// cleanup.
func Start(t testing.TB, bin, addr, out string, flags ...string) *Receiver {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"-listen", addr, "-out", out}, flags...)...)
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start receiver: %v", err)
	}
	r := &Receiver{Stderr: &LockedBuffer{}, Cmd: cmd, t: t, done: make(chan struct{})}
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				select {
				case listening <- a:
				default: // a second one: only the first is awaited
				}
			}
			r.Stderr.WriteLine(sc.Text())
		}
		_ = cmd.Wait()
		close(r.done)
	}()
	t.Cleanup(r.Kill)
	select {
	case r.Addr = <-listening:
	case <-r.done:
		t.Fatalf("receiver exited before listening:\n%s", r.Stderr)
	case <-time.After(20 * time.Second):
		r.Kill()
		t.Fatalf("receiver not listening after 20s:\n%s", r.Stderr)
	}
	if r.Addr != addr && !strings.HasSuffix(addr, ":0") {
		t.Fatalf("receiver listens on %s, asked for %s", r.Addr, addr)
	}
	return r
}

// Done is closed once the receiver has exited.
func (r *Receiver) Done() <-chan struct{} { return r.done }

// Kill ends the receiver at once, as a crash would; a no-op on an ended
// one.
func (r *Receiver) Kill() {
	select {
	case <-r.done:
		return
	default:
	}
	if err := r.Cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		r.t.Errorf("kill receiver: %v", err)
	}
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		r.t.Errorf("receiver still running 10s after SIGKILL")
	}
}

// Stop ends the receiver cleanly (SIGTERM) and returns the counts it
// logged on its way out.
func (r *Receiver) Stop() string {
	r.t.Helper()
	if err := r.Cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		r.t.Errorf("stop receiver: %v", err)
	}
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		r.t.Errorf("receiver did not stop on SIGTERM:\n%s", r.Stderr)
		r.Kill()
	}
	for line := range strings.Lines(r.Stderr.String()) {
		if _, summary, ok := strings.Cut(line, "msg=stopped "); ok {
			return strings.TrimSpace(summary)
		}
	}
	return "no summary"
}
