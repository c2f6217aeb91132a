package main

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// fluentdEvents writes the ip_score events of `score` on the bundled log
// as Fluentd's out_file does with format json and inject (tag and time
// keys added), gzipped, split into two files; it returns how many events
// and how many of them were anomalous.
func fluentdEvents(t *testing.T, dir string) (total, anomalous int) {
	t.Helper()
	code, out, errs := run(t, "score", "--format", "combined", "--model", webModel, webLog)
	if code != 0 {
		t.Fatalf("score: %s", errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for part := range 2 {
		f, err := os.Create(filepath.Join(dir, "fleet."+string(rune('a'+part))+".log.gz"))
		if err != nil {
			t.Fatal(err)
		}
		zw := gzip.NewWriter(f)
		w := bufio.NewWriter(zw)
		for i := part; i < len(lines); i += 2 {
			var m map[string]any
			if err := json.Unmarshal([]byte(lines[i]), &m); err != nil {
				t.Fatal(err)
			}
			m["tag"], m["time"] = "sharkfin.web.ip_score", "2026-12-06T10:00:00+00:00"
			b, _ := json.Marshal(m)
			w.Write(append(b, '\n'))
			if m["anomalous"] == true {
				anomalous++
			}
			total++
		}
		w.Flush()
		zw.Close()
		f.Close()
	}
	return total, anomalous
}

// TestTrain_FleetEventsSampledAndFiltered trains on Fluentd-written event
// files given as a quoted glob: every window read, the anomalous ones left
// out with --exclude-anomalous, and a uniform sample of --sample-rows of
// them trained on (rows and rows_read in the model).
func TestTrain_FleetEventsSampledAndFiltered(t *testing.T) {
	dir := t.TempDir()
	total, anomalous := fluentdEvents(t, dir)
	if anomalous == 0 {
		t.Fatal("no anomalous events to leave out")
	}
	glob := filepath.Join(dir, "fleet.*.log.gz")
	model := filepath.Join(dir, "m.json")
	code, _, errs := run(t, "train", "--k", "3", "--seed", "4", "--exclude-anomalous", "--sample-rows", "300", "-o", model, glob)
	if code != 0 {
		t.Fatalf("train: %s", errs)
	}
	var m struct {
		Training struct {
			Rows     int `json:"rows"`
			RowsRead int `json:"rows_read"`
		} `json:"training"`
	}
	b, err := os.ReadFile(model)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m.Training.Rows != 300 || m.Training.RowsRead != total-anomalous {
		t.Errorf("trained on %d of %d rows; want 300 of %d (%d events less %d anomalous)\n%s",
			m.Training.Rows, m.Training.RowsRead, total-anomalous, total, anomalous, errs)
	}
	for _, want := range []string{"left out " + strconv.Itoa(anomalous) + " windows", "uniform sample of 300 of"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
	// Logs say nothing of what a model flagged.
	if code, _, errs := run(t, "train", "--format", "combined", "--exclude-anomalous", "-o", model, webLog); code != 2 || !strings.Contains(errs, "event files") {
		t.Errorf("--exclude-anomalous on logs: exit %d %q", code, errs)
	}
	if code, _, errs := run(t, "train", "-o", model, filepath.Join(dir, "nothing.*.gz")); code == 0 || !strings.Contains(errs, "matches no file") {
		t.Errorf("a glob matching nothing: exit %d %q", code, errs)
	}
}
