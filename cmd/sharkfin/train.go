package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/socx/sharkfin/detect"
	"github.com/socx/sharkfin/event"
	"github.com/socx/sharkfin/internal/atomicfile"
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
		// sampleRows bounds the windows trained on (a uniform sample of
		// those read); excludeAnomalous leaves out flagged events.
		sampleRows       int
		excludeAnomalous bool
		exportDir        string
		// The path vocabulary (web): learnt from the logs, or taken from
		// a model (--vocabulary-from).
		vocabSize, vocabMin int
		vocabFrom           string
		// probeRareErrors: web windows with this many rare errors are
		// probes, left out of training (0: none).
		probeRareErrors int
		probes          int64
		// floodRequests: the flood rule the model records (0: none).
		floodRequests int
	)
	cmd := &cobra.Command{
		Use:   "train --format F [--window 60s] [--k N|auto] [--features a,b,c] [--quantile 0.99] [--seed N] -o MODEL FILE...",
		Short: "Build a K-Means model from access logs or collected ip_score events",
		Long: `Trains a sharkfin.model/v1 file. FILE is an access log (any --format), or a
JSON-lines file of ip_score events collected downstream (detected by its
first byte '{'), so a model can be trained on what the whole fleet sent.

Web logs are read twice: the first pass learns the site's path vocabulary
(the paths it serves), which the model keeps and the rare_ features count
against (--vocabulary-size, --vocabulary-min-clients; events take the
vocabulary of the model that scored them: --vocabulary-from).

Robustness: real logs contain attacks. Web windows that asked for
--probe-rare-errors (3) or more paths the site never served, and failed,
are probes and are left out; the model records the rule, and a window it
scores with that many is anomalous whatever its distance (0: neither).
A web window whose requests all went to one path the site never served,
--flood-requests (20) or more of them POSTs and as many not failed, is a
flood: anomalous whatever its distance (0: no flood rule).
Clusters holding less than --min-share of the
rows are dropped from the model (recorded under training.dropped_clusters),
so a scanner's windows are not learnt as a normal cluster; thresholds are
the --quantile of member distances.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			if sampleRows < 1 {
				return usagef("--sample-rows %d: want at least 1 (default 1000000)", sampleRows)
			}
			if err := checkMinThreshold(cmd, cfg.MinThreshold); err != nil {
				return err
			}
			if out == "" && exportDir == "" {
				return usagef("-o MODEL is required (or --export-features DIR)")
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
			switch {
			case probeRareErrors < 0:
				return usagef("--probe-rare-errors %d: want 0 (keep every window) or more", probeRareErrors)
			case floodRequests < 0:
				return usagef("--flood-requests %d: want 0 (no flood rule) or more", floodRequests)
			case vocabSize < 0 || vocabSize > detect.MaxVocabularyPaths:
				return usagef("--vocabulary-size %d: want 0 (none) to %d", vocabSize, detect.MaxVocabularyPaths)
			case vocabMin < 1:
				return usagef("--vocabulary-min-clients %d: want at least 1", vocabMin)
			case vocabFrom != "":
				vm, err := detect.LoadModel(vocabFrom)
				if err != nil {
					return fmt.Errorf("--vocabulary-from: %w", err)
				}
				if vm.Vocabulary == nil {
					return usagef("--vocabulary-from %s: model %s has no path vocabulary", vocabFrom, vm.ID())
				}
				in.vocab = vm.Vocabulary
			case vocabSize > 0:
				in.learn = detect.NewVocabBuilderSeeded(cfg.Seed)
				in.learn.MaxPaths, in.learn.MinClients = vocabSize, vocabMin
			}
			start := time.Now()
			// Rows stream into a uniform sample (detect.Sample): any
			// number of windows trains in bounded memory.
			var spool *featureSpool
			if exportDir != "" {
				var err error
				if spool, err = newFeatureSpool(exportDir); err != nil {
					return err
				}
				defer spool.remove()
			}
			var (
				proj    *detect.Projection
				sample  *detect.Sample
				shown   *detect.Sample // full vectors for --plot
				excl    int64
				projErr error
				buf     []float64
			)
			in.needDefaults = len(cfg.Features) == 0
			in.key = detect.DestKeyFromSeed(cfg.Seed)
			in.need = func(name string) bool {
				fs := cfg.Features
				if len(fs) == 0 { // the defaults, as the first row will choose them
					fs = detect.DefaultModelFeatures(record.KindWeb)
					fs = append(fs, detect.DefaultModelFeatures(record.KindProxy)...)
					fs = append(fs, detect.DefaultModelFeatures(record.KindDNS)...)
					if in.vocab == nil {
						fs = detect.WithoutVocabulary(fs)
					}
				}
				return slices.Contains(fs, name)
			}
			got, err := forEachRow(cmd, e, &in, files, func(r *windowRow) {
				if proj == nil && projErr == nil {
					if len(cfg.Features) == 0 {
						cfg.Features = detect.DefaultModelFeatures(r.kind)
						if r.kind == record.KindWeb && in.vocab == nil {
							cfg.Features = detect.WithoutVocabulary(cfg.Features)
							fmt.Fprintf(e.stderr, "sharkfin: no path vocabulary (training from events without --vocabulary-from, or from standard input): default features without rare paths: %s\n", strings.Join(cfg.Features, ","))
						}
					}
					if proj, projErr = detect.NewProjection(r.kind, cfg.Features); projErr != nil {
						return
					}
					sample = detect.NewSample(len(cfg.Features), sampleRows, cfg.Seed)
					shown = detect.NewSample(len(r.features), clusterplot.DefaultMaxPoints, cfg.Seed+1)
				}
				if proj == nil {
					return
				}
				if excludeAnomalous && r.anomalous {
					excl++
					return
				}
				if in.vocab != nil && detect.IsProbe(r.kind, r.features, probeRareErrors) {
					probes++
					return
				}
				buf = proj.Apply(buf[:0], r.features)
				sample.Add(buf)
				if spool != nil {
					spool.add(buf)
				}
				if plotPath != "" {
					shown.Add(r.features)
				}
			})
			if err != nil {
				return err
			}
			if projErr != nil {
				return usagef("--features: %v", projErr)
			}
			if excludeAnomalous && excl == 0 && got.stats.Lines > 0 {
				return usagef("--exclude-anomalous: the input is logs, which say nothing of what a model flagged; give ip_score event files")
			}
			if sample == nil || sample.Len() == 0 {
				return detect.ErrNoRows
			}
			if got.kind == record.KindWeb {
				cfg.Vocabulary = in.vocab
			}
			for _, f := range cfg.Features {
				if detect.NeedsVocabulary(f) && cfg.Vocabulary == nil {
					return usagef("--features %s: rare_ features are counted against a path vocabulary, and there is none: train from web logs (with --vocabulary-size > 0), or give --vocabulary-from the model whose vocabulary the events were scored with", f)
				}
			}
			cfg.Kind, cfg.Window = got.kind, got.window
			cfg.Sources = append(cfg.Sources, files...)
			rowsRead := sample.Seen()
			if f, ok := e.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
				cfg.Progress = func(choosing bool, k, done, total int) {
					stage := "fitting"
					if choosing {
						stage = "choosing k: trying"
					}
					fmt.Fprintf(f, "\r\033[Ksharkfin: %s k=%d, restart %d of %d", stage, k, done, total)
					if !choosing && done == total {
						fmt.Fprintln(f)
					}
				}
			}
			if spool != nil {
				tr, err := detect.FitTransform(sample.Flat(), len(cfg.Features), cfg)
				if err != nil {
					return err
				}
				exp := &detect.FeatureExport{Format: detect.FeatureExportFormat, Kind: cfg.Kind.String(),
					Window: fmt.Sprintf("%ds", int64(cfg.Window/time.Second)), Features: cfg.Features, Transform: tr,
					Sources: cfg.Sources, Created: time.Now().UTC().Truncate(time.Second), Vocabulary: cfg.Vocabulary}
				if probeRareErrors != detect.DefaultProbeRareErrors && cfg.Kind == record.KindWeb && cfg.Vocabulary != nil {
					exp.ProbeRareErrors = &probeRareErrors
				}
				if floodRequests != detect.DefaultFloodRequests && cfg.Kind == record.KindWeb && cfg.Vocabulary != nil {
					exp.FloodRequests = &floodRequests
				}
				if err := spool.export(exp); err != nil {
					return fmt.Errorf("--export-features %s: %w", exportDir, err)
				}
				fmt.Fprintf(e.stderr, "sharkfin: exported %d transformed windows to %s (%s, part-*.json)\n", exp.Rows, exportDir, exportDescFile)
				if out == "" {
					return nil
				}
			}
			m, rep, err := detect.TrainSample(sample, cfg)
			if err != nil {
				return err
			}
			m.RecordProbeRule(probeRareErrors)
			m.RecordFloodRule(floodRequests)
			if !m.HasWebRules() {
				for _, f := range []string{"probe-rare-errors", "flood-requests"} {
					if cmd.Flags().Changed(f) {
						fmt.Fprintf(e.stderr, "sharkfin: --%s has no effect: its rule needs a web model with a path vocabulary\n", f)
					}
				}
			}
			kind, stats := got.kind, got.stats
			if excl > 0 {
				fmt.Fprintf(e.stderr, "sharkfin: left out %d windows the collecting model flagged (--exclude-anomalous)\n", excl)
			}
			if probes > 0 {
				fmt.Fprintf(e.stderr, "sharkfin: left out %d windows that asked for %d or more paths the site never served, and failed (probes; --probe-rare-errors)\n", probes, probeRareErrors)
			}
			if got.missing > 0 {
				fmt.Fprintf(e.stderr, "sharkfin: %d feature values the events lacked (agents older than the feature; the model does not use them) taken as 0\n", got.missing)
			}
			if rowsRead > int64(m.Training.Rows) {
				fmt.Fprintf(e.stderr, "sharkfin: trained on a uniform sample of %d of the %d windows read (--sample-rows)\n", m.Training.Rows, rowsRead)
			}
			b, err := json.MarshalIndent(m, "", "  ")
			if err != nil {
				return err
			}
			if err := atomicfile.Write(out, append(b, '\n'), 0o644); err != nil {
				return err
			}
			fmt.Fprintf(e.stderr, "sharkfin: trained %s: rows=%d k=%d kept=%d dropped_rows=%d inertia=%.4g sizes=%v log_lines=%d elapsed=%s -> %s\n",
				m.ID(), m.Training.Rows, m.Training.K, len(m.Centroids), rep.Dropped, m.Training.Inertia, rep.Sizes,
				stats.Lines, time.Since(start).Round(time.Millisecond), out)
			if m.Vocabulary != nil {
				fmt.Fprintf(e.stderr, "sharkfin: path vocabulary: %s\n", m.Vocabulary)
			}
			trainingReport(e.stderr, m)
			if plotPath != "" {
				plotOpt.RowsRead = got.rows
				s, err := clusterplot.Write(plotPath, m, kind, shown.Rows(), plotOpt)
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
	fl.Float64Var(&cfg.MinThreshold, "min-threshold", 0, "per-cluster threshold at least this distance (floored standard deviations; default 1.75 for web, 1 for proxy and dns): higher flags fewer windows (README, What it catches)")
	fl.Uint64Var(&cfg.Seed, "seed", 1, "random seed (same seed, same data: same model)")
	fl.IntVar(&cfg.Restarts, "restarts", 10, "k-means++ restarts; the best inertia wins")
	fl.Float64Var(&cfg.MinShare, "min-share", 0.02, "clusters with fewer rows than this share are dropped as not normal (negative: keep all)")
	fl.StringVar(&cfg.Name, "name", "", "model name (default: the kind)")
	fl.StringVar(&cfg.Version, "version", "", "model version (default: creation time)")
	fl.StringVarP(&out, "output", "o", "", "model file to write")
	fl.IntVar(&sampleRows, "sample-rows", 1_000_000, "train on a uniform random sample of at most this many windows (memory: ~100 bytes each), however many are read")
	fl.BoolVar(&excludeAnomalous, "exclude-anomalous", false, "leave out ip_score events the collecting model flagged, so known attacks are not learnt as normal")
	fl.StringVar(&exportDir, "export-features", "", "write every window's model-space vector (log1p, z-scored) as JSON lines to DIR for Spark MLlib, with the transform in DIR/"+exportDescFile+"; -o optional then")
	fl.IntVar(&vocabSize, "vocabulary-size", detect.DefaultVocabularyPaths, "web: most paths in the model's path vocabulary, learnt from the logs (8 bytes each in the model; 0: none, rare_ features stay 0)")
	fl.IntVar(&vocabMin, "vocabulary-min-clients", detect.DefaultVocabularyMin, "web: a path is in the vocabulary when served (status < 400) to at least this many clients")
	fl.IntVar(&floodRequests, "flood-requests", detect.DefaultFloodRequests, "web: a window whose requests all went to one path the site never served, this many of them POSTs and as many not failed, is anomalous when scored (0: no flood rule)")
	fl.IntVar(&probeRareErrors, "probe-rare-errors", detect.DefaultProbeRareErrors, "web: the windows with this many requests for never-served paths that failed are probes: left out of training (a site's scanners must not become normal) and anomalous when scored (0: neither)")
	fl.StringVar(&vocabFrom, "vocabulary-from", "", "web: take the path vocabulary of this model instead of learning one (training on ip_score events scored with it)")
	fl.StringVar(&plotPath, "plot", "", "also draw the training windows, centroids and thresholds (.png, .svg or .pdf)")
	fl.StringVar(&plotOpt.X, "plot-x", "", "feature on the plot's x axis (with --plot-y; default: the principal axes)")
	fl.StringVar(&plotOpt.Y, "plot-y", "", "feature on the plot's y axis")
	return cmd
}

// windowRow is one window read for training, diff or plot: the full
// feature vector of its kind (detect.FeatureNames order, valid during the
// call only) and, for ip_score events, whether the collecting model
// flagged it.
type windowRow struct {
	kind      record.Kind
	features  []float64
	anomalous bool
}

// readInput is what forEachRow found.
type readInput struct {
	kind   record.Kind
	window time.Duration
	stats  pipeline.Stats // of the logs
	rows   int64
	// missing counts the feature values events lacked (taken as 0: agents
	// older than the feature; never one the model uses).
	missing int64
}

// forEachRow reads logs and event files, calling fn for every window in
// turn; nothing is kept, so inputs of any size take constant memory.
// Arguments with glob characters that name no file are expanded (for
// shells that pass them on, and for "*.json.gz" quoted on purpose).
func forEachRow(cmd *cobra.Command, e *env, in *inputFlags, args []string, fn func(*windowRow)) (readInput, error) {
	var got readInput
	files, err := expandGlobs(args)
	if err != nil {
		return got, err
	}
	var logs, evfiles []string
	for _, f := range files {
		isEv, err := isEventFile(e, f)
		if err != nil {
			return got, err
		}
		if isEv {
			evfiles = append(evfiles, f)
		} else {
			logs = append(logs, f)
		}
	}
	got.window = in.window
	if len(logs) > 0 && len(evfiles) > 0 && in.learn != nil {
		return got, usagef("logs and ip_score events together: the events' rare-path features were counted against the vocabulary of the agents' model, which the logs would not learn; give --vocabulary-from that model (or --vocabulary-size 0), or train them apart")
	}
	var row windowRow
	if len(logs) > 0 {
		parser, err := in.parser(logs)
		if err != nil {
			return got, err
		}
		got.kind = parser.Format.Kind()
		if got.window == 0 {
			got.window = time.Minute
		}
		row.kind = got.kind
		logs = orderByTime(logs, parser)
		if in.learn != nil && got.kind == record.KindWeb && slices.Contains(logs, "-") {
			// Standard input cannot be read twice.
			fmt.Fprintln(e.stderr, "sharkfin: no path vocabulary: it is learnt in a first pass over the logs, and standard input cannot be read twice; give files")
			in.learn = nil
		}
		if in.learn != nil && got.kind == record.KindWeb {
			// First pass: the paths the site serves.
			lp, err := pipeline.New(pipeline.Config{Source: "vocabulary", Parser: parser, Learn: in.learn}, nil)
			if err != nil {
				return got, err
			}
			if err := feed(cmd.Context(), e, logs, in.maxLine, lp); err != nil {
				return got, err
			}
			if in.vocab = in.learn.Vocabulary(); in.vocab.Size == 0 {
				fmt.Fprintf(e.stderr, "sharkfin: no path vocabulary: no path was served to %d clients or asked by %d (too few clients in the logs?); the model has none\n",
					in.learn.MinClients, detect.DefaultVocabularyAskers)
				in.vocab = nil
			}
		}
		p, err := pipeline.New(pipeline.Config{
			Host: in.hostName(), Source: sourceName(in.source, got.kind.String()), Parser: parser,
			Window:     detect.WindowConfig{Window: got.window, Lateness: in.lateness, MaxKeys: in.maxKeys},
			Vocabulary: in.vocab,
			DestKey:    in.key,
		}, func(ev *event.Event) {
			if ev.Overflow {
				return
			}
			row.features = row.features[:0]
			for _, f := range ev.Features {
				row.features = append(row.features, f.Value)
			}
			got.rows++
			fn(&row)
		})
		if err != nil {
			return got, err
		}
		if err := feed(cmd.Context(), e, logs, in.maxLine, p); err != nil {
			return got, err
		}
		p.Flush()
		got.stats = p.Stats()
	}
	bar := newRowsBar(e, len(evfiles) > 0)
	defer bar.done()
	for _, f := range evfiles {
		if err := readEventRows(e, f, &got, bar, in, fn); err != nil {
			return got, err
		}
	}
	if got.kind == record.KindUnknown {
		return got, fmt.Errorf("no input: %s produced no windows", strings.Join(args, " "))
	}
	return got, nil
}

// expandGlobs expands the arguments holding glob characters that are not
// the name of an existing file; a pattern matching nothing is an error.
func expandGlobs(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		if a == "-" || !strings.ContainsAny(a, "*?[") {
			out = append(out, a)
			continue
		}
		if _, err := os.Stat(a); err == nil {
			out = append(out, a)
			continue
		}
		m, err := filepath.Glob(a)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", a, err)
		}
		if len(m) == 0 {
			return nil, fmt.Errorf("%q matches no file", a)
		}
		out = append(out, m...)
	}
	return out, nil
}

// rowsBar shows rows read from event files on a terminal.
type rowsBar struct {
	bar *progressbar.ProgressBar
	w   io.Writer
	n   int64
}

func newRowsBar(e *env, on bool) *rowsBar {
	b := &rowsBar{}
	if f, ok := e.stderr.(*os.File); on && ok && term.IsTerminal(int(f.Fd())) {
		b.w = f
		b.bar = progressbar.NewOptions64(-1, progressbar.OptionSetWriter(f), progressbar.OptionSetDescription("rows read"),
			progressbar.OptionShowCount(), progressbar.OptionSpinnerType(14), progressbar.OptionThrottle(200*time.Millisecond))
	}
	return b
}

func (b *rowsBar) add() {
	if b.bar == nil {
		return
	}
	b.n++
	if b.n%4096 == 0 {
		_ = b.bar.Set64(b.n)
	}
}

func (b *rowsBar) done() {
	if b.bar != nil {
		_ = b.bar.Set64(b.n)
		_ = b.bar.Finish()
		fmt.Fprintln(b.w)
	}
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

// readEventRows calls fn with the features of every ip_score event in
// path: JSON lines as sharkfin prints them or Fluentd's out_file writes
// them (extra keys such as the tag and time are ignored).
func readEventRows(e *env, path string, got *readInput, bar *rowsBar, in *inputFlags, fn func(*windowRow)) error {
	need := in.need
	rc, err := e.openLog(path)
	if err != nil {
		return err
	}
	defer rc.Close()
	lineNo := 0
	var perr error
	var row windowRow
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
		if got.kind == record.KindUnknown {
			got.kind = k
		} else if k != got.kind {
			perr = fmt.Errorf("%s:%d: event kind %s mixed with %s: train one model per kind", path, lineNo, k, got.kind)
			return
		}
		w := ev.WindowEnd.Sub(ev.WindowStart)
		if got.window == 0 {
			got.window = w
		} else if w != got.window {
			perr = fmt.Errorf("%s:%d: event window %s differs from %s: train one model per window length", path, lineNo, w, got.window)
			return
		}
		names := detect.FeatureNames(k)
		row.kind, row.anomalous, row.features = k, ev.Anomalous, row.features[:0]
		for _, n := range names {
			x, ok := ev.Features.Get(n)
			if !ok {
				// Agents before a feature existed did not send it: 0,
				// unless the model is to use it.
				if need != nil && need(n) {
					perr = fmt.Errorf("%s:%d: event lacks feature %q, which the model uses (an agent older than the feature sent it): leave it out with --features", path, lineNo, n)
					if was, ok := detect.Predecessor(n); ok && in.needDefaults {
						perr = fmt.Errorf("%w, or use what such agents sent in its place, %q (the default web features were, before it: --features %s)",
							perr, was, strings.Join(detect.EarlierDefaultFeatures(k), ","))
					} else if ok {
						perr = fmt.Errorf("%w, or use what such agents sent in its place, %q", perr, was)
					}
					return
				}
				got.missing++
			}
			row.features = append(row.features, x)
		}
		got.rows++
		bar.add()
		fn(&row)
	}, func() {
		perr = fmt.Errorf("%s:%d: line longer than %d bytes", path, lineNo+1, pipeline.DefaultMaxLineBytes)
	})
	if err == nil {
		err = perr
	}
	return err
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
	floor := t.MinThreshold
	if floor == 0 {
		floor = detect.MinThresholdOf(m.RecordKind())
	}
	fmt.Fprintf(w, "  k=%d, inertia %.6g, thresholds at the %.3g quantile of member distances, at least %.3g\n", t.K, t.Inertia, t.Quantile, floor)
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

// checkMinThreshold rejects a --min-threshold given that training cannot
// use (0 would silently mean the default); not given, it is the kind's
// default (detect.MinThresholdOf).
func checkMinThreshold(cmd *cobra.Command, v float64) error {
	if !cmd.Flags().Changed("min-threshold") {
		return nil
	}
	if !(v > 0) || math.IsInf(v, 0) {
		return usagef("--min-threshold %v: want a positive distance, e.g. 1.5 (default 1.75 for web, 1 for proxy and dns)", v)
	}
	return nil
}
