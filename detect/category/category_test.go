package category

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/socx/sharkfin/internal/e2etest"
)

func mustParse(t testing.TB, text string) *List {
	t.Helper()
	l, err := ParseCSV(strings.NewReader(text), "list.csv")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestLookup_SuffixCaseAndIPs(t *testing.T) {
	l := mustParse(t, `domain,category
# a comment
example.com,news

ads.Example.COM , ads
"*.tracker.net","ads, tracking"
.cdn.org,cdn
10.0.0.1,internal
2001:DB8:0::1,internal
`)
	for host, want := range map[string]string{
		"example.com":          "news",
		"EXAMPLE.com.":         "news",
		"www.example.com":      "news",
		"ads.example.com":      "ads", // the longest listed suffix wins
		"x.y.ads.example.com":  "ads",
		"tracker.net":          "ads, tracking",
		"a.tracker.net":        "ads, tracking",
		"static.cdn.org":       "cdn",
		"10.0.0.1":             "internal",
		"[2001:db8::1]":        "internal",
		"2001:0db8:0:0::1":     "internal",
		"notexample.com":       "",
		"example.com.evil.net": "",
		"com":                  "",
		"110.0.0.1":            "", // an address matches only itself...
		"0.0.1":                "", // ...and is never a suffix
		"1.10.0.0.1":           "",
		"evil.10.0.0.1":        "", // a name ending in an address is not that address
		"2001:db8::2":          "",
		"":                     "",
		".":                    "",
		"[]":                   "",
	} {
		got, ok := l.Lookup([]byte(host))
		if got != want || ok != (want != "") {
			t.Errorf("Lookup(%q) = %q, %v; want %q", host, got, ok, want)
		}
	}
	if s := l.Stats(); s.Entries != 6 || s.Categories != 5 || s.Duplicates != 0 || s.Files != 1 {
		t.Errorf("stats %+v", s)
	}
	var nilList *List
	if _, ok := nilList.Lookup([]byte("example.com")); ok {
		t.Error("a nil list matched")
	}
}

func TestParseCSV_FirstListingWins(t *testing.T) {
	l := mustParse(t, "a.com,one\nb.com,two\nA.com.,three\n")
	if c, _ := l.Lookup([]byte("x.a.com")); c != "one" {
		t.Errorf("a.com is %q, want one (its first listing)", c)
	}
	if s := l.Stats(); s.Entries != 2 || s.Duplicates != 1 || s.Categories != 3 {
		t.Errorf("stats %+v", s)
	}
	// A header is only a header on the first line.
	l = mustParse(t, "a.com,x\ndomain,category\n")
	if c, _ := l.Lookup([]byte("domain")); c != "category" {
		t.Errorf("a later domain,category line is an entry; got %q", c)
	}
	// An empty list (only a header) is valid and matches nothing.
	if l := mustParse(t, "domain,category\n"); l.Stats().Entries != 0 {
		t.Error("entries in an empty list")
	} else if _, ok := l.Lookup([]byte("a.com")); ok {
		t.Error("an empty list matched")
	}
}

func TestParseCSV_ErrorsSayFileLineAndFix(t *testing.T) {
	for _, tc := range []struct {
		text string
		line int
		want string
	}{
		{"a.com,x\nb.com\n", 2, "1 fields; want domain,category"},
		{"a.com,x,y\n", 1, "3 fields"},
		{"# c\n\na.com,\n", 3, "has no category"},
		{"http://a.com/x,ads\n", 1, "looks like a URL"},
		{"a.com/path,ads\n", 1, "looks like a URL"},
		{"a b.com,ads\n", 1, "' ' at byte 2"},
		{"a..com,ads\n", 1, "empty label"},
		{"ex\u00e4mple.com,ads\n", 1, "xn--"},
		{strings.Repeat("a", 64) + ".com,ads\n", 1, "longer than 63"},
		{strings.Repeat("a.", 127) + "com,ads\n", 1, "longer than 253"},
		{"1.2.3.999,ads\n", 1, "neither a domain name nor an IP address"},
		{"a.com,x\n\"b.com,ads\n", 2, "quote a field"},
		{"a.com,x\nb\"c.com,ads\n", 2, "quote a field"},
	} {
		_, err := ParseCSV(strings.NewReader(tc.text), "cats.csv")
		var le *Error
		if !errors.As(err, &le) || le.File != "cats.csv" || le.Line != tc.line || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v; want cats.csv:%d: ...%s...", tc.text, err, tc.line, tc.want)
		}
	}
}

