package tailer

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// envAsNobody carries the directory to a copy of the test binary run as
// nobody: root reads files whatever their mode.
const envAsNobody = "TAILER_TEST_AS_NOBODY"

// countingHandler counts the warnings and errors logged per path.
type countingHandler struct {
	mu     sync.Mutex
	byPath map[string]int
}

func (h *countingHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler           { return h }
func (h *countingHandler) WithGroup(string) slog.Handler                { return h }
func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == logPath {
			h.mu.Lock()
			h.byPath[a.Value.String()]++
			h.mu.Unlock()
		}
		return true
	})
	return nil
}

func (h *countingHandler) count(path string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.byPath[path]
}

func TestTailer_PermissionDenied(t *testing.T) {
	if os.Geteuid() == 0 && os.Getenv(envAsNobody) == "" {
		rerunAsNobody(t)
		return
	}
	dir := t.TempDir()
	if d := os.Getenv(envAsNobody); d != "" {
		dir = d
	}
	a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	appendFile(t, a, "a1\n")
	if err := os.Chmod(a, 0); err != nil {
		t.Fatal(err)
	}
	appendFile(t, b, "b1\n")

	h := &countingHandler{byPath: make(map[string]int)}
	cfg := testConfig(false, filepath.Join(dir, "*.log"))
	cfg.RescanInterval = 100 * time.Millisecond
	tl, err := New(cfg, nil, slog.New(h))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := make(chan *Batch)
	c := &collector{}
	go func() { _ = tl.Run(ctx, out) }()
	go func() {
		for {
			select {
			case bt := <-out:
				c.take(bt)
			case <-ctx.Done():
				return
			}
		}
	}()
	waitFor(t, 3*time.Second, "b1", func() bool { return c.count() == 1 })
	appendFile(t, b, "b2\n")
	waitFor(t, 3*time.Second, "retries on a.log", func() bool { return errorsOf(tl.Stats(), a) >= 3 })
	if n := h.count(a); n != 1 {
		t.Errorf("a.log logged %d times, want once", n)
	}
	if err := os.Chmod(a, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 3*time.Second, "a1 once readable", func() bool { return c.count() == 3 })
	got := c.snapshot()
	if got[0] != "b1" || got[1] != "b2" || got[2] != "a1" {
		t.Errorf("delivered %q", got)
	}

	// A failing file that is deleted is forgotten, with its stats (the
	// failing list once kept every path that ever failed); failing again
	// under the same name, it is logged again.
	cl := filepath.Join(dir, "c.log")
	unreadable := func(line string) { // created without read permission: no window to open it in
		if err := os.WriteFile(cl, []byte(line), 0); err != nil {
			t.Fatal(err)
		}
	}
	unreadable("c1\n")
	waitFor(t, 3*time.Second, "c.log failing", func() bool { return errorsOf(tl.Stats(), cl) >= 1 })
	if err := os.Remove(cl); err != nil {
		t.Fatal(err)
	}
	listed := func() bool {
		for _, f := range tl.Stats().Files {
			if f.Path == cl {
				return true
			}
		}
		return false
	}
	waitFor(t, 3*time.Second, "c.log forgotten", func() bool { return !listed() })
	unreadable("c2\n")
	waitFor(t, 3*time.Second, "c.log logged again", func() bool { return h.count(cl) == 2 })
}

// rerunAsNobody runs TestTailer_PermissionDenied in a copy of the test
// binary as user nobody, in a directory nobody owns.
func rerunAsNobody(t *testing.T) {
	const nobody = 65534
	dir, err := os.MkdirTemp("", "tailer-perm-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "tailer.test")
	if err := copyFile(exe, bin); err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(dir, "logs")
	if err := os.Mkdir(work, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(work, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestTailer_PermissionDenied$", "-test.count=1", "-test.v")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), envAsNobody+"="+work)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestTailer_PermissionDenied") {
		t.Fatalf("as nobody: %v\n%s", err, out)
	}
}

func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}
