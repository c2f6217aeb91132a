package pipeline

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/socx/sharkfin/detect"
	"github.com/socx/sharkfin/event"
	"github.com/socx/sharkfin/record"
	"github.com/socx/sharkfin/tailer/format"
)

// TestTrain_RobustToAttacksInTrainingData measures the choice documented in
// detect.TrainConfig.MinShare on the team's real web logs, which contain
// scanners: training keeps only clusters holding at least 2% of the rows.
// Windows with many error responses (the scanners' windows) must be flagged
// when training drops small clusters, while keeping every cluster learns
// most of them as normal. Windows without errors must stay quiet either way.
func TestTrain_RobustToAttacksInTrainingData(t *testing.T) {
	root := sharedData(t)
	files, _ := filepath.Glob(filepath.Join(root, "realserver-2020", "access.log.*"))
	files = append(files, filepath.Join(root, "wordpress-2025", "access.log"), filepath.Join(root, "elastic-apache", "apache_logs"))
	var evs []*event.Event
	for _, f := range files { // one pipeline per file: each file is in time order
		e, _ := runFile(t, f, Config{Host: "h", Source: "real", Parser: format.Parser{Format: format.Combined}})
		evs = append(evs, e...)
	}
	names := detect.WithoutVocabulary(detect.DefaultModelFeatures(record.KindWeb)) // no vocabulary: the robustness of training alone
	rows := make([][]float64, len(evs))
	for i, ev := range evs {
		rows[i] = make([]float64, len(names))
		for j, n := range names {
			rows[i][j], _ = ev.Features.Get(n)
		}
	}
	type result struct{ heavy, errorFree rate }
	measure := func(minShare float64) result {
		m, _, err := detect.Train(rows, detect.TrainConfig{Kind: record.KindWeb, Seed: 1, MinShare: minShare,
			Now: func() time.Time { return time.Unix(0, 0) }})
		if err != nil {
			t.Fatal(err)
		}
		sc, err := detect.NewScorer(m, record.KindWeb)
		if err != nil {
			t.Fatal(err)
		}
		var r result
		full := make([]float64, len(detect.FeatureNames(record.KindWeb)))
		for _, ev := range evs {
			for i, f := range ev.Features {
				full[i] = f.Value
			}
			a := sc.Score(full).Anomalous
			non2xx, _ := ev.Features.Get("hits_non2xx")
			switch {
			case non2xx >= 10:
				r.heavy.total++
				if a {
					r.heavy.hit++
				}
			case non2xx == 0:
				r.errorFree.total++
				if a {
					r.errorFree.hit++
				}
			}
		}
		return r
	}
	robust, naive := measure(0), measure(-1)
	t.Logf("IP-windows with >= 10 error responses flagged: min-share 2%%: %d/%d (%.1f%%); all clusters kept: %d/%d (%.1f%%)",
		robust.heavy.hit, robust.heavy.total, 100*robust.heavy.frac(), naive.heavy.hit, naive.heavy.total, 100*naive.heavy.frac())
	t.Logf("error-free IP-windows flagged: min-share 2%%: %d/%d (%.2f%%); all kept: %d/%d (%.2f%%)",
		robust.errorFree.hit, robust.errorFree.total, 100*robust.errorFree.frac(), naive.errorFree.hit, naive.errorFree.total, 100*naive.errorFree.frac())
	if robust.heavy.total < 20 {
		t.Fatalf("only %d heavy windows: the real logs changed?", robust.heavy.total)
	}
	if robust.heavy.frac() < 0.9 {
		t.Errorf("robust training flags %.2f of heavy-error windows, want >= 0.9", robust.heavy.frac())
	}
	if robust.errorFree.frac() > 0.01 {
		t.Errorf("robust training flags %.4f of error-free windows, want <= 0.01", robust.errorFree.frac())
	}
}
