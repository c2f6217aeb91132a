package pipeline

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/socx/sharkfin/detect"
	"github.com/socx/sharkfin/event"
	"github.com/socx/sharkfin/internal/loggen"
	"github.com/socx/sharkfin/tailer/format"
)

var update = flag.Bool("update", false, "rewrite golden expected.json files")

// goldenCase is testdata/golden/<case>/case.json.
type goldenCase struct {
	Format   string `json:"format"`
	Model    string `json:"model"` // relative to the repository root; "" = unscored
	Timezone string `json:"timezone"`
	Window   string `json:"window"`
	Lateness string `json:"lateness"`
	MaxKeys  int    `json:"max_keys"`
}

// runFile runs a whole file through a pipeline the way `sharkfin score`
// does and returns the events and stats.
func runFile(t testing.TB, path string, cfg Config) ([]*event.Event, Stats) {
	t.Helper()
	var evs []*event.Event
	p, err := New(cfg, func(ev *event.Event) { evs = append(evs, ev.Clone()) })
	if err != nil {
		t.Fatal(err)
	}
	rc, err := OpenLog(path)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if err := ScanLines(rc, DefaultMaxLineBytes, p.Line, func() { p.Reject(ErrLineTooLong) }); err != nil {
		t.Fatal(err)
	}
	p.Flush()
	return evs, p.Stats()
}

func repoRoot(t testing.TB) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(wd)
}

func TestPipeline_Golden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/golden/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, "case.json"))
			if err != nil {
				t.Fatal(err)
			}
			var gc goldenCase
			if err := json.Unmarshal(raw, &gc); err != nil {
				t.Fatalf("case.json: %v", err)
			}
			fm, err := format.ParseFormat(gc.Format)
			if err != nil {
				t.Fatal(err)
			}
			cfg := Config{Host: "golden", Source: "test", Parser: format.Parser{Format: fm, Location: time.UTC}}
			if gc.Window != "" {
				cfg.Window.Window, _ = time.ParseDuration(gc.Window)
			}
			if gc.Lateness != "" {
				cfg.Window.Lateness, _ = time.ParseDuration(gc.Lateness)
			}
			cfg.Window.MaxKeys = gc.MaxKeys
			if gc.Model != "" {
				m, err := detect.LoadModel(filepath.Join(repoRoot(t), gc.Model))
				if err != nil {
					t.Fatal(err)
				}
				cfg.Model = m
			}
			evs, stats := runFile(t, filepath.Join(dir, "input.log"), cfg)
			var got bytes.Buffer
			for _, ev := range evs {
				b, err := ev.AppendJSON(nil)
				if err != nil {
					t.Fatal(err)
				}
				got.Write(b)
				got.WriteByte('\n')
			}
			summary, _ := json.Marshal(map[string]any{
				"lines": stats.Lines, "parsed": stats.Parsed, "rejected": stats.Rejected, "late": stats.Late,
				"overflow": stats.Overflowed, "reasons": stats.Reasons,
			})
			got.WriteString("# " + string(summary) + "\n")
			want := filepath.Join(dir, "expected.json")
			if *update {
				if err := os.WriteFile(want, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			exp, err := os.ReadFile(want)
			if err != nil {
				t.Fatalf("%v (run with -update to create)", err)
			}
			if !bytes.Equal(exp, got.Bytes()) {
				t.Errorf("events differ from %s (run `go test ./agent -run Golden -update` after checking the change):\n%s", want, lineDiff(string(exp), got.String()))
			}
		})
	}
}

func lineDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out strings.Builder
	for i := 0; i < max(len(al), len(bl)); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			out.WriteString("- " + x + "\n+ " + y + "\n")
			if out.Len() > 4000 {
				break
			}
		}
	}
	return out.String()
}

// sharedData is the team's folder of real logs, or "" when absent.
func sharedData(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("SHARKFIN_SHARED_DATA")
	if dir == "" {
		dir = filepath.Join(repoRoot(t), "..", "shared", "data")
	}
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("real logs folder %s absent (set SHARKFIN_SHARED_DATA): %v", dir, err)
	}
	return dir
}

