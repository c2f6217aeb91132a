package e2etest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Notify is a service manager's notification socket (sd_notify) for one
// process: pass Path as NOTIFY_SOCKET and wait for the states it sends,
// READY=1 above all, instead of sleeping until it is probably up.
type Notify struct {
	conn *net.UnixConn
	path string

	mu   sync.Mutex
	msgs []Message
	news chan struct{}
}

// Message is one notification (one datagram): when it was received and the
// states it holds, one a line (as RELOADING=1 and MONOTONIC_USEC=...).
type Message struct {
	At     time.Time
	States []string
}

// ListenNotify opens a notification socket that lives until the test
// ends. Its directory is short (a Unix socket path has at most 107 bytes)
// and open to every user, for agents run as another one.
func ListenNotify(tb testing.TB) *Notify {
	tb.Helper()
	dir, err := os.MkdirTemp("", "sfn")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		tb.Fatalf("notify socket: %v", err)
	}
	if err := os.Chmod(path, 0o666); err != nil {
		tb.Fatal(err)
	}
	n := &Notify{conn: conn, path: path, news: make(chan struct{}, 1)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			k, err := conn.Read(buf)
			if err != nil {
				return // closed at cleanup
			}
			m := Message{At: time.Now(), States: strings.Split(strings.TrimSpace(string(buf[:k])), "\n")}
			n.mu.Lock()
			n.msgs = append(n.msgs, m)
			n.mu.Unlock()
			select {
			case n.news <- struct{}{}:
			default:
			}
		}
	}()
	tb.Cleanup(func() { conn.Close(); <-done })
	return n
}

// Path is the socket's path, the value of NOTIFY_SOCKET.
func (n *Notify) Path() string { return n.path }

// Count returns how many times state was sent.
func (n *Notify) Count(state string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := 0
	for _, m := range n.msgs {
		for _, s := range m.States {
			if s == state {
				c++
			}
		}
	}
	return c
}

// Messages returns the notifications received so far, in order.
func (n *Notify) Messages() []Message {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.msgs)
}

// Wait waits until state has been sent at least once; it fails when
// exited is closed first (the process ended) or after limit.
func (n *Notify) Wait(state string, exited <-chan struct{}, limit time.Duration) error {
	return n.WaitCount(state, 1, exited, limit)
}

// WaitCount waits until state has been sent at least count times.
func (n *Notify) WaitCount(state string, count int, exited <-chan struct{}, limit time.Duration) error {
	timer := time.NewTimer(limit)
	defer timer.Stop()
	for {
		if n.Count(state) >= count {
			return nil
		}
		select {
		case <-n.news:
		case <-exited:
			if n.Count(state) >= count {
				return nil
			}
			return errors.New("exited before notifying " + state)
		case <-timer.C:
			return fmt.Errorf("no %s (%d wanted) within %s", state, count, limit)
		}
	}
}
