package category

import (
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"
)

// Reloader holds the list in use and replaces it when its files change, as
// the agent does with models: the new list is loaded whole first and
// swapped in with one atomic store, so lookups never see half of one; a
// list that fails to load (Error names the file and line) leaves the one in
// use in place, and is tried again only once its files change again.
// Lookups (List) may run on any goroutine; Check on one at a time.
type Reloader struct {
	path    string
	list    atomic.Pointer[List]
	stamp   string // the files' names, sizes and times when last tried
	lastErr error
}

// NewReloader loads the list at path; an error leaves no list.
func NewReloader(path string) (*Reloader, error) {
	r := &Reloader{path: path}
	stamp, err := stampOf(path)
	if err != nil {
		return nil, &Error{File: path, Msg: "cannot read the category list (" + unwrapPath(err).Error() + ")"}
	}
	l, err := Load(path)
	if err != nil {
		return nil, err
	}
	r.list.Store(l)
	r.stamp = stamp
	return r, nil
}

// List returns the list in use.
func (r *Reloader) List() *List { return r.list.Load() }

// Check reloads the list when its files changed since the last try: it
// reports whether a new list is in use, and the load error when the
// changed files did not load (the old list stays). Unchanged files cost a
// stat each (a UT1 directory: one per category).
func (r *Reloader) Check() (swapped bool, err error) {
	stamp, err := stampOf(r.path)
	if err != nil {
		err = &Error{File: r.path, Msg: "cannot read the category list (" + unwrapPath(err).Error() + "); the list in use stays"}
		if r.lastErr == nil || r.lastErr.Error() != err.Error() {
			r.lastErr = err
			return false, err
		}
		return false, nil
	}
	if stamp == r.stamp {
		return false, nil
	}
	r.stamp = stamp
	l, err := Load(r.path)
	if err != nil {
		r.lastErr = err
		return false, err
	}
	r.lastErr = nil
	r.list.Store(l)
	return true, nil
}

// stampOf describes the files a list is read from: their names, sizes and
// modification times.
func stampOf(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if !fi.IsDir() {
		return one(path, fi), nil
	}
	ents, err := os.ReadDir(path)
	if err != nil {
		return "", err
	}
	s := ""
	for _, e := range ents {
		file := filepath.Join(path, e.Name(), "domains")
		if fi, err := os.Stat(file); err == nil {
			s += one(file, fi)
		} // else no list here (a README, a category of URLs only): Load skips it too
	}
	return s, nil
}

func one(path string, fi os.FileInfo) string {
	return path + "\x00" + fi.ModTime().UTC().Format(time.RFC3339Nano) + "\x00" + strconv.FormatInt(fi.Size(), 10) + "\n"
}
