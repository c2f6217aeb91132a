package forwardtest

import (
	"bufio"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Receiver is a running forwardrecv process.
type Receiver struct {
	Addr   string
	Stderr *LockedBuffer
	cmd    *exec.Cmd
	done   chan struct{}
}

// Start runs the receiver bin on addr (host:port), appending decoded
// entries to out, and waits until it listens. It is killed at cleanup.
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
	r := &Receiver{Stderr: &LockedBuffer{}, cmd: cmd, done: make(chan struct{})}
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				listening <- a
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
	return r
}

// Kill ends the receiver at once; a no-op on an ended one.
func (r *Receiver) Kill() {
	select {
	case <-r.done:
		return
	default:
	}
	_ = r.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
	}
}
