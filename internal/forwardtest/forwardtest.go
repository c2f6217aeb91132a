// Package forwardtest drives the test-only Fluentd forward receiver
// (test/forwardrecv, its own module) for the output and end-to-end tests:
// it builds the receiver and decodes what it wrote. For tests only.
package forwardtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// Build compiles the receiver from root/test/forwardrecv into dir and
// returns the binary's path.
func Build(root, dir string) (string, error) {
	bin := filepath.Join(dir, "forwardrecv")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = filepath.Join(root, "test", "forwardrecv")
	cmd.Env = append(os.Environ(), "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build the test receiver in %s (its modules come from the Go module proxy, "+
			"GOPROXY=%q; offline, run `go mod download` there first while online): %w\n%s",
			cmd.Dir, os.Getenv("GOPROXY"), err, out)
	}
	return bin, nil
}

// Entry is one forward-protocol entry as the receiver decoded it. Numbers
// in Record are int64 when written without a fraction or exponent and
// float64 otherwise, so the msgpack types show.
type Entry struct {
	Tag    string
	TimeNs int64
	Record map[string]any
}

// DecodeEntry parses one line of the receiver's output.
func DecodeEntry(line []byte) (Entry, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var raw struct {
		Tag    string         `json:"tag"`
		TimeNs int64          `json:"time_ns"`
		Record map[string]any `json:"record"`
	}
	if err := dec.Decode(&raw); err != nil {
		return Entry{}, fmt.Errorf("receiver output line %q: %w", line, err)
	}
	rec, _ := typedNumbers(raw.Record).(map[string]any)
	return Entry{Tag: raw.Tag, TimeNs: raw.TimeNs, Record: rec}, nil
}

func typedNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if strings.ContainsAny(string(x), ".eE") {
			f, _ := x.Float64()
			return f
		}
		i, _ := x.Int64()
		return i
	case map[string]any:
		for k, y := range x {
			x[k] = typedNumbers(y)
		}
	case []any:
		for i, y := range x {
			x[i] = typedNumbers(y)
		}
	}
	return v
}

// LockedBuffer collects a process's standard error, line by line, from
// one goroutine while tests read it from another.
type LockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

// WriteLine appends s and a newline.
func (l *LockedBuffer) WriteLine(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.WriteString(s)
	l.b.WriteByte('\n')
}

// String returns everything written so far.
func (l *LockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