func writeFile(t testing.TB, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoad_UT1Directory(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "ads", "domains"), "adserver.net\n# comment\n\n  shared.org  \n")
	writeFile(t, filepath.Join(dir, "ads", "urls"), "adserver.net/banner\n") // not read
	writeFile(t, filepath.Join(dir, "malware", "domains"), "evil.example\nshared.org\n6.6.6.6\n")
	writeFile(t, filepath.Join(dir, "urlsonly", "urls"), "x.com/y\n")
	writeFile(t, filepath.Join(dir, "README"), "not a category\n")
	if err := os.Symlink(filepath.Join(dir, "malware"), filepath.Join(dir, "phishing")); err != nil {
		t.Fatal(err)
	}
	l, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]string{
		"cdn.adserver.net": "ads",
		"shared.org":       "ads", // ads comes first in name order
		"a.evil.example":   "malware",
		"6.6.6.6":          "malware",
		"x.com":            "",
	} {
		if got, _ := l.Lookup([]byte(host)); got != want {
			t.Errorf("Lookup(%q) = %q, want %q", host, got, want)
		}
	}
	// phishing (a link to malware) lists the same names again.
	if s := l.Stats(); s.Files != 3 || s.Entries != 4 || s.Duplicates != 4 || s.Categories != 3 {
		t.Errorf("stats %+v", s)
	}

	writeFile(t, filepath.Join(dir, "zbad", "domains"), "ok.com\nbad name.com\n")
	_, err = Load(dir)
	var le *Error
	if !errors.As(err, &le) || le.File != filepath.Join(dir, "zbad", "domains") || le.Line != 2 {
		t.Errorf("a bad line in a domains file: %v; want its file and line 2", err)
	}

	empty := t.TempDir()
	writeFile(t, filepath.Join(empty, "blacklists", "ads", "domains"), "a.com\n")
	if l, err := Load(empty); err != nil || l.Stats() != (Stats{}) {
		t.Errorf("a directory without domains files: %v, %+v; want an empty list (the lists may come later)", err, l.Stats())
	}
	if _, err := Load(filepath.Join(empty, "missing.csv")); err == nil || !strings.Contains(err.Error(), "missing.csv") {
		t.Errorf("a missing file: %v", err)
	}
}

func TestLookup_AllocatesNothing(t *testing.T) {
	l := mustParse(t, "example.com,news\n10.0.0.1,internal\n2001:db8::1,internal\n")
	for _, host := range []string{"a.b.c.www.example.com", "nothing.here.net", "10.0.0.1", "[2001:db8::1]", "2001:db8::2", "Mixed.Case.Example.COM."} {
		b := []byte(host)
		if n := testing.AllocsPerRun(100, func() { l.Lookup(b) }); n != 0 {
			t.Errorf("Lookup(%q): %v allocations", host, n)
		}
	}
}

