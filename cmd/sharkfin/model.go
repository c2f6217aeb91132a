package main

import (
	"bytes"
	"cmp"
	"crypto/ed25519"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/socx/sharkfin/detect"
	"github.com/socx/sharkfin/internal/atomicfile"
	"github.com/socx/sharkfin/internal/clusterplot"
)

func newModelCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "model", Short: "Inspect, sign and verify model files"}
	var keyOut, signKey, verifyKey string
	keygen := &cobra.Command{
		Use: "keygen --out PREFIX", Short: "Write PREFIX.key (0600) and PREFIX.pub, an ed25519 key pair",
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if keyOut == "" {
				return usagef("--out PREFIX is required")
			}
			if err := detect.GenerateKey(keyOut); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "wrote %s.key and %s.pub\n", keyOut, keyOut)
			return nil
		},
	}
	keygen.Flags().StringVar(&keyOut, "out", "", "path prefix of the key files")
	sign := &cobra.Command{
		Use: "sign --key PREFIX.key MODEL", Short: "Write MODEL.sig", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if signKey == "" {
				return usagef("--key is required")
			}
			if _, err := detect.LoadModel(args[0]); err != nil {
				return fmt.Errorf("refusing to sign an invalid model: %w", err)
			}
			priv, err := detect.LoadPrivateKey(signKey)
			if err != nil {
				return err
			}
			if err := detect.SignModel(priv, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "wrote %s.sig\n", args[0])
			return nil
		},
	}
	sign.Flags().StringVar(&signKey, "key", "", "private key (PREFIX.key)")
	verify := &cobra.Command{
		Use: "verify --key PREFIX.pub MODEL", Short: "Exit 0 if MODEL.sig is valid, 1 otherwise", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if verifyKey == "" {
				return usagef("--key is required")
			}
			pub, err := detect.LoadPublicKey(verifyKey)
			if err != nil {
				return err
			}
			data, err := os.ReadFile(args[0])
			if err != nil {
				return fmt.Errorf("model %s: %w", args[0], err)
			}
			if err := detect.VerifyModel(data, args[0], []ed25519.PublicKey{pub}); err != nil {
				return err
			}
			if _, err := detect.LoadModel(args[0]); err != nil {
				return fmt.Errorf("signature valid, but %w", err)
			}
			fmt.Fprintf(e.stdout, "%s: signature valid (%s)\n", args[0], verifyKey)
			return nil
		},
	}
	verify.Flags().StringVar(&verifyKey, "key", "", "public key (PREFIX.pub)")
	inspect := &cobra.Command{
		Use: "inspect MODEL", Short: "Print a model readably", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			m, err := detect.LoadModel(args[0])
			if err != nil {
				return err
			}
			printModel(e.stdout, m)
			return nil
		},
	}
	cmd.AddCommand(keygen, sign, verify, inspect, newModelDiffCmd(e), newModelPlotCmd(e), newModelImportCmd(e))
	return cmd
}

