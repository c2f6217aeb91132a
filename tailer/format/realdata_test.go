package format

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/socx/sharkfin/record"
)

// sharedData locates the team's real sample logs: $SHARKFIN_SHARED_DATA,
// else ../shared/data next to the repository root.
func sharedData() (string, bool) {
	dir := os.Getenv("SHARKFIN_SHARED_DATA")
	if dir == "" {
		root, err := repoRoot()
		if err != nil {
			return "", false
		}
		dir = filepath.Join(root, "..", "shared", "data")
	}
	fi, err := os.Stat(dir)
	return dir, err == nil && fi.IsDir()
}

// sharedDataDir is sharedData for tests that need the real logs: it skips tb
// when they are absent.
func sharedDataDir(tb testing.TB) string {
	tb.Helper()
	dir, ok := sharedData()
	if !ok {
		tb.Skipf("real sample logs not found at %q: this test reads the team's ../shared/data (or $SHARKFIN_SHARED_DATA)", dir)
	}
	return dir
}

// repoRoot walks up from the working directory to the directory holding go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// readLines returns the lines of path without their newline; a last line
// without newline counts.
func readLines(tb testing.TB, path string) [][]byte {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("read %s: %v", path, err)
	}
	data = bytes.TrimSuffix(data, []byte("\n"))
	if len(data) == 0 {
		return nil
	}
	return bytes.Split(data, []byte("\n"))
}

