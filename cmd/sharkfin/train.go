package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/socx/sharkfin/detect"
	"github.com/socx/sharkfin/event"
	"github.com/socx/sharkfin/internal/clusterplot"
	"github.com/socx/sharkfin/pipeline"
	"github.com/socx/sharkfin/record"
)

func newTrainCmd(e *env) *cobra.Command {
	var (
		in       inputFlags
		k        string
		features string
		cfg      detect.TrainConfig
		out      string
		plotOpt  clusterplot.Options
		plotPath string
	)
	cmd := &cobra.Command{
		Use:   "train --format F [--window 60s] [--k N|auto] [--features a,b,c] [--quantile 0.99] [--seed N] -o MODEL FILE...",
		Short: "Build a K-Means model from access logs or collected ip_score events",
		Long: `Trains a sharkfin.model/v1 file. FILE is an access log (any --format), or a
JSON-lines file of ip_score events collected downstream (detected by its
first byte '{'), so a model can be trained on what the whole fleet sent.

Robustness: real logs contain attacks. Clusters holding less than
--min-share of the rows are dropped from the model (recorded under
training.dropped_clusters), so a scanner's windows are not learnt as a
normal cluster; thresholds are the --quantile of member distances.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			if out == "" {
				return usagef("-o MODEL is required")
			}
			switch k {
			case "auto", "":
				cfg.K = 0
			default:
				n, err := strconv.Atoi(k)
				if err != nil || n < 1 {
					return usagef("--k %q: want a number >= 1 or auto", k)
				}
				cfg.K = n
			}
			if features != "" {
				cfg.Features = strings.Split(features, ",")
			}
			start := time.Now()
			rows, kind, window, stats, err := trainingRows(cmd, e, &in, files, features)
			if err != nil {
				return err
			}
			cfg.Kind, cfg.Window = kind, window
			if len(cfg.Features) == 0 {
				cfg.Features = detect.DefaultModelFeatures(kind)
			}
			proj, err := detect.NewProjection(kind, cfg.Features)
			if err != nil {
				return usagef("--features: %v", err)
			}
			data := make([][]float64, len(rows))
			for i, r := range rows {
				data[i] = proj.Apply(make([]float64, 0, len(cfg.Features)), r)
			}
			for _, f := range files {
				cfg.Sources = append(cfg.Sources, f)
			}
			m, rep, err := detect.Train(data, cfg)
			if err != nil {
				return err
			}
			b, err := json.MarshalIndent(m, "", "  ")
			if err != nil {
				return err
			}
			if err := writeFileAtomic(out, append(b, '\n'), 0o644); err != nil {
				return err
			}
			fmt.Fprintf(e.stderr, "sharkfin: trained %s: rows=%d k=%d kept=%d dropped_rows=%d inertia=%.4g sizes=%v log_lines=%d elapsed=%s -> %s\n",
				m.ID(), m.Training.Rows, m.Training.K, len(m.Centroids), rep.Dropped, m.Training.Inertia, rep.Sizes,
				stats.Lines, time.Since(start).Round(time.Millisecond), out)
			trainingReport(e.stderr, m)
			if plotPath != "" {
				s, err := clusterplot.Write(plotPath, m, kind, rows, plotOpt)
				if err != nil {
					return fmt.Errorf("--plot: %w", err)
				}
				fmt.Fprintf(e.stderr, "sharkfin: plotted %d of %d windows (%d anomalous) -> %s\n", s.Points, s.Rows, s.Anomalous, plotPath)
			}
			return nil
		},
	}
	in.add(cmd)
	fl := cmd.Flags()
	fl.StringVar(&k, "k", "auto", "clusters, or auto (silhouette on a sample)")
	fl.StringVar(&features, "features", "", "comma-separated model features (default: per kind; sharkfin model inspect lists a model's)")
	fl.Float64Var(&cfg.Quantile, "quantile", 0.99, "per-cluster threshold: this quantile of training distances")
	fl.Uint64Var(&cfg.Seed, "seed", 1, "random seed (same seed, same data: same model)")
	fl.IntVar(&cfg.Restarts, "restarts", 10, "k-means++ restarts; the best inertia wins")
	fl.Float64Var(&cfg.MinShare, "min-share", 0.02, "clusters with fewer rows than this share are dropped as not normal (negative: keep all)")
	fl.StringVar(&cfg.Name, "name", "", "model name (default: the kind)")
	fl.StringVar(&cfg.Version, "version", "", "model version (default: creation time)")
	fl.StringVarP(&out, "output", "o", "", "model file to write")
	fl.StringVar(&plotPath, "plot", "", "also draw the training windows, centroids and thresholds (.png, .svg or .pdf)")
	fl.StringVar(&plotOpt.X, "plot-x", "", "feature on the plot's x axis (with --plot-y; default: the principal axes)")
	fl.StringVar(&plotOpt.Y, "plot-y", "", "feature on the plot's y axis")
	return cmd
}

// trainingRows reads logs and event files into full feature vectors.
func trainingRows(cmd *cobra.Command, e *env, in *inputFlags, files []string, _ string) ([][]float64, record.Kind, time.Duration, pipeline.Stats, error) {
	var logs, evfiles []string
	for _, f := range files {
		isEv, err := isEventFile(e, f)
		if err != nil {
			return nil, 0, 0, pipeline.Stats{}, err
		}
		if isEv {
			evfiles = append(evfiles, f)
		} else {
			logs = append(logs, f)
		}
	}
	var rows [][]float64
	kind := record.KindUnknown
	window := in.window
	var stats pipeline.Stats
	if len(logs) > 0 {
		parser, err := in.parser(logs)
		if err != nil {
			return nil, 0, 0, stats, err
		}
		kind = parser.Format.Kind()
		if window == 0 {
			window = time.Minute
		}
		p, err := pipeline.New(pipeline.Config{
			Host: in.hostName(), Source: sourceName(in.source, kind.String()), Parser: parser,
			Window: detect.WindowConfig{Window: window, Lateness: in.lateness, MaxKeys: in.maxKeys},
		}, func(ev *event.Event) {
			if ev.Overflow {
				return
			}
			v := make([]float64, len(ev.Features))
			for i, f := range ev.Features {
				v[i] = f.Value
			}
			rows = append(rows, v)
		})
		if err != nil {
			return nil, 0, 0, stats, err
		}
		logs = orderByTime(logs, parser)
		if err := feed(cmd.Context(), e, logs, in.maxLine, p); err != nil {
			return nil, 0, 0, stats, err
		}
		p.Flush()
		stats = p.Stats()
	}
	for _, f := range evfiles {
		var err error
		rows, kind, window, err = readEventRows(e, f, rows, kind, window)
		if err != nil {
			return nil, 0, 0, stats, err
		}
	}
	if kind == record.KindUnknown {
		return nil, 0, 0, stats, fmt.Errorf("no input to train on")
	}
	return rows, kind, window, stats, nil
}

// isEventFile reports whether path (or standard input, "-") holds JSON
// events rather than log lines: its first non-blank byte is '{'. Standard
// input is only peeked at, not consumed.
func isEventFile(e *env, path string) (bool, error) {
	var br *bufio.Reader
	if path == "-" {
		br = e.input()
	} else {
		rc, err := pipeline.OpenLog(path)
		if err != nil {
			return false, err
		}
		defer rc.Close()
		br = bufio.NewReader(rc)
	}
	for n := 1; n <= br.Size(); n++ {
		p, err := br.Peek(n)
		if err != nil {
			return false, nil
		}
		switch p[n-1] {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return p[n-1] == '{', nil
	}
	return false, nil
}

// readEventRows appends the features of every ip_score event in path.
func readEventRows(e *env, path string, rows [][]float64, kind record.Kind, window time.Duration) ([][]float64, record.Kind, time.Duration, error) {
	rc, err := e.openLog(path)
	if err != nil {
		return nil, 0, 0, err
	}
	defer rc.Close()
	lineNo := 0
	var perr error
	err = pipeline.ScanLines(rc, pipeline.DefaultMaxLineBytes, func(line []byte) {
		lineNo++
		if perr != nil || len(bytes.TrimSpace(line)) == 0 {
			return
		}
		var ev event.Event
		if err := json.Unmarshal(line, &ev); err != nil {
			perr = fmt.Errorf("%s:%d: not a JSON event: %v", path, lineNo, err)
			return
		}
		// The overflow row: flagged, or, from agents before the flag, a
		// bare "overflow" (a client of that name is skipped with it).
		if ev.Type != event.TypeIPScore || ev.Overflow || ev.SrcIP == event.OverflowSrcIP {
			return
		}
		k, ok := record.ParseKind(ev.Kind)
		if !ok {
			perr = fmt.Errorf("%s:%d: event kind %q is not web, proxy or dns", path, lineNo, ev.Kind)
			return
		}
		if kind == record.KindUnknown {
			kind = k
		} else if k != kind {
			perr = fmt.Errorf("%s:%d: event kind %s mixed with %s: train one model per kind", path, lineNo, k, kind)
			return
		}
		w := ev.WindowEnd.Sub(ev.WindowStart)
		if window == 0 {
			window = w
		} else if w != window {
			perr = fmt.Errorf("%s:%d: event window %s differs from %s: train one model per window length", path, lineNo, w, window)
			return
		}
		names := detect.FeatureNames(k)
		v := make([]float64, len(names))
		for i, n := range names {
			x, ok := ev.Features.Get(n)
			if !ok {
				perr = fmt.Errorf("%s:%d: event lacks feature %q", path, lineNo, n)
				return
			}
			v[i] = x
		}
		rows = append(rows, v)
	}, func() {
		perr = fmt.Errorf("%s:%d: line longer than %d bytes", path, lineNo+1, pipeline.DefaultMaxLineBytes)
	})
	if err == nil {
		err = perr
	}
	return rows, kind, window, err
}

// writeFileAtomic writes via a temporary file and rename, so a reader (the
// agent hot-reloading models) never sees half a file.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// trainingReport prints what training found, per k tried and per cluster
// kept, on stderr.
func trainingReport(w io.Writer, m *detect.Model) {
	t := m.Training
	if len(t.Silhouette) > 0 {
		ks := make([]string, 0, len(t.Silhouette))
		for k := range t.Silhouette {
			ks = append(ks, k)
		}
		slices.SortFunc(ks, func(a, b string) int {
			x, _ := strconv.Atoi(a)
			y, _ := strconv.Atoi(b)
			return x - y
		})
		var parts []string
		for _, k := range ks {
			parts = append(parts, fmt.Sprintf("k=%s %.3f", k, t.Silhouette[k]))
		}
		fmt.Fprintf(w, "  silhouette per k tried (on a sample; the best k wins): %s\n", strings.Join(parts, ", "))
	}
	fmt.Fprintf(w, "  k=%d, inertia %.6g, thresholds at the %.3g quantile of member distances\n", t.K, t.Inertia, t.Quantile)
	for c := range m.Centroids {
		rows := -1
		if c < len(t.Sizes) {
			rows = t.Sizes[c]
		}
		fmt.Fprintf(w, "  cluster c%d: %d rows, threshold %.4g\n", c, rows, m.Thresholds[c])
	}
	for _, d := range t.Dropped {
		fmt.Fprintf(w, "  dropped: a cluster of %d rows (under %.3g of all: not normal; its rows score against the others)\n", d.Rows, t.MinShare)
	}
}