func printModel(w io.Writer, m *detect.Model) {
	fmt.Fprintf(w, "model     %s\nformat    %s\nkind      %s\nwindow    %s\n", m.ID(), m.Format, m.Kind, m.Window)
	t := m.Training
	fmt.Fprintf(w, "trained   %s from %d rows (%s), k=%d, kept %d clusters, quantile %.3g, inertia %.6g, seed %d\n",
		t.Created.Format("2006-01-02 15:04:05Z07:00"), t.Rows, strings.Join(t.Sources, ", "), t.K, len(m.Centroids), t.Quantile, t.Inertia, t.Seed)
	if len(t.Dropped) > 0 {
		n := 0
		for _, d := range t.Dropped {
			n += d.Rows
		}
		fmt.Fprintf(w, "dropped   %d small clusters holding %d rows (min share %.3g)\n", len(t.Dropped), n, t.MinShare)
	}
	vocab := m.HasWebRules()
	if r := m.ProbeRule(); r > 0 {
		fmt.Fprintf(w, "probes    a window with %d or more failed requests for never-served paths is anomalous (--probe-rare-errors)\n", r)
	} else if vocab {
		fmt.Fprintln(w, "probes    off (--probe-rare-errors 0)")
	}
	if r := m.FloodRule(); r > 0 {
		fmt.Fprintf(w, "floods    a window of %d or more POSTs and %d or more successes, all to one never-served path, is anomalous (--flood-requests)\n", r, r)
	} else if vocab {
		fmt.Fprintln(w, "floods    off (--flood-requests 0)")
	}
	if t.MinThreshold != 0 {
		fmt.Fprintf(w, "floor     every threshold at least %.3g (--min-threshold)\n", t.MinThreshold)
	} else if len(m.Thresholds) > 0 {
		// Not recorded: the kind's default of the release that trained it
		// (a web model's was 1 before it was 1.75). The thresholds tell.
		fmt.Fprintf(w, "floor     not recorded: the kind's default when trained (now %.3g); the lowest threshold is %.4g\n",
			detect.MinThresholdOf(m.RecordKind()), slices.Min(m.Thresholds))
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "feature\tmean\tstd\t")
	for c := range m.Centroids {
		fmt.Fprintf(tw, "c%d\t", c)
	}
	fmt.Fprintln(tw)
	for i, f := range m.Features {
		fmt.Fprintf(tw, "%s\t%.4g\t%.4g\t", f, m.Transform.Mean[i], m.Transform.Std[i])
		for _, c := range m.Centroids {
			fmt.Fprintf(tw, "%.3f\t", c[i])
		}
		fmt.Fprintln(tw)
	}
	fmt.Fprint(tw, "threshold\t\t\t")
	for _, th := range m.Thresholds {
		fmt.Fprintf(tw, "%.3f\t", th)
	}
	fmt.Fprintln(tw)
	if len(t.Sizes) == len(m.Centroids) {
		fmt.Fprint(tw, "rows\t\t\t")
		for _, s := range t.Sizes {
			fmt.Fprintf(tw, "%d\t", s)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	probes := ""
	switch {
	case m.ProbeRule() > 0 && m.FloodRule() > 0:
		probes = " (a probe or a flood, above, scores at least its rare errors or successes over the rule less a half)"
	case m.ProbeRule() > 0:
		probes = " (a probe, above, scores at least its rare errors over the rule less a half)"
	case m.FloodRule() > 0:
		probes = " (a flood, above, scores at least its rare successes over the rule less a half)"
	}
	fmt.Fprintf(w, "\nlog1p=%v; centroids and thresholds are in transformed space (z-scores of log1p counts); a window scores distance/threshold, > 1 is anomalous%s.\n", m.Transform.Log1p, probes)
}

func newModelDiffCmd(e *env) *cobra.Command {
	var in inputFlags
	var data []string
	cmd := &cobra.Command{
		Use:   "diff OLD NEW [--data FILE]...",
		Short: "How far a new model's clusters and thresholds moved, and which windows change verdict",
		Long: `Compares two models of one kind: each old cluster's nearest new cluster and
the reverse, with distances in the old model's space (z-scores of its
transform), so they read against the old thresholds. A new cluster further
from every old centroid than that centroid's threshold is behaviour the old
model flagged. With --data (logs, or JSON lines of ip_score events as train
reads them), both models score the same windows: how many each flags, and
which share changes verdict.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			oldM, err := detect.LoadModel(args[0])
			if err != nil {
				return err
			}
			newM, err := detect.LoadModel(args[1])
			if err != nil {
				return err
			}
			w := e.stdout
			for i, m := range []*detect.Model{oldM, newM} {
				fmt.Fprintf(w, "%-4s %s: %s, %s windows, %d clusters, trained %s from %d rows\n", []string{"old", "new"}[i], args[i],
					m.ID(), m.Window, len(m.Centroids), m.Training.Created.Format("2006-01-02 15:04Z07:00"), m.Training.Rows)
			}
			d := detect.CompareModels(oldM, newM)
			if !d.Comparable {
				fmt.Fprintf(w, "\nclusters not compared: %s\n", d.Reason)
			} else {
				printClusterDiff(w, d)
			}
			if len(data) == 0 {
				return nil
			}
			if oldM.Kind != newM.Kind {
				return fmt.Errorf("--data: the models are for %s and %s logs; compare models of one kind", oldM.Kind, newM.Kind)
			}
			if in.window == 0 {
				in.window = oldM.WindowDuration()
			}
			// Logs' rare_ features are counted against the new model's
			// path vocabulary (the old model's verdicts too).
			in.vocab = cmp.Or(newM.Vocabulary, oldM.Vocabulary)
			if oldM.Vocabulary != nil && newM.Vocabulary != nil && oldM.Vocabulary.Key != newM.Vocabulary.Key &&
				slices.ContainsFunc(oldM.Features, detect.NeedsVocabulary) {
				fmt.Fprintf(w, "\nnote: the logs' rare-path features are counted against the new model's vocabulary, the old model's verdicts too\n")
			}
			in.need = func(n string) bool { return slices.Contains(oldM.Features, n) || slices.Contains(newM.Features, n) }
			var cmp *detect.VerdictCounter
			var cmpErr error
			if _, err := forEachRow(cmd, e, &in, data, func(r *windowRow) {
				if cmp == nil && cmpErr == nil {
					cmp, cmpErr = detect.NewVerdictCounter(oldM, newM, r.kind)
				}
				if cmp != nil {
					cmp.Add(r.features)
				}
			}); err != nil {
				return err
			}
			if cmpErr != nil {
				return cmpErr
			}
			if cmp == nil {
				return fmt.Errorf("--data: %w", detect.ErrNoRows)
			}
			v := cmp.Result()
			pct := func(n int) float64 { return 100 * float64(n) / float64(max(v.Rows, 1)) }
			fmt.Fprintf(w, "\nverdicts on %d windows: old flags %d (%.2f%%), new flags %d (%.2f%%); %.2f%% change verdict: %d become anomalous, %d become normal\n",
				v.Rows, v.OldAnomalous, pct(v.OldAnomalous), v.NewAnomalous, pct(v.NewAnomalous), 100*v.Changed(), v.BecameAnomalous, v.BecameNormal)
			return nil
		},
	}
	in.add(cmd)
	cmd.Flags().StringArrayVar(&data, "data", nil, "logs or ip_score event files both models score (repeatable; gzip accepted)")
	return cmd
}

func printClusterDiff(w io.Writer, d detect.ModelDiff) {
	fmt.Fprintln(w, "\nclusters; distances in the old model's space, against the old cluster's threshold (> 1: where the old model flagged windows)")
	tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "old\tnearest new\tdistance\told threshold\tdistance/threshold\tnew threshold\t")
	for _, m := range d.Old {
		fmt.Fprintf(tw, "c%d\tc%d\t%.3f\t%.3f\t%.2f\t%.3f\t\n", m.Cluster, m.Nearest, m.Distance, m.OldThreshold, m.Distance/m.OldThreshold, m.NewThreshold)
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 2, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "new\tnearest old\tdistance\told threshold\tdistance/threshold\tnew threshold\t")
	outside := 0
	for _, m := range d.New {
		note := ""
		if m.Distance > m.OldThreshold {
			note = "  outside every old cluster"
			outside++
		}
		fmt.Fprintf(tw, "c%d\tc%d\t%.3f\t%.3f\t%.2f\t%.3f\t%s\n", m.Cluster, m.Nearest, m.Distance, m.OldThreshold, m.Distance/m.OldThreshold, m.NewThreshold, note)
	}
	tw.Flush()
	if outside > 0 {
		fmt.Fprintf(w, "%d new cluster(s) lie where the old model flagged windows: normal now, anomalous before\n", outside)
	}
}

func newModelPlotCmd(e *env) *cobra.Command {
	var (
		in   inputFlags
		data []string
		out  string
		opt  clusterplot.Options
	)
	cmd := &cobra.Command{
		Use:   "plot MODEL --data FILE... -o PICTURE [--x F --y F]",
		Short: "Draw the windows of --data as MODEL sees them: clusters, centroids, thresholds, anomalies",
		Long: `Scores the windows of --data (logs, or ip_score event files as train reads)
with MODEL and draws them in its space (z-scores of log1p counts), projected
on the two principal axes of the windows, or on two features (--x, --y).
Normal windows are coloured by cluster, anomalous ones are red crosses, each
centroid is a triangle and its threshold a dashed circle (the projection of
the threshold's ball: a window outside its cluster's circle is anomalous, and so is a
probe of a web model, inside it or not: see model inspect).
PICTURE ends in .png, .svg or .pdf.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(data) == 0 || out == "" {
				return usagef("--data and -o are required")
			}
			m, err := detect.LoadModel(args[0])
			if err != nil {
				return err
			}
			if in.window == 0 {
				in.window = m.WindowDuration()
			}
			in.vocab = m.Vocabulary
			in.need = func(n string) bool { return slices.Contains(m.Features, n) }
			var shown *detect.Sample
			got, err := forEachRow(cmd, e, &in, data, func(r *windowRow) {
				if shown == nil {
					shown = detect.NewSample(len(r.features), clusterplot.DefaultMaxPoints, 1)
				}
				shown.Add(r.features)
			})
			if err != nil {
				return err
			}
			if shown == nil {
				return fmt.Errorf("--data: %w", detect.ErrNoRows)
			}
			opt.RowsRead = got.rows
			s, err := clusterplot.Write(out, m, got.kind, shown.Rows(), opt)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stderr, "sharkfin: plotted %d of %d windows (%d anomalous) -> %s\n", s.Points, s.Rows, s.Anomalous, out)
			return nil
		},
	}
	in.add(cmd)
	fl := cmd.Flags()
	fl.StringArrayVar(&data, "data", nil, "logs or ip_score event files to draw (repeatable; gzip accepted)")
	fl.StringVarP(&out, "output", "o", "", "picture to write (.png, .svg or .pdf)")
	fl.StringVar(&opt.X, "x", "", "feature on the x axis (with --y; default: the principal axes)")
	fl.StringVar(&opt.Y, "y", "", "feature on the y axis")
	return cmd
}

