package config

import (
	"errors"
	"strings"
	"testing"
)

// doc joins lines into a YAML file; line numbers are the indexes plus one.
func doc(lines ...string) []byte { return []byte(strings.Join(lines, "\n") + "\n") }

// allModels is a detect section with a model for every kind.
const allModels = "detect: {models: {web: /m/web.json, proxy: /m/proxy.json, dns: /m/dns.json}}"

// inputDoc is a configuration with one input whose extra keys start on
// line 4; path and format are added after them unless fields set them.
func inputDoc(fields ...string) []byte {
	lines := []string{allModels, "inputs:", "  - name: web"}
	has := func(key string) bool {
		for _, f := range fields {
			if strings.HasPrefix(f, key+":") {
				return true
			}
		}
		return false
	}
	for _, f := range fields {
		lines = append(lines, "    "+f)
	}
	if !has("path") && !has("paths") {
		lines = append(lines, "    path: /var/log/web.log")
	}
	if !has("format") {
		lines = append(lines, "    format: combined")
	}
	return doc(lines...)
}

// topDoc is a configuration with one web input on lines 1 to 4, then
// extra from line 5, then a web model unless extra has a detect section.
func topDoc(extra ...string) []byte {
	lines := []string{"inputs:", "  - name: web", "    path: /var/log/web.log", "    format: combined"}
	lines = append(lines, extra...)
	hasDetect := false
	for _, l := range extra {
		hasDetect = hasDetect || strings.HasPrefix(l, "detect:")
	}
	if !hasDetect {
		lines = append(lines, "detect: {models: {web: /m/web.json}}")
	}
	return doc(lines...)
}

// mustParse parses data as the file /etc/sharkfin/sharkfin.yaml.
func mustParse(t *testing.T, data []byte) *Config {
	t.Helper()
	c, err := Parse(data, "/etc/sharkfin/sharkfin.yaml")
	if err != nil {
		t.Fatalf("Parse:\n%s\nerror:\n%v", data, err)
	}
	return c
}

// problemsOf lists the Problems in err, failing on any other error.
func problemsOf(t *testing.T, err error) []*Problem {
	t.Helper()
	var out []*Problem
	for _, e := range flatten(err) {
		var p *Problem
		if !errors.As(e, &p) {
			t.Fatalf("error %T is not a *Problem: %v", e, e)
		}
		out = append(out, p)
	}
	return out
}

// wantProblem checks that err has a problem at path on line, whose text
// has every one of words, and that every problem names the file.
func wantProblem(t *testing.T, err error, file string, line int, path string, words ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want one at line %d: %s", line, path)
	}
	var found bool
	for _, p := range problemsOf(t, err) {
		if p.File != file {
			t.Errorf("problem %q names file %q, want %q", p, p.File, file)
		}
		if p.Line != line || p.Path != path {
			continue
		}
		found = true
		text := p.Error()
		for _, w := range words {
			if !strings.Contains(text, w) {
				t.Errorf("problem %q lacks %q", text, w)
			}
		}
	}
	if !found {
		t.Errorf("no problem at line %d: %s; got:\n%v", line, path, err)
	}
}
