package output

import (
	"bufio"
	"github.com/socx/sharkfin/internal/forwardtest"

	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The tests deliver to a real forward receiver: the OpenTelemetry
// Collector's fluentforward receiver wrapped by the test-only module in
// ../test/forwardrecv, built once into a temporary directory.

var (
	binDir       string // made by TestMain
	buildOnce    sync.Once
	receiverPath string
	buildErr     error
)

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "sharkfin-output-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binDir = dir
	return m.Run()
}

// receiverBinary builds the test receiver on first use.
func receiverBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		root, err := filepath.Abs("..")
		if err != nil {
			buildErr = err
			return
		}
		receiverPath, buildErr = forwardtest.Build(root, binDir)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return receiverPath
}

// receiver is one running forwardrecv process (started by
// forwardtest.Start), with the signals the delivery tests need.
type receiver struct {
	t      testing.TB
	cmd    *exec.Cmd
	addr   string // host:port or unix:///path
	out    string // its JSON lines
	stderr *lockedBuffer
	done   <-chan struct{}
}

// startReceiver runs forwardrecv with args, writing entries to out (a new
// file in a temp dir when empty), and waits until it listens: on a free
// loopback port unless args give a -listen of their own (the last wins).
// It is stopped cleanly at cleanup.
func startReceiver(t testing.TB, out string, args ...string) *receiver {
	t.Helper()
	if out == "" {
		out = filepath.Join(t.TempDir(), "entries.jsonl")
	}
	fr := forwardtest.Start(t, receiverBinary(t), "127.0.0.1:0", out, args...)
	r := &receiver{t: t, cmd: fr.Cmd, addr: fr.Addr, out: out, stderr: fr.Stderr, done: fr.Done()}
	t.Cleanup(r.stop) // before Start's Kill, which then finds it ended
	return r
}

func (r *receiver) signal(sig syscall.Signal) {
	if err := r.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		r.t.Errorf("signal %v to receiver: %v", sig, err)
	}
	if sig == syscall.SIGSTOP {
		r.waitStopped()
	}
}

// waitStopped returns once the kernel shows the receiver stopped: signals
// are delivered asynchronously, and a receiver still running could ack a
// Write the test means to stall.
func (r *receiver) waitStopped() {
	path := fmt.Sprintf("/proc/%d/stat", r.cmd.Process.Pid)
	for range 200 { // 2 s at most
		data, err := os.ReadFile(path)
		if err != nil {
			return // not Linux, or gone
		}
		if i := strings.LastIndexByte(string(data), ')'); i >= 0 && i+2 < len(data) && (data[i+2] == 'T' || data[i+2] == 't') {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.t.Errorf("receiver pid %d did not stop within 2s of SIGSTOP", r.cmd.Process.Pid)
}

// kill ends the receiver at once, as a crash would.
func (r *receiver) kill() {
	r.signal(syscall.SIGCONT) // in case it was stopped
	r.signal(syscall.SIGKILL)
	r.wait()
}

// stop ends the receiver cleanly.
func (r *receiver) stop() {
	select {
	case <-r.done:
		return
	default:
	}
	r.signal(syscall.SIGCONT)
	r.signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		r.t.Errorf("receiver did not stop on SIGTERM; killing it:\n%s", r.stderr)
		r.kill()
	}
}

// summary returns the counts the receiver logged when it stopped.
func (r *receiver) summary() string {
	for line := range strings.Lines(r.stderr.String()) {
		if _, after, ok := strings.Cut(line, "msg=stopped "); ok {
			return strings.TrimSpace(after)
		}
	}
	return "killed, no summary"
}

func (r *receiver) wait() {
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		r.t.Fatalf("receiver did not exit")
	}
}

// entry is one decoded entry as the receiver wrote it.
// entry is one entry the receiver decoded.
type entry = forwardtest.Entry

// entries reads what the receiver wrote so far. Numbers come back as int64
// when written without a fraction or exponent, as float64 otherwise, so
// the msgpack types show.
func (r *receiver) entries() []entry {
	r.t.Helper()
	return readEntries(r.t, r.out)
}

func readEntries(t testing.TB, path string) []entry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []entry
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		e, err := forwardtest.DecodeEntry(sc.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// lockedBuffer collects the receiver's standard error for failure reports.
type lockedBuffer = forwardtest.LockedBuffer
