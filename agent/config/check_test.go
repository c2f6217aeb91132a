package config

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// writeFiles creates files (name → content) under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// loadIn writes the configuration lines to dir/sharkfin.yaml and loads it.
func loadIn(t *testing.T, dir string, lines ...string) *Config {
	t.Helper()
	path := filepath.Join(dir, "sharkfin.yaml")
	if err := os.WriteFile(path, doc(lines...), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCheck_Clean(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"logs/access.log":      "",
		"logs/access.log.1.gz": "", // excluded by default, so not claimed twice
		"logs/queries.log":     "",
		"models/web.json":      "{}",
		"models/web.json.sig":  "x",
		"models/dns.json":      "{}",
		"models/dns.json.sig":  "x",
		"keys/ops.pub":         "k",
		"ut1/adult/domains":    "example.com\n",
		"ca.pem":               "",
	})
	c := loadIn(t, dir,
		"inputs:",
		"  - {name: web, path: logs/access.log*, format: combined}",
		"  - {name: gz, path: logs/*.gz, format: combined}",
		"  - {name: dns, path: logs/queries.log, format: bind}",
		"state: {path: var/state.db}",
		"detect:",
		"  models: {web: models/web.json, dns: models/dns.json}",
		"  trusted_keys: [keys/ops.pub]",
		"  domains: {categories: ut1}",
		"output: {fluentd: {tls: true, ca_file: ca.pem}}",
	)
	for _, err := range c.Check() {
		p := err.(*Problem)
		if !p.Warning {
			t.Errorf("clean configuration: %v", err)
		} else if p.Path != "inputs[1].path" {
			t.Errorf("unexpected warning: %v", err)
		}
	}
}

// Check reports every problem at once, each at its key and line.
func TestCheck_ReportsEveryProblem(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"logs/access.log": "",
		"models/dns.json": "{}", // no .sig though keys are trusted
		"not-a-dir":       "",
	})
	c := loadIn(t, dir,
		"inputs:", // 1
		"  - {name: web, path: logs/access.log, format: combined}", // 2
		"  - {name: web2, path: logs/acc*.log, format: combined}",  // 3: same file
		"  - {name: dns, path: nowhere/*.log, format: bind}",       // 4: no directory
		"  - {name: dns2, path: logs/*.dns, format: bind}",         // 5: no file yet
		"state: {path: not-a-dir/state.db}",                        // 6
		"detect:",                                                  // 7
		"  models:",                                                // 8
		"    web: models/web.json",                                 // 9: missing
		"    dns: models/dns.json",                                 // 10: no signature
		"  trusted_keys: [keys/ops.pub]",                           // 11: missing
		"  domains: {categories: cat.csv}",                         // 12: missing
		"output: {fluentd: {tls: true, ca_file: ca.pem}}",          // 13: missing
	)
	type key struct {
		path    string
		line    int
		warning bool
	}
	want := []key{
		{"inputs[1].path", 3, false},
		{"inputs[2].path", 4, true},
		{"inputs[3].path", 5, true},
		{"state.path", 6, false},
		{"detect.models.web", 9, false},
		{"detect.models.dns", 10, false},
		{"detect.trusted_keys[0]", 11, false},
		{"detect.domains.categories", 12, false},
		{"output.fluentd.ca_file", 13, false},
	}
	var got []key
	for _, err := range c.Check() {
		p := err.(*Problem)
		if p.File != c.Path {
			t.Errorf("%v: file %q, want %q", p, p.File, c.Path)
		}
		got = append(got, key{p.Path, p.Line, p.Warning})
		t.Log(p)
	}
	sort.Slice(got, func(i, j int) bool { return got[i].line < got[j].line })
	if len(got) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v\n%v", len(got), len(want), got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("problem %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestCheck_Permissions(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads and writes every file; permissions cannot be tested")
	}
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"logs/access.log": "", "models/web.json": "{}"})
	for _, p := range []string{"logs/access.log", "models/web.json"} {
		if err := os.Chmod(filepath.Join(dir, p), 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "ro"), 0o500); err != nil {
		t.Fatal(err)
	}
	c := loadIn(t, dir,
		"inputs: [{name: web, path: logs/access.log, format: combined}]",
		"state: {path: ro/sub/state.db}",
		"detect: {models: {web: models/web.json}}",
	)
	var paths []string
	for _, err := range c.Check() {
		paths = append(paths, err.(*Problem).Path)
		t.Log(err)
		if !strings.Contains(err.Error(), "permission denied") {
			t.Errorf("%v: want the reason", err)
		}
	}
	if strings.Join(paths, " ") != "inputs[0].path detect.models.web state.path" {
		t.Errorf("problems at %v", paths)
	}
}

func TestCheck_DirectoriesWhereFilesBelong(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"logs/access.log":    "",
		"logs/archive/x.log": "",
		"models/web.json/x":  "",
		"state/old":          "",
		"ut1/README":         "",
	})
	c := loadIn(t, dir,
		"inputs: [{name: web, path: logs/*, format: combined}]", // 1
		"state: {path: state}",             // 2
		"detect:",                          // 3
		"  models: {web: models/web.json}", // 4
		"  domains: {categories: ut1}",     // 5
	)
	want := []string{
		"warning inputs[0].path 1 directory",
		"error detect.models.web 4 directory",
		"error state.path 2 directory",
		"warning detect.domains.categories 5 domains",
	}
	var got []string
	for _, err := range c.Check() {
		p := err.(*Problem)
		kind := "error"
		if p.Warning {
			kind = "warning"
		}
		got = append(got, fmt.Sprintf("%s %s %d", kind, p.Path, p.Line))
		t.Log(p)
	}
	if len(got) != len(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	for i, w := range want {
		if !strings.HasPrefix(w, got[i]+" ") {
			t.Errorf("problem %d: %q, want %q", i, got[i], w)
		}
	}
}