// TestPipeline_CountingTruth checks, on each real web log, that the hits of
// all ip_score events add up to the accepted lines and that there is one
// event per distinct (IP, window) pair, computed here independently with a
// plain field split and time.Parse.
func TestPipeline_CountingTruth(t *testing.T) {
	root := sharedData(t)
	files, _ := filepath.Glob(filepath.Join(root, "realserver-2020", "*access.log*"))
	files = append(files,
		filepath.Join(root, "elastic-apache", "apache_logs"),
		filepath.Join(root, "wordpress-2025", "access.log"),
		filepath.Join(root, "secrepo-selflogs-sample", "access.log"))
	for _, path := range files {
		rel, _ := filepath.Rel(root, path)
		if strings.Contains(rel, "appended_test_lines") { // hand-made lines, not a log
			continue
		}
		t.Run(rel, func(t *testing.T) {
			evs, stats := runFile(t, path, Config{Host: "h", Source: "s",
				Parser: format.Parser{Format: format.Combined}, Window: detect.WindowConfig{Lateness: 1000 * time.Hour}})
			var hits float64
			got := map[string]bool{}
			for _, ev := range evs {
				h, ok := ev.Features.Get("hits")
				if !ok {
					t.Fatal("event without hits")
				}
				hits += h
				got[ev.SrcIP+"|"+ev.WindowStart.Format(time.RFC3339)] = true
			}
			if int64(hits) != stats.Parsed {
				t.Errorf("sum of hits %v != accepted lines %d", hits, stats.Parsed)
			}
			want := independentPairs(t, path)
			if len(want) != len(evs) {
				t.Errorf("events %d, independent distinct (IP, window) pairs %d", len(evs), len(want))
			}
			for k := range want {
				if !got[k] {
					t.Errorf("pair %s has no event", k)
					break
				}
			}
			if stats.Rejected != 0 {
				t.Errorf("rejected %d lines of a real log: %v", stats.Rejected, stats.Reasons)
			}
			t.Logf("%s: lines=%d accepted=%d events=%d", rel, stats.Lines, stats.Parsed, len(evs))
		})
	}
}

// independentPairs derives (client, minute) pairs with strings.Fields and
// time.Parse: slow, simple, and sharing no code with the parsers. For
// vhost_combined lines (first field host:port) the client is field 2.
func independentPairs(t *testing.T, path string) map[string]bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		i := strings.Index(line, " [")
		j := strings.Index(line, "] \"")
		if i < 0 || j < i {
			continue
		}
		ts, err := time.Parse("02/Jan/2006:15:04:05 -0700", line[i+2:j])
		if err != nil {
			continue
		}
		fields := strings.Fields(line[:i])
		client := fields[0]
		if len(fields) == 4 { // vhost:port client ident user
			client = fields[1]
		}
		out[client+"|"+ts.UTC().Truncate(time.Minute).Format(time.RFC3339)] = true
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPipeline_BadInput feeds hostile bytes: nothing panics, every line is
// accounted for as accepted or rejected.
func TestPipeline_BadInput(t *testing.T) {
	good := `10.0.0.1 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 10 "-" "x"`
	long := strings.Repeat("A", 1<<20+10)
	cases := []struct {
		name           string
		input          string
		parsed, reject int64
	}{
		{"empty file", "", 0, 0},
		{"only newlines", "\n\n\n", 0, 3},
		{"binary junk", "\x00\x01\x02\xff\xfe\n\x16\x03\x01\x02\x00\x01\x00\x01\xfc\n", 0, 2},
		{"NUL bytes inside", good[:20] + "\x00" + good[20:] + "\n" + good + "\n", 1, 1},
		{"invalid UTF-8 in user agent", strings.Replace(good, `"x"`, "\"\xff\xfe\xc3\x28\"", 1) + "\n", 1, 0},
		{"1 MiB line between good ones", good + "\n" + long + "\n" + good + "\n", 2, 1},
		{"truncated last line", good + "\n" + good[:30], 1, 1},
		{"CRLF endings", good + "\r\n" + good + "\r\n", 2, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "in.log")
			if err := os.WriteFile(path, []byte(tc.input), 0o644); err != nil {
				t.Fatal(err)
			}
			evs, st := runFile(t, path, Config{Host: "h", Source: "s", Parser: format.Parser{Format: format.Combined}})
			if st.Parsed != tc.parsed || st.Rejected != tc.reject {
				t.Errorf("parsed=%d rejected=%d (reasons %v), want %d and %d", st.Parsed, st.Rejected, st.Reasons, tc.parsed, tc.reject)
			}
			if st.Lines != st.Parsed+st.Rejected {
				t.Errorf("lines %d != parsed+rejected %d", st.Lines, st.Parsed+st.Rejected)
			}
			var hits float64
			for _, ev := range evs {
				h, _ := ev.Features.Get("hits")
				hits += h
				if _, err := ev.AppendJSON(nil); err != nil {
					t.Errorf("encode: %v", err)
				}
			}
			if int64(hits) != st.Parsed {
				t.Errorf("hits %v != parsed %d", hits, st.Parsed)
			}
		})
	}
}

