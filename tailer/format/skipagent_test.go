package format

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/socx/sharkfin/record"
)

// SkipAgent changes nothing but the referer and user agent: on every
// combined line of the test data and of the real logs, the same lines are
// accepted, with the same error otherwise, and every other field is the
// same bytes.
func TestParser_SkipAgentChangesOnlyThoseFields(t *testing.T) {
	files := []string{"testdata/apache_combined.log", "testdata/vhost_combined.log", "testdata/web_edge.log"}
	if dir, ok := sharedData(); ok && !testing.Short() {
		for _, rf := range realFiles {
			if rf.format != Combined {
				continue
			}
			m, _ := filepath.Glob(filepath.Join(dir, rf.pattern))
			files = append(files, m...)
		}
	}
	lines, agents := 0, 0
	for _, f := range files {
		full := Parser{Format: Combined, Location: time.UTC}
		skip := Parser{Format: Combined, Location: time.UTC, SkipAgent: true}
		for i, line := range readLines(t, f) {
			var a, b record.Record
			ea, eb := full.Parse(line, &a), skip.Parse(line, &b)
			if ea != eb {
				t.Fatalf("%s:%d: error %v with the agent fields, %v without", f, i+1, ea, eb)
			}
			lines++
			if a.UserAgent != nil || a.Referer != nil {
				agents++
			}
			if b.UserAgent != nil || b.Referer != nil {
				t.Fatalf("%s:%d: referer %q, user agent %q with SkipAgent", f, i+1, b.Referer, b.UserAgent)
			}
			a.UserAgent, a.Referer = nil, nil
			if d := diffRecords(&b, &a); d != "" {
				t.Fatalf("%s:%d: %s", f, i+1, d)
			}
		}
	}
	if agents == 0 {
		t.Fatalf("%d lines, none with a referer or user agent: the test shows nothing", lines)
	}
	t.Logf("%d lines in %d files, %d with a referer or user agent", lines, len(files), agents)
}