func newModelImportCmd(e *env) *cobra.Command {
	var (
		centersPath, samplePath, out string
		cfg                          detect.TrainConfig
		sampleRows                   int
	)
	cmd := &cobra.Command{
		Use:   "import --centers FILE --sample DIR -o MODEL",
		Short: "Make a model of cluster centres found elsewhere (Spark MLlib) on train --export-features vectors",
		Long: `Turns the centres a Spark MLlib KMeans found on the vectors of
sharkfin train --export-features DIR into a model file: the scaling comes
from DIR/transform.json, each sample vector goes to its nearest centre,
clusters with less than --min-share of them are dropped and each kept
cluster's threshold is the --quantile of its members' distances, as train
does. FILE holds the centres in the export's space, one per line as CSV, or
as a JSON list of lists (KMeansModel.clusterCenters(), see the README).
--sample is the export directory (or one part file); at most --sample-rows
of its vectors are used (a uniform sample).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if centersPath == "" || samplePath == "" || out == "" {
				return usagef("--centers, --sample and -o are required")
			}
			if err := checkMinThreshold(cmd, cfg.MinThreshold); err != nil {
				return err
			}
			centers, err := readCenters(centersPath)
			if err != nil {
				return err
			}
			exp, sample, err := readExport(samplePath, sampleRows, cfg.Seed)
			if err != nil {
				return fmt.Errorf("--sample: %w", err)
			}
			cfg.Sources = append(append([]string(nil), exp.Sources...), "centres: "+centersPath)
			if cfg.Name == "" {
				cfg.Name = exp.Kind
			}
			m, _, err := detect.ImportCenters(centers, exp, sample.Flat(), cfg)
			if err != nil {
				return fmt.Errorf("%s: %w", centersPath, err)
			}
			if exp.ProbeRareErrors != nil {
				m.RecordProbeRule(*exp.ProbeRareErrors)
			}
			if exp.FloodRequests != nil {
				m.RecordFloodRule(*exp.FloodRequests)
			}
			b, err := json.MarshalIndent(m, "", "  ")
			if err != nil {
				return err
			}
			if err := atomicfile.Write(out, append(b, '\n'), 0o644); err != nil {
				return err
			}
			fmt.Fprintf(e.stderr, "sharkfin: imported %s: %d centres, %d kept, on %d sample vectors -> %s\n", m.ID(), len(centers), len(m.Centroids), m.Training.Rows, out)
			trainingReport(e.stderr, m)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&centersPath, "centers", "", "the centres: CSV, one per line, or a JSON list of lists")
	fl.StringVar(&samplePath, "sample", "", "the export directory of train --export-features (or one part file)")
	fl.StringVarP(&out, "output", "o", "", "model file to write")
	fl.IntVar(&sampleRows, "sample-rows", 1_000_000, "use at most this many vectors (a uniform sample)")
	fl.Float64Var(&cfg.Quantile, "quantile", 0.99, "per-cluster threshold: this quantile of member distances")
	fl.Float64Var(&cfg.MinThreshold, "min-threshold", 0, "per-cluster threshold at least this distance (floored standard deviations; default 1.75 for web, 1 for proxy and dns): higher flags fewer windows (README, What it catches)")
	fl.Float64Var(&cfg.MinShare, "min-share", 0.02, "clusters with fewer vectors than this share are dropped as not normal (negative: keep all)")
	fl.Uint64Var(&cfg.Seed, "seed", 1, "random seed of the sample")
	fl.StringVar(&cfg.Name, "name", "", "model name (default: the kind)")
	fl.StringVar(&cfg.Version, "version", "", "model version (default: creation time)")
	return cmd
}

// readCenters reads cluster centres: a JSON list of lists, or CSV lines of
// numbers (a header line of names is skipped).
func readCenters(path string) ([][]float64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseCenters(b, path)
}

// parseCenters is readCenters on the bytes of a file named path; every
// centre holds finite numbers, all of one width.
func parseCenters(b []byte, path string) ([][]float64, error) {
	cs, err := decodeCenters(b, path)
	if err != nil {
		return nil, err
	}
	for i, c := range cs {
		if len(c) == 0 || len(c) != len(cs[0]) {
			return nil, fmt.Errorf("%s: centre %d has %d values, centre 0 has %d", path, i, len(c), len(cs[0]))
		}
		for _, v := range c {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("%s: centre %d holds %v", path, i, v)
			}
		}
	}
	return cs, nil
}

func decodeCenters(b []byte, path string) ([][]float64, error) {
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '[' {
		var cs [][]float64
		if err := json.Unmarshal(t, &cs); err != nil {
			return nil, fmt.Errorf("%s: not a JSON list of lists of numbers: %w", path, err)
		}
		return cs, nil
	}
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	r.Comment = '#'
	var cs [][]float64
	for n := 1; ; n++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		line, _ := r.FieldPos(0)
		c := make([]float64, len(rec))
		numbers := 0
		var bad error
		for i, f := range rec {
			if c[i], err = strconv.ParseFloat(strings.TrimSpace(f), 64); err != nil {
				if bad == nil {
					bad = fmt.Errorf("%s:%d: field %d %q is not a number", path, line, i+1, f)
				}
				continue
			}
			numbers++
		}
		switch {
		case bad == nil:
			cs = append(cs, c)
		case n == 1 && numbers == 0:
			// a header line of names
		default:
			return nil, bad
		}
	}
	if len(cs) == 0 {
		return nil, fmt.Errorf("%s: no centres", path)
	}
	return cs, nil
}