func TestNewPipeline_WindowMismatch(t *testing.T) {
	m, err := detect.LoadModel(filepath.Join(repoRoot(t), "examples", "models", "web.json"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(Config{Parser: format.Parser{Format: format.Combined}, Model: m,
		Window: detect.WindowConfig{Window: 30 * time.Second}}, func(*event.Event) {})
	if err == nil || !strings.Contains(err.Error(), "window") {
		t.Fatalf("want a window mismatch error, got %v", err)
	}
	_, err = New(Config{Parser: format.Parser{Format: format.Squid}, Model: m}, func(*event.Event) {})
	if err == nil || !strings.Contains(err.Error(), "web") {
		t.Fatalf("want a kind mismatch error, got %v", err)
	}
}

// RenderTo writes byte for byte what emit's AppendJSON writes, in the same
// order, and counts the same events and anomalies: on every golden case's
// input and on a generated log with attackers, with and without
// AnomaliesOnly, with small batches and many workers.
func TestPipeline_RenderToEqualsEmit(t *testing.T) {
	m, err := detect.LoadModel(filepath.Join(repoRoot(t), "examples", "models", "web.json"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := loggen.Web(&buf, loggen.WebConfig{Seed: 3, Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Windows: 30, Visitors: 300, Crawlers: 3, AttackersPerType: 2}); err != nil {
		t.Fatal(err)
	}
	for _, anomalies := range []bool{false, true} {
		cfg := Config{Host: "h", Source: "s", Parser: format.Parser{Format: format.Combined, Location: time.UTC},
			Window: detect.WindowConfig{MaxKeys: 200}, Model: m, AnomaliesOnly: anomalies}
		var want bytes.Buffer
		var line []byte
		a, err := New(cfg, func(ev *event.Event) {
			line, _ = ev.AppendJSON(line[:0])
			want.Write(append(line, '\n'))
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.ReadBytes(context.Background(), buf.Bytes(), 0); err != nil {
			t.Fatal(err)
		}
		a.Flush()

		var got bytes.Buffer
		b, err := New(cfg, func(*event.Event) { t.Fatal("emit called while rendering") })
		if err != nil {
			t.Fatal(err)
		}
		b.RenderTo(&got, 3)
		if err := b.ReadBytes(context.Background(), buf.Bytes(), 0); err != nil {
			t.Fatal(err)
		}
		b.Flush()
		if err := b.FinishRender(); err != nil {
			t.Fatal(err)
		}
		if want.Len() == 0 || !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Errorf("anomalies only %v: RenderTo wrote %d bytes, emit %d; first difference at %d", anomalies, got.Len(), want.Len(), firstDiff(got.Bytes(), want.Bytes()))
		}
		if sa, sb := a.Stats(), b.Stats(); sa.Events != sb.Events || sa.Anomalies != sb.Anomalies || sa.KeyWindows != sb.KeyWindows {
			t.Errorf("anomalies only %v: stats %+v with RenderTo, %+v with emit", anomalies, sb, sa)
		}
		if err := b.FinishRender(); err == nil {
			t.Error("a second FinishRender succeeded")
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
