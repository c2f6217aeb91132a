package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzReadExport reads any description and part file of a feature export
// (train --export-features, read by `model import`): it loads, or fails
// with an error naming the file; it never panics, and never returns more
// rows than it read.
func FuzzReadExport(f *testing.F) {
	desc := `{"format":"sharkfin.features/v1","kind":"web","window":"1m0s","features":["hits","post"],` +
		`"transform":{"log1p":true,"mean":[1,0],"std":[1,1]},"rows":2,"created":"2026-12-07T00:00:00Z"}`
	f.Add(desc, "{\"hits\":3,\"post\":0}\n{\"hits\":1,\"post\":1}\n")
	f.Add(desc, "{\"hits\":3}\n")
	f.Add(`{"format":"x"}`, "")
	f.Fuzz(func(t *testing.T, desc, part string) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, exportDescFile), []byte(desc), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "part-000.json"), []byte(part), 0o644); err != nil {
			t.Fatal(err)
		}
		exp, sample, err := readExport(dir, 100, 1)
		if err != nil {
			if !strings.Contains(err.Error(), dir) {
				t.Fatalf("error names no file: %v", err)
			}
			return
		}
		if n := len(sample.Rows()); n > strings.Count(part, "\n")+1 || exp == nil {
			t.Fatalf("%d rows from %d lines", n, strings.Count(part, "\n")+1)
		}
	})
}
