package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestTrainPlotAndModelPlot: train --plot writes the picture and a
// training report (per k, per cluster); model plot draws a model over
// data, on the principal axes or two features, and says how many windows
// were anomalous: as many as score flags.
func TestTrainPlotAndModelPlot(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "m.json")
	pic := filepath.Join(dir, "train.png")
	code, _, errs := run(t, "train", "--format", "combined", "--k", "auto", "--seed", "2", "-o", model, "--plot", pic, webLog)
	if code != 0 {
		t.Fatalf("train --plot: %s", errs)
	}
	for _, want := range []string{"silhouette per k tried", "cluster c0:", "threshold", "plotted"} {
		if !strings.Contains(errs, want) {
			t.Errorf("training report lacks %q:\n%s", want, errs)
		}
	}
	if fi, err := os.Stat(pic); err != nil || fi.Size() < 1000 {
		t.Fatalf("train --plot wrote %v (%v)", fi, err)
	}
	code, out, _ := run(t, "score", "--format", "combined", "--model", webModel, "--anomalies-only", webLog)
	if code != 0 {
		t.Fatal("score failed")
	}
	flagged := strings.Count(out, "\n")
	for _, args := range [][]string{{}, {"--x", "hits_non2xx", "--y", "distinct_paths"}} {
		pic := filepath.Join(dir, "model"+strings.Join(args, "")+".svg")
		code, _, errs := run(t, append([]string{"model", "plot", webModel, "--data", webLog, "--format", "combined", "-o", pic}, args...)...)
		if code != 0 {
			t.Fatalf("model plot %v: %s", args, errs)
		}
		if !strings.Contains(errs, "("+strconv.Itoa(flagged)+" anomalous)") {
			t.Errorf("model plot %v says %q; score flags %d", args, errs, flagged)
		}
		if b, err := os.ReadFile(pic); err != nil || !strings.Contains(string(b), "<svg") {
			t.Errorf("model plot %v wrote no SVG (%v)", args, err)
		}
	}
	if code, _, errs := run(t, "model", "plot", webModel, "-o", filepath.Join(dir, "x.png")); code != 2 || !strings.Contains(errs, "--data") {
		t.Errorf("model plot without --data: exit %d %q", code, errs)
	}
	// Data that makes no window: said, for plot and diff alike.
	garbage := filepath.Join(dir, "garbage.log")
	os.WriteFile(garbage, []byte("not a log line\nnor this\n"), 0o644)
	for _, args := range [][]string{
		{"model", "plot", webModel, "--data", garbage, "--format", "combined", "-o", filepath.Join(dir, "g.png")},
		{"model", "diff", webModel, webModel, "--data", garbage, "--format", "combined"},
	} {
		if code, _, errs := run(t, args...); code != 1 || !strings.Contains(errs, "no training rows") {
			t.Errorf("%s on data without windows: exit %d %q", args[1], code, errs)
		}
	}
}
