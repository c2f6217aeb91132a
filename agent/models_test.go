package agent

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/socx/sharkfin/agent/config"
)

// A SIGHUP compares the sections only a restart applies by value: the
// same file parsed twice changes nothing (fmt.Sprint of the sections
// printed their pointers, so every reload warned), an edited one names
// what changed.
func TestRestartOnly_ComparesValues(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "examples", "sharkfin.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	parse := func(text string) *config.Config {
		t.Helper()
		c, err := config.Parse([]byte(text), "sharkfin.yaml")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b := parse(string(data)), parse(string(data))
	if changed := restartOnly(a, b); len(changed) != 0 {
		t.Errorf("the same file parsed twice: changed %v", changed)
	}
	edited := strings.Replace(string(data), "flush_interval: 1s", "flush_interval: 2s", 1)
	edited = strings.Replace(edited, "lateness: 5s", "lateness: 10s", 1)
	edited = strings.Replace(edited, "emit: all", "emit: anomalies", 1) // applied at once: not listed
	if edited == string(data) {
		t.Fatal("the example config changed: update the edits")
	}
	if changed := restartOnly(a, parse(edited)); !slices.Equal(changed, []string{"state", "detect.lateness"}) {
		t.Errorf("edited file: changed %v, want [state detect.lateness]", changed)
	}
}
