package agent_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// e2eInput is one input of a test configuration.
type e2eInput struct {
	Name         string
	Path         string // glob
	Poll         bool
	PollInterval string   // "" for the default
	Allow        []string // inputs[].allow.cidrs
	AllowAgents  []string // inputs[].allow.user_agents
	MaxLineBytes string   // inputs[].max_line_bytes ("" for the default)
}

// e2eConfig is what a test chooses of the agent's configuration. The rest
// is fixed: events on stdout, the state in the test directory, start_at:
// beginning, rescan_interval 1s, rotate_wait 2s, flush_interval 200ms,
// 60s windows, lateness 1s (unless Lateness), emit: all.
type e2eConfig struct {
	Inputs []e2eInput
	// Lateness is detect.lateness ("" for 1s).
	Lateness string
	Model    string // web model file; default the bundled example
	MaxKeys  int    // 0: the default
	// CloseBatch is detect.close_batch (0: the default).
	CloseBatch int
	Metrics    string // listen address; "" turns the endpoint off
	LogLevel   string // default info
	Retention  string // state.retention; "" for the default
	// TrustedKeys are detect.trusted_keys; ModelCheck detect.model_check.
	TrustedKeys []string
	ModelCheck  string
	MaxModelAge string // detect.max_model_age; "" for the default (off)
	// PullInterval and PullCA are detect.model_pull's interval and ca_file.
	PullInterval, PullCA string
	Pprof                bool // metrics.pprof
}

// exampleModel is the bundled web model (window 60s).
func exampleModel(t testing.TB) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "examples", "models", "web.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("bundled model: %v", err)
	}
	return p
}

// exampleModelBytes is the bundled web model's file.
func exampleModelBytes(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(exampleModel(t))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// writeConfig writes dir/sharkfin.yaml and returns its path. The state
// lives in dir/state.
func writeConfig(t testing.TB, dir string, c e2eConfig) string {
	t.Helper()
	or := func(s, def string) string {
		if s == "" {
			return def
		}
		return s
	}
	var b strings.Builder
	fmt.Fprintf(&b, "host: e2e\nlog:\n  level: %s\ninputs:\n", or(c.LogLevel, "info"))
	for _, in := range c.Inputs {
		fmt.Fprintf(&b, "  - name: %s\n    path: %q\n    format: combined\n    start_at: beginning\n", in.Name, in.Path)
		fmt.Fprintf(&b, "    rescan_interval: 1s\n    rotate_wait: 2s\n")
		if in.Poll {
			fmt.Fprintf(&b, "    poll: true\n")
		}
		if in.PollInterval != "" {
			fmt.Fprintf(&b, "    poll_interval: %s\n", in.PollInterval)
		}
		if in.MaxLineBytes != "" {
			fmt.Fprintf(&b, "    max_line_bytes: %s\n", in.MaxLineBytes)
		}
		if len(in.Allow) > 0 || len(in.AllowAgents) > 0 {
			fmt.Fprintf(&b, "    allow:\n      cidrs: [%s]\n      user_agents: [%s]\n", strings.Join(in.Allow, ", "), strings.Join(in.AllowAgents, ", "))
		}
	}
	fmt.Fprintf(&b, "state:\n  path: %q\n  flush_interval: 200ms\n  lock_timeout: 1s\n", filepath.Join(dir, "state", "state.db"))
	if c.Retention != "" {
		fmt.Fprintf(&b, "  retention: %s\n", c.Retention)
	}
	model := c.Model
	if model == "" {
		model = exampleModel(t)
	}
	fmt.Fprintf(&b, "detect:\n  window: 60s\n  lateness: %s\n  emit: all\n  models:\n    web: %q\n", or(c.Lateness, "1s"), model)
	if c.MaxKeys > 0 {
		fmt.Fprintf(&b, "  max_keys: %d\n", c.MaxKeys)
	}
	if c.CloseBatch > 0 {
		fmt.Fprintf(&b, "  close_batch: %d\n", c.CloseBatch)
	}
	for i, k := range c.TrustedKeys {
		if i == 0 {
			fmt.Fprintf(&b, "  trusted_keys:\n")
		}
		fmt.Fprintf(&b, "    - %q\n", k)
	}
	if c.ModelCheck != "" {
		fmt.Fprintf(&b, "  model_check: %s\n", c.ModelCheck)
	}
	if c.MaxModelAge != "" {
		fmt.Fprintf(&b, "  max_model_age: %s\n", c.MaxModelAge)
	}
	if c.PullInterval != "" || c.PullCA != "" {
		fmt.Fprintf(&b, "  model_pull:\n")
		if c.PullInterval != "" {
			fmt.Fprintf(&b, "    interval: %s\n", c.PullInterval)
		}
		if c.PullCA != "" {
			fmt.Fprintf(&b, "    ca_file: %q\n", c.PullCA)
		}
	}
	fmt.Fprintf(&b, "output:\n  stdout: {}\nmetrics:\n  listen: %q\n", c.Metrics)
	if c.Pprof {
		fmt.Fprintf(&b, "  pprof: true\n")
	}
	path := filepath.Join(dir, "sharkfin.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
