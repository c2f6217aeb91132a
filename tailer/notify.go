package tailer

import (
	"errors"
	"fmt"
	"sync"

	"github.com/fsnotify/fsnotify"
)

// noticeOp is what happened to a directory entry.
type noticeOp uint8

const (
	opWrite noticeOp = 1 << iota
	opCreate
	opRemove
	opRename
	opChmod
	// opOverflow means notices were lost: check everything.
	opOverflow
)

// notice says that the entry at path may have changed.
type notice struct {
	path string
	op   noticeOp
}

// notifier reports changes to the entries of a set of directories. It is
// the small interface that keeps the kernel notification API out of the
// tailer; polling mode runs without one. Implementations never block on a
// slow reader for long: they drop to opOverflow instead.
type notifier interface {
	// watch makes the watched set exactly dirs; it returns the errors of
	// the directories that could not be watched (those are polled).
	watch(dirs []string) error
	// notices is closed by close.
	notices() <-chan notice
	close() error
}

// inotifyNotifier watches directories (not files) with fsnotify: one watch
// per directory sees writes to every file in it, their renames and
// deletions, and new files, without per-path bookkeeping that a rename
// would invalidate.
type inotifyNotifier struct {
	w    *fsnotify.Watcher
	dirs map[string]bool
	out  chan notice
	done chan struct{}
	wg   sync.WaitGroup
}

var _ notifier = (*inotifyNotifier)(nil)

func newInotifyNotifier() (*inotifyNotifier, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("create inotify watcher: %w", err)
	}
	n := &inotifyNotifier{
		w:    w,
		dirs: make(map[string]bool),
		out:  make(chan notice, 1024),
		done: make(chan struct{}),
	}
	n.wg.Add(1)
	go n.forward()
	return n, nil
}

func (n *inotifyNotifier) forward() {
	defer n.wg.Done()
	defer close(n.out)
	for {
		var nt notice
		select {
		case ev, ok := <-n.w.Events:
			if !ok {
				return
			}
			nt = notice{path: ev.Name, op: translate(ev.Op)}
			if nt.op == 0 {
				continue
			}
		case err, ok := <-n.w.Errors:
			if !ok {
				return
			}
			if err == nil {
				continue
			}
			nt = notice{op: opOverflow}
		case <-n.done:
			return
		}
		select {
		case n.out <- nt:
		case <-n.done:
			return
		}
	}
}

func translate(op fsnotify.Op) noticeOp {
	var o noticeOp
	if op.Has(fsnotify.Write) {
		o |= opWrite
	}
	if op.Has(fsnotify.Create) {
		o |= opCreate
	}
	if op.Has(fsnotify.Remove) {
		o |= opRemove
	}
	if op.Has(fsnotify.Rename) {
		o |= opRename
	}
	if op.Has(fsnotify.Chmod) {
		o |= opChmod
	}
	return o
}

func (n *inotifyNotifier) watch(dirs []string) error {
	want := make(map[string]bool, len(dirs))
	var errs []error
	for _, d := range dirs {
		want[d] = true
		if n.dirs[d] {
			continue
		}
		if err := n.w.Add(d); err != nil {
			errs = append(errs, fmt.Errorf("watch %s: %w", d, err))
			continue
		}
		n.dirs[d] = true
	}
	for d := range n.dirs {
		if !want[d] {
			// The directory may be gone already; the kernel then dropped
			// the watch itself.
			_ = n.w.Remove(d)
			delete(n.dirs, d)
		}
	}
	return errors.Join(errs...)
}

func (n *inotifyNotifier) notices() <-chan notice { return n.out }

func (n *inotifyNotifier) close() error {
	err := n.w.Close()
	close(n.done)
	n.wg.Wait()
	if err != nil {
		return fmt.Errorf("close inotify watcher: %w", err)
	}
	return nil
}