// realFile says how to parse a file of the shared data set and what its
// lines must satisfy.
type realFile struct {
	format Format
	vhost  bool      // every accepted line names a vhost
	from   time.Time // all accepted times lie in [from, to]
	to     time.Time
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// realFiles maps "folder/file" patterns (path.Match) of the shared data to
// their format and ground truth from the folders' SOURCE.txt.
var realFiles = []struct {
	pattern string
	realFile
}{
	{"elastic-apache/apache_logs", realFile{format: Combined,
		from: utc("2015-05-17T10:05:00Z"), to: utc("2015-05-20T21:06:00Z")}},
	{"wordpress-2025/access.log", realFile{format: Combined,
		from: utc("2025-04-17T05:10:00+01:00"), to: utc("2025-05-02T16:44:00+01:00")}},
	{"secrepo-selflogs-sample/access.log", realFile{format: Combined,
		from: utc("2015-09-29T21:15:00-04:00"), to: utc("2015-10-03T12:19:00-04:00")}},
	{"realserver-2020/access.log.*", realFile{format: Combined,
		from: utc("2020-11-02T00:00:00Z"), to: utc("2020-12-02T00:00:00Z")}},
	{"realserver-2020/appended_test_lines_from_access.log.1.txt", realFile{format: Combined,
		from: utc("2017-02-25T00:00:00Z"), to: utc("2020-12-02T00:00:00Z")}},
	{"realserver-2020/other_vhosts_access.log*", realFile{format: Combined, vhost: true,
		from: utc("2020-11-02T00:00:00Z"), to: utc("2020-12-02T00:00:00Z")}},
	{"squid-secrepo-head100/access1.log", realFile{format: Squid,
		from: utc("2006-09-08T04:21:52Z"), to: utc("2006-09-08T04:23:08Z")}},
	{"squid-ncl-2010/squid_access.log", realFile{format: Squid,
		from: utc("2010-10-08T11:11:48Z"), to: utc("2010-10-08T11:12:32Z")}},
	{"squid-lab-2025/access.log", realFile{format: Squid,
		from: utc("2025-08-12T06:01:00Z"), to: utc("2025-08-12T13:50:00Z")}},
	// Local times; parsed as UTC here.
	{"bind-sample/queries-head2000.log", realFile{format: Bind,
		from: utc("2022-07-07T16:34:00Z"), to: utc("2022-07-07T16:36:00Z")}},
}

// expectedRejections lists every line of the shared data that must be
// rejected, as "folder/file:line" -> Reason. Any other rejection fails.
var expectedRejections = map[string]string{
	// A blank line between hand-appended test lines.
	"realserver-2020/appended_test_lines_from_access.log.1.txt:3": "empty",
}

func TestRealData(t *testing.T) {
	dir := sharedDataDir(t)
	folders, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	total, rejectedTotal := 0, 0
	for _, folder := range folders {
		if !folder.IsDir() {
			continue
		}
		files, err := os.ReadDir(filepath.Join(dir, folder.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, file := range files {
			name := folder.Name() + "/" + file.Name()
			if file.IsDir() || file.Name() == "SOURCE.txt" || strings.HasPrefix(file.Name(), "README") {
				continue
			}
			spec, ok := lookupRealFile(name)
			if !ok {
				t.Errorf("%s: no format known for this file; add it to realFiles", name)
				continue
			}
			accepted, rejected := checkRealFile(t, filepath.Join(dir, name), name, spec, seen)
			total += accepted + rejected
			rejectedTotal += rejected
			t.Logf("%-60s %-8s accepted %6d rejected %d", name, spec.format, accepted, rejected)
		}
	}
	for key := range expectedRejections {
		if !seen[key] {
			t.Errorf("%s: expected a rejection (%s), the line was accepted or not found", key, expectedRejections[key])
		}
	}
	if total == 0 {
		t.Fatalf("no lines read from %s", dir)
	}
	t.Logf("total %d lines, %d rejected", total, rejectedTotal)
}

func lookupRealFile(name string) (realFile, bool) {
	for _, f := range realFiles {
		if ok, _ := filepath.Match(f.pattern, name); ok {
			return f.realFile, true
		}
	}
	return realFile{}, false
}

func checkRealFile(t *testing.T, path, name string, spec realFile, seen map[string]bool) (accepted, rejected int) {
	t.Helper()
	p := Parser{Format: spec.format, Location: time.UTC}
	var r record.Record
	sc := bufio.NewScanner(mustOpen(t, path))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	reasons := map[string]int{}
	for n := 1; sc.Scan(); n++ {
		key := fmt.Sprintf("%s:%d", name, n)
		line := sc.Bytes()
		err := p.Parse(line, &r)
		if err != nil {
			rejected++
			reasons[Reason(err)]++
			want, ok := expectedRejections[key]
			switch {
			case !ok:
				t.Errorf("%s: unexpected rejection %s (%v): %.200q", key, Reason(err), err, line)
			case want != Reason(err):
				t.Errorf("%s: rejected as %s, want %s", key, Reason(err), want)
			}
			seen[key] = true
			continue
		}
		accepted++
		if err := checkRecord(line, &r, spec); err != nil {
			t.Errorf("%s: %v: %.200q", key, err, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	if len(reasons) > 0 {
		t.Logf("%s rejections by reason: %v", name, reasons) // fmt sorts map keys
	}
	return accepted, rejected
}

// checkRecord asserts what every accepted line of a real file must yield.
func checkRecord(line []byte, r *record.Record, spec realFile) error {
	if err := checkAliases(line, r); err != nil {
		return err
	}
	tm := time.Unix(0, r.Time).UTC()
	if tm.Before(spec.from) || tm.After(spec.to) {
		return fmt.Errorf("time %v outside [%v, %v]", tm, spec.from, spec.to)
	}
	if !isIP(r.Client) && !(spec.format != Bind && isHostname(r.Client)) {
		return fmt.Errorf("client %q", r.Client)
	}
	switch spec.format {
	case Squid:
		if r.Action == nil {
			return fmt.Errorf("no action")
		}
		if r.Host == nil && !hasPrefix(r.Target, "error:") && !hasPrefix(r.Target, "/") {
			return fmt.Errorf("no host in target %q", r.Target)
		}
	case Combined:
		if r.Status < 100 || r.Status > 599 {
			return fmt.Errorf("status %d", r.Status)
		}
		if spec.vhost && r.Host == nil {
			return fmt.Errorf("no vhost")
		}
		if !spec.vhost && r.Host != nil {
			return fmt.Errorf("unexpected vhost %q", r.Host)
		}
	case Bind:
		if len(r.Host) == 0 || len(r.QType) == 0 {
			return fmt.Errorf("no query name or type")
		}
	}
	return nil
}

func mustOpen(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}
