package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheck_ExitCodes runs `sharkfin check` on a good config, a config
// with an unknown key, and one whose model file is invalid.
func TestCheck_ExitCodes(t *testing.T) {
	dir := t.TempDir()
	model, _ := filepath.Abs(webModel)
	logPath, _ := filepath.Abs(webLog)
	good := `inputs:
  - name: web
    path: ` + logPath + `
    format: combined
state: { path: ` + filepath.Join(dir, "state", "state.db") + ` }
detect:
  models: { web: MODEL }
metrics: { listen: "" }
`
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	badModel := write("bad-model.json", `{"format":"sharkfin.model/v1"}`)
	goodCats := write("cats.csv", "domain,category\nexample.com,news\n")
	badCats := write("bad-cats.csv", "domain,category\nexample.com,news\nhttp://x.org/,ads\n")
	withCats := func(list string) string {
		return strings.Replace(strings.Replace(good, "MODEL", model, 1), "  models:", "  domains: { categories: "+list+" }\n  models:", 1)
	}
	cases := []struct {
		name, body string
		code       int
		msg        string
	}{
		{"valid", strings.Replace(good, "MODEL", model, 1), 0, ""},
		{"unknown key", strings.Replace(good, "MODEL", model, 1) + "detectt: {}\n", 1, "line 9: detectt"},
		{"invalid model", strings.Replace(good, "MODEL", badModel, 1), 1, "detect.models.web"},
		// An input whose directory does not exist yet waits for it: a
		// warning, not a failure (the unit runs check before every start).
		{"categories", withCats(goodCats), 0, ""},
		// A category list is read as the agent would: a bad line is
		// named by file and line.
		{"bad categories", withCats(badCats), 1, "bad-cats.csv:3: \"http://x.org/\" looks like a URL"},
		// A model scoring with other features than detect.features lists
		// is a warning naming both (the model's win).
		{"features differ", strings.Replace(strings.Replace(good, "MODEL", model, 1), "  models:", "  features: { web: [hits, post] }\n  models:", 1),
			0, "detect.features.web: model web@example-1 scores with [hits_2xx hits_non2xx distinct_paths post error_ratio], not [hits post]"},
		{"missing log dir", strings.Replace(strings.Replace(good, "MODEL", model, 1), logPath, filepath.Join(dir, "nginx", "access.log*"), 1), 0, "does not exist (yet)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := write(strings.ReplaceAll(tc.name, " ", "-")+".yaml", tc.body)
			code, out, errs := run(t, "check", "-c", cfg)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout %s\nstderr %s", code, tc.code, out, errs)
			}
			if tc.msg != "" && !strings.Contains(errs, tc.msg) {
				t.Errorf("stderr %q lacks %q", errs, tc.msg)
			}
		})
	}
}
