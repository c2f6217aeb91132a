package category

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// touch rewrites path with text and moves its time on, so a change is
// seen even on a file system with coarse times.
func touch(t *testing.T, path, text string, at time.Time) {
	t.Helper()
	writeFile(t, path, text)
	if err := os.Chtimes(path, at, at); err != nil {
		t.Fatal(err)
	}
}

// TestReloader_SwapsAndKeepsTheLastGood: an edited list is swapped in
// whole; a bad edit is reported with its file and line, once, and the
// list in use stays; fixing it swaps again. A UT1 directory gaining a
// category is seen too. Lookups run throughout on other goroutines.
func TestReloader_SwapsAndKeepsTheLastGood(t *testing.T) {
	dir := t.TempDir()
	csv := filepath.Join(dir, "cats.csv")
	t0 := time.Now().Add(-time.Hour)
	touch(t, csv, "a.com,one\n", t0)
	r, err := NewReloader(csv)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if c, ok := r.List().Lookup([]byte("x.a.com")); !ok || (c != "one" && c != "two") {
					t.Errorf("a lookup during reloads gave %q, %v", c, ok)
					return
				}
			}
		})
	}
	lookup := func(host string) string { c, _ := r.List().Lookup([]byte(host)); return c }

	if swapped, err := r.Check(); swapped || err != nil {
		t.Errorf("unchanged: swapped %v, %v", swapped, err)
	}
	touch(t, csv, "a.com,two\nb.com,two\n", t0.Add(time.Minute))
	if swapped, err := r.Check(); !swapped || err != nil || lookup("b.com") != "two" {
		t.Errorf("edited: swapped %v, %v, b.com %q", swapped, err, lookup("b.com"))
	}
	touch(t, csv, "a.com,two\nbad name,x\n", t0.Add(2*time.Minute))
	_, err = r.Check()
	var le *Error
	if !errors.As(err, &le) || le.File != csv || le.Line != 2 {
		t.Errorf("a bad edit: %v; want %s:2", err, csv)
	}
	if lookup("b.com") != "two" {
		t.Error("a bad edit replaced the list in use")
	}
	if swapped, err := r.Check(); swapped || err != nil {
		t.Errorf("the same bad file again: swapped %v, %v; want it said once", swapped, err)
	}
	touch(t, csv, "a.com,one\n", t0.Add(3*time.Minute))
	if swapped, err := r.Check(); !swapped || err != nil || lookup("b.com") != "" {
		t.Errorf("fixed: swapped %v, %v, b.com %q", swapped, err, lookup("b.com"))
	}
	close(stop)
	wg.Wait()

	ut1 := filepath.Join(dir, "ut1")
	touch(t, filepath.Join(ut1, "ads", "domains"), "ads.net\n", t0)
	r, err = NewReloader(ut1)
	if err != nil {
		t.Fatal(err)
	}
	touch(t, filepath.Join(ut1, "malware", "domains"), "evil.org\n", t0)
	if swapped, err := r.Check(); !swapped || err != nil || lookup("x.evil.org") != "malware" {
		t.Errorf("a new category: swapped %v, %v, %q", swapped, err, lookup("x.evil.org"))
	}
	if err := os.Remove(filepath.Join(ut1, "malware", "domains")); err != nil {
		t.Fatal(err)
	}
	if swapped, err := r.Check(); !swapped || err != nil || lookup("x.evil.org") != "" {
		t.Errorf("a category removed: swapped %v, %v, %q", swapped, err, lookup("x.evil.org"))
	}
	if _, err := NewReloader(filepath.Join(dir, "missing.csv")); err == nil {
		t.Error("a missing list loaded")
	}
}