// genList writes a CSV of n distinct names in 60 categories, shaped like
// a real blocklist: registrable names of 6-16 letters under common TLDs,
// a fifth of them with a host label in front (~17 bytes each).
func genList(t testing.TB, path string, n int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<16)
	rng := rand.New(rand.NewPCG(1, 2))
	tlds := []string{"com", "net", "org", "de", "fr", "ru", "info", "co.uk", "xyz", "io"}
	fmt.Fprintln(w, "domain,category")
	label := make([]byte, 0, 16)
	for i := range n {
		label = label[:0]
		for range 6 + rng.IntN(11) {
			label = append(label, byte('a'+rng.IntN(26)))
		}
		if rng.IntN(5) == 0 {
			w.WriteString("cdn")
			w.WriteString(strconv.Itoa(i % 10))
			w.WriteByte('.')
		}
		w.Write(label)
		w.WriteString(strconv.Itoa(i)) // distinct
		w.WriteByte('.')
		w.WriteString(tlds[rng.IntN(len(tlds))])
		w.WriteString(",cat")
		w.WriteString(strconv.Itoa(rng.IntN(60)))
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// loadChildEnv makes the test binary load one list and report, so that its
// peak RSS is the load's alone.
const loadChildEnv = "SHARKFIN_CATEGORY_LOAD"

func TestMain(m *testing.M) {
	if path := os.Getenv(loadChildEnv); path != "" {
		start := time.Now()
		l, err := Load(path)
		took := time.Since(start)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		hwm := vmHWM()
		fmt.Printf("%d %d %d\n", l.Stats().Entries, took.Nanoseconds(), hwm)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// vmHWM is this process's peak resident set in bytes (0 if unknown).
func vmHWM() int64 {
	n, _ := e2etest.PeakRSS(0)
	return n
}

// TestLoad_MillionEntries loads a 1,000,000-entry list in a process of its
// own: its peak RSS (the whole test binary included) stays under 100 MiB
// and the process takes under 2 s of CPU (~0.6 s wall on an idle 2-core
// VM).
func TestLoad_MillionEntries(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	path := filepath.Join(t.TempDir(), "million.csv")
	genList(t, path, 1_000_000)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), loadChildEnv+"="+path)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v %s", err, out)
	}
	// The child's CPU time, not the wall time, is held to the bound: on a
	// loaded machine the load waits for a core, it does not take longer.
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	var entries, ns, hwm int64
	if _, err := fmt.Sscan(string(out), &entries, &ns, &hwm); err != nil {
		t.Fatalf("child said %q: %v", out, err)
	}
	took := time.Duration(ns)
	t.Logf("1,000,000 entries: loaded in %s (the process: %s of CPU), peak RSS %d MiB", took.Round(time.Millisecond), cpu.Round(time.Millisecond), hwm>>20)
	if entries != 1_000_000 {
		t.Errorf("%d entries loaded", entries)
	}
	if hwm == 0 || hwm >= 100<<20 {
		t.Errorf("peak RSS %d MiB, want under 100", hwm>>20)
	}
	if cpu >= 2*time.Second {
		t.Errorf("the load took %s of CPU (%s wall), want under 2 s", cpu, took)
	}
}

func BenchmarkLookup(b *testing.B) {
	path := filepath.Join(b.TempDir(), "list.csv")
	genList(b, path, 1_000_000)
	l, err := Load(path)
	if err != nil {
		b.Fatal(err)
	}
	// A listed name's subdomain two labels deep, and an unlisted name.
	var listed string
	f, _ := os.Open(path)
	sc := bufio.NewScanner(f)
	for i := 0; sc.Scan() && i < 1000; i++ {
		listed, _, _ = strings.Cut(sc.Text(), ",")
	}
	f.Close()
	for _, tc := range []struct{ name, host string }{
		{"hit", "img.static." + listed},
		{"miss", "img.static.unlisted-site.com"},
		{"ipv4_miss", "192.0.2.77"},
	} {
		h := []byte(tc.host)
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				l.Lookup(h)
			}
		})
	}
}

func BenchmarkLoad(b *testing.B) {
	path := filepath.Join(b.TempDir(), "list.csv")
	genList(b, path, 1_000_000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load(path); err != nil {
			b.Fatal(err)
		}
	}
}
