package main

import (
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestModelDiff trains a second model on the bundled log with a stricter
// quantile (lower thresholds) and diffs it against the bundled model: the
// verdict figures on --data equal those of `score` with each model.
func TestModelDiff(t *testing.T) {
	dir := t.TempDir()
	strict := filepath.Join(dir, "strict.json")
	if code, _, errs := run(t, "train", "--format", "combined", "--quantile", "0.9", "--seed", "3", "--features", "hits_2xx,hits_non2xx,distinct_paths,post,error_ratio", "-o", strict, webLog); code != 0 {
		t.Fatalf("train: %s", errs)
	}
	flagged := func(model string) int {
		code, out, errs := run(t, "score", "--format", "combined", "--model", model, "--anomalies-only", webLog)
		if code != 0 {
			t.Fatalf("score: %s", errs)
		}
		return strings.Count(out, "\n")
	}
	code, out, errs := run(t, "model", "diff", webModel, strict, "--data", webLog, "--format", "combined")
	if code != 0 {
		t.Fatalf("diff: exit %d: %s", code, errs)
	}
	t.Log(out)
	m := regexp.MustCompile(`verdicts on (\d+) windows: old flags (\d+) .*, new flags (\d+) .*; ([0-9.]+)% change verdict: (\d+) become anomalous, (\d+) become normal`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no verdict line in %q", out)
	}
	n := make([]int, 7)
	for i := 1; i < 7; i++ {
		if i != 4 {
			n[i], _ = strconv.Atoi(m[i])
		}
	}
	if n[2] != flagged(webModel) || n[3] != flagged(strict) {
		t.Errorf("diff says old flags %d, new %d; score flags %d and %d", n[2], n[3], flagged(webModel), flagged(strict))
	}
	if n[3]-n[2] != n[5]-n[6] || n[5] == 0 {
		t.Errorf("flag counts %d -> %d do not follow from %d become anomalous, %d normal", n[2], n[3], n[5], n[6])
	}
	if !strings.Contains(out, "nearest new") || !strings.Contains(out, "nearest old") {
		t.Errorf("no cluster tables in %q", out)
	}

	// Models of other kinds: clusters not compared, --data refused.
	dns := "../../examples/models/dns.json"
	code, out, errs = run(t, "model", "diff", webModel, dns)
	if code != 0 || !strings.Contains(out, "clusters not compared: kinds differ") {
		t.Errorf("web vs dns: exit %d, %q %q", code, out, errs)
	}
	if code, _, errs = run(t, "model", "diff", webModel, dns, "--data", webLog); code == 0 || !strings.Contains(errs, "one kind") {
		t.Errorf("web vs dns with --data: exit %d, %q", code, errs)
	}
}
