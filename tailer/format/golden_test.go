package format

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/socx/sharkfin/record"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the parsers' output")

// goldenFiles maps each testdata log to the format it is parsed with.
var goldenFiles = map[string]Format{
	"apache_combined.log": Combined,
	"web_edge.log":        Combined,
	"vhost_combined.log":  Combined,
	"squid_native.log":    Squid,
	"squid6_edge.log":     Squid,
	"bind_queries.log":    Bind,
}

// goldenRecord is the JSON form of a parsed line in the .golden files.
type goldenRecord struct {
	Line      int     `json:"line"`
	Error     string  `json:"error,omitempty"`
	Time      string  `json:"time,omitempty"`
	Client    *string `json:"client,omitempty"`
	User      *string `json:"user,omitempty"`
	Method    *string `json:"method,omitempty"`
	Target    *string `json:"target,omitempty"`
	Host      *string `json:"host,omitempty"`
	Status    int     `json:"status,omitempty"`
	Bytes     int64   `json:"bytes,omitempty"`
	Referer   *string `json:"referer,omitempty"`
	UserAgent *string `json:"user_agent,omitempty"`
	Action    *string `json:"action,omitempty"`
	Peer      *string `json:"peer,omitempty"`
	QType     *string `json:"qtype,omitempty"`
}

func optional(b []byte) *string {
	if b == nil {
		return nil
	}
	s := string(b)
	return &s
}

func toGolden(n int, r *record.Record, err error) goldenRecord {
	if err != nil {
		return goldenRecord{Line: n, Error: Reason(err)}
	}
	return goldenRecord{
		Line: n, Time: time.Unix(0, r.Time).UTC().Format(time.RFC3339Nano),
		Client: optional(r.Client), User: optional(r.User), Method: optional(r.Method),
		Target: optional(r.Target), Host: optional(r.Host), Status: r.Status, Bytes: r.Bytes,
		Referer: optional(r.Referer), UserAgent: optional(r.UserAgent),
		Action: optional(r.Action), Peer: optional(r.Peer), QType: optional(r.QType),
	}
}

// TestParser_Golden parses every testdata log and compares each Record, field
// by field, with testdata/<file>.golden (JSON lines). Run with -update after
// a deliberate change and review the diff.
func TestParser_Golden(t *testing.T) {
	for file, f := range goldenFiles {
		t.Run(file, func(t *testing.T) {
			p := Parser{Format: f, Location: time.UTC}
			var out bytes.Buffer
			enc := json.NewEncoder(&out)
			enc.SetEscapeHTML(false)
			for i, line := range readLines(t, filepath.Join("testdata", file)) {
				var r record.Record
				err := p.Parse(line, &r)
				if err != nil {
					t.Errorf("line %d rejected: %v", i+1, err)
				}
				if err := enc.Encode(toGolden(i+1, &r, err)); err != nil {
					t.Fatal(err)
				}
			}
			golden := filepath.Join("testdata", strings.TrimSuffix(file, ".log")+".golden")
			if *update {
				if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if d := diffLines(string(want), out.String()); d != "" {
				t.Errorf("output differs from %s:\n%s", golden, d)
			}
		})
	}
}

// diffLines reports the first lines where got differs from want.
func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 5; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  want %s\n  got  %s\n", i+1, wl, gl)
			shown++
		}
	}
	return b.String()
}
