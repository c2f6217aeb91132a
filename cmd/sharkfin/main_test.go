package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/socx/sharkfin/detect"
	"github.com/socx/sharkfin/event"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// run invokes the CLI in-process and returns exit code, stdout, stderr.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

const (
	webModel = "../../examples/models/web.json"
	webLog   = "../../examples/logs/web-access.log"
)

func TestScore_EventsAndSummary(t *testing.T) {
	code, out, errs := run(t, "score", "--format", "combined", "--model", webModel, webLog)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	n, anomalies := 0, 0
	var hits float64
	for sc.Scan() {
		var ev event.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("line %d: %v", n+1, err)
		}
		if ev.Type != event.TypeIPScore || ev.Model != "web@example-1" || ev.EventID == "" {
			t.Fatalf("bad event %+v", ev)
		}
		h, _ := ev.Features.Get("hits")
		hits += h
		if ev.Anomalous {
			anomalies++
		}
		n++
	}
	lines := strings.Count(mustRead(t, webLog), "\n")
	if int(hits) != lines {
		t.Errorf("hits %v != lines %d", hits, lines)
	}
	if !strings.Contains(errs, "lines=13095") || !strings.Contains(errs, "ip_windows=") {
		t.Errorf("summary: %s", errs)
	}
	// --anomalies-only prints exactly the anomalous subset.
	code, out2, _ := run(t, "score", "--format", "auto", "--model", webModel, "--anomalies-only", webLog)
	if code != 0 || strings.Count(out2, "\n") != anomalies || anomalies == 0 {
		t.Errorf("anomalies-only: exit %d, %d lines, want %d", code, strings.Count(out2, "\n"), anomalies)
	}
}

func mustRead(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestMain_ExitCodes(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"format":"sharkfin.model/v1","name":"x","version":"1","kind":"web","window":"60s","features":["hits"],"transform":{"log1p":true,"mean":[0],"std":[0]},"centroids":[[0]],"thresholds":[1],"training":{}}`), 0o644)
	cases := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"unknown command", []string{"frobnicate"}, 2, "unknown command"},
		{"unknown flag", []string{"score", "--nope", "x"}, 2, "unknown flag"},
		{"missing model flag", []string{"score", webLog}, 2, "--model"},
		{"no files", []string{"score", "--model", webModel}, 2, "requires at least"},
		{"bad format name", []string{"score", "--format", "xml", "--model", webModel, webLog}, 2, "xml"},
		{"missing file", []string{"score", "--format", "combined", "--model", webModel, filepath.Join(dir, "nope.log")}, 1, "nope.log"},
		{"invalid model", []string{"score", "--format", "combined", "--model", bad, webLog}, 1, "transform.std[0]"},
		{"kind mismatch", []string{"score", "--format", "squid", "--model", webModel, webLog}, 1, "web"},
		{"version", []string{"version"}, 0, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errs := run(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tc.code, errs)
			}
			if tc.msg != "" && !strings.Contains(errs, tc.msg) {
				t.Errorf("stderr %q lacks %q", errs, tc.msg)
			}
		})
	}
}

// TestTrain_FromLogsAndEvents trains from a log, scores with the model,
// then trains again from the emitted events: the same rows give the same
// model (training from fleet events equals training from the logs).
func TestTrain_FromLogsAndEvents(t *testing.T) {
	dir := t.TempDir()
	m1 := filepath.Join(dir, "m1.json")
	code, _, errs := run(t, "train", "--format", "combined", "--k", "3", "--seed", "5", "--version", "t", "-o", m1, webLog)
	if code != 0 {
		t.Fatalf("train: %s", errs)
	}
	code, out, errs := run(t, "score", "--format", "combined", "--model", m1, webLog)
	if code != 0 {
		t.Fatalf("score: %s", errs)
	}
	evfile := filepath.Join(dir, "events.jsonl")
	os.WriteFile(evfile, []byte(out), 0o644)
	m2 := filepath.Join(dir, "m2.json")
	// The events' rare-path counts are m1's vocabulary's: training on them
	// takes it along.
	code, _, errs = run(t, "train", "--k", "3", "--seed", "5", "--version", "t", "--vocabulary-from", m1, "-o", m2, evfile)
	if code != 0 {
		t.Fatalf("train from events: %s", errs)
	}
	a, err := detect.LoadModel(m1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := detect.LoadModel(m2)
	if err != nil {
		t.Fatal(err)
	}
	if a.Training.Rows != b.Training.Rows || a.Training.Inertia != b.Training.Inertia {
		t.Errorf("models differ: rows %d/%d inertia %v/%v", a.Training.Rows, b.Training.Rows, a.Training.Inertia, b.Training.Inertia)
	}
	code, out, _ = run(t, "model", "inspect", m1)
	if code != 0 || !strings.Contains(out, "web@t") || !strings.Contains(out, "threshold") {
		t.Errorf("inspect: %d %s", code, out)
	}

	// The same from standard input ("-"), a log and events: telling
	// which it is must not eat its first bytes. A log on standard input
	// cannot be read twice, so no vocabulary is learnt: it trains as the
	// file does without one.
	m0 := filepath.Join(dir, "m0.json")
	if code, _, errs := run(t, "train", "--format", "combined", "--k", "3", "--seed", "5", "--version", "t", "--vocabulary-size", "0", "-o", m0, webLog); code != 0 {
		t.Fatalf("train without a vocabulary: %s", errs)
	}
	noVocab, err := detect.LoadModel(m0)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []struct{ name, data string }{{"log", mustRead(t, webLog)}, {"events", mustRead(t, evfile)}} {
		m3 := filepath.Join(dir, "m3-"+in.name+".json")
		var errb bytes.Buffer
		args := []string{"train", "--k", "3", "--seed", "5", "--version", "t", "-o", m3, "-"}
		want := a
		if in.name == "log" {
			args = append(args[:1], append([]string{"--format", "combined"}, args[1:]...)...)
			want = noVocab
		} else {
			args = append(args[:1], append([]string{"--vocabulary-from", m1}, args[1:]...)...)
		}
		if code := Main(context.Background(), args, strings.NewReader(in.data), io.Discard, &errb); code != 0 {
			t.Fatalf("train from %s on stdin: %s", in.name, errb.String())
		}
		c, err := detect.LoadModel(m3)
		if err != nil {
			t.Fatal(err)
		}
		if c.Training.Rows != want.Training.Rows || c.Training.Inertia != want.Training.Inertia || !slices.Equal(c.Features, want.Features) {
			t.Errorf("from %s on stdin: rows %d inertia %v features %v, want %d %v %v", in.name, c.Training.Rows, c.Training.Inertia, c.Features,
				want.Training.Rows, want.Training.Inertia, want.Features)
		}
	}
}

func TestModel_SignVerify(t *testing.T) {
	dir := t.TempDir()
	m := filepath.Join(dir, "web.json")
	os.WriteFile(m, []byte(mustRead(t, webModel)), 0o644)
	prefix := filepath.Join(dir, "ops")
	if code, _, errs := run(t, "model", "keygen", "--out", prefix); code != 0 {
		t.Fatal(errs)
	}
	if st, err := os.Stat(prefix + ".key"); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v %v", st.Mode(), err)
	}
	if code, _, errs := run(t, "model", "sign", "--key", prefix+".key", m); code != 0 {
		t.Fatal(errs)
	}
	if code, _, errs := run(t, "model", "verify", "--key", prefix+".pub", m); code != 0 {
		t.Fatal(errs)
	}
	data := []byte(mustRead(t, m))
	data[len(data)-2] = ' '
	os.WriteFile(m, data, 0o644)
	if code, _, errs := run(t, "model", "verify", "--key", prefix+".pub", m); code != 1 || !strings.Contains(errs, "signature") {
		t.Fatalf("tampered model: exit %d %s", code, errs)
	}
}

// pflag takes a word in backquotes in a flag's usage for the name of its
// value (--features `sharkfin model inspect`): no usage may hold one.
func TestFlags_UsageHasNoBackquotes(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) {
			if strings.Contains(f.Usage, "`") {
				t.Errorf("%s --%s: usage %q has a backquote", c.CommandPath(), f.Name, f.Usage)
			}
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRootCmd(&env{}))
}

// lineSource serves combined-format lines, a window's worth of distinct
// clients per minute, until limit lines; it counts what it served.
type lineSource struct {
	served, limit int
	buf           []byte
}

func (s *lineSource) Read(p []byte) (int, error) {
	for len(s.buf) < len(p) && s.served < s.limit {
		i := s.served
		ts := time.Unix(1_700_000_000+int64(i/2000)*60, 0).UTC().Format("02/Jan/2006:15:04:05 -0700")
		s.buf = fmt.Appendf(s.buf, "10.%d.%d.%d - - [%s] \"GET / HTTP/1.1\" 200 100 \"-\" \"t\"\n", i%2000/65536, i%2000/256%256, i%256, ts)
		s.served++
	}
	if len(s.buf) == 0 {
		return 0, io.EOF
	}
	n := copy(p, s.buf)
	s.buf = s.buf[:copy(s.buf, s.buf[n:])]
	return n, nil
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// A failed write of the events (a full disk, a closed pipe) stops the
// run: score does not read the rest of its input for nothing.
func TestScore_StopsOnWriteError(t *testing.T) {
	src := &lineSource{limit: 5_000_000}
	var errb bytes.Buffer
	code := Main(context.Background(), []string{"score", "--format", "combined", "--model", webModel, "-"}, src, failingWriter{}, &errb)
	if code == 0 || !strings.Contains(errb.String(), "write events") || !strings.Contains(errb.String(), "disk full") {
		t.Errorf("exit %d, stderr %q: want a failure naming the write error", code, errb.String())
	}
	if src.served >= src.limit/2 {
		t.Errorf("read %d of %d lines after the first write failed", src.served, src.limit)
	}
}

// Anomalous events carry an explanation (and a severity, with a model that
// has a calibration: one trained now); score --explain prints the same
// windows readably, each with its features.
func TestScore_ExplainAndSeverity(t *testing.T) {
	model := filepath.Join(t.TempDir(), "web.json")
	if code, _, errs := run(t, "train", "--format", "combined", "--k", "3", "--seed", "1", "-o", model, "../../examples/logs/web-train.log.gz"); code != 0 {
		t.Fatalf("train: %s", errs)
	}
	code, out, errs := run(t, "score", "--format", "combined", "--model", model, "--anomalies-only", webLog)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var anomalies []event.Event
	reasons := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var ev event.Event
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatal(err)
		}
		anomalies = append(anomalies, ev)
		if !ev.HasSeverity || ev.Severity < 90 || ev.Severity > 100 || len(ev.Explain) == 0 || len(ev.Explain) > 3 {
			t.Fatalf("anomalous event without a severity over 90 or an explanation: %s", l)
		}
		// The reason: the probe rule (3 rare errors by default) sets a
		// probe's score to its rare errors over 2.5 when that is more than
		// its distance gives; any other anomaly is out by distance.
		rare, _ := ev.Features.Get("rare_errors")
		reasons[ev.Reason]++
		switch ev.Reason {
		case event.ReasonProbe:
			if rare < 3 || math.Abs(ev.Score-rare/2.5) > 1e-9 {
				t.Fatalf("reason probe with %v rare errors, score %v: %s", rare, ev.Score, l)
			}
		case event.ReasonDistance:
			if rare >= 3 && ev.Score < rare/2.5 {
				t.Fatalf("reason distance, but the probe rule gives more than its score: %s", l)
			}
		case event.ReasonFlood:
			post, _ := ev.Features.Get("post")
			hits, _ := ev.Features.Get("rare_hits")
			if post < 20 || hits-rare < 20 || math.Abs(ev.Score-(hits-rare)/19.5) > 1e-9 {
				t.Fatalf("reason flood with %v POSTs and %v rare successes, score %v: %s", post, hits-rare, ev.Score, l)
			}
		default:
			t.Fatalf("reason %q: %s", ev.Reason, l)
		}
		sum := 0.0
		for i, x := range ev.Explain {
			v, ok := ev.Features.Get(x.Feature)
			if !ok || v != x.Value || (i > 0 && x.Contribution > ev.Explain[i-1].Contribution) {
				t.Fatalf("explanation %+v of %s: not the event's feature value, or out of order", x, l)
			}
			sum += x.Contribution
		}
		if sum > 1+1e-9 {
			t.Fatalf("contributions sum to %v: %s", sum, l)
		}
	}
	if len(anomalies) == 0 || reasons[event.ReasonProbe] == 0 || reasons[event.ReasonDistance] == 0 {
		t.Fatalf("%d anomalies in the sample, reasons %v: want both reasons", len(anomalies), reasons)
	}
	code, text, _ := run(t, "score", "--format", "combined", "--model", model, "--explain", webLog)
	if code != 0 {
		t.Fatalf("--explain: exit %d", code)
	}
	if n := strings.Count(text, "  score "); n != len(anomalies) {
		t.Errorf("--explain printed %d windows, want the %d anomalies", n, len(anomalies))
	}
	first := anomalies[0]
	want := fmt.Sprintf("%s  %-15s  score %.2f  severity %.2f", first.WindowStart.Format(time.RFC3339), first.SrcIP, first.Score, first.Severity)
	if !strings.Contains(text, want) || !strings.Contains(text, "    "+first.Explain[0].Feature) {
		t.Errorf("--explain output lacks %q and its features:\n%.600s", want, text)
	}
	if n := strings.Count(text, "    probe: "); n != reasons[event.ReasonProbe] {
		t.Errorf("--explain names %d probes, want %d", n, reasons[event.ReasonProbe])
	}
}

// --min-threshold raises every cluster's threshold to at least its value;
// one training cannot use is refused, 0 included (it is not the default).
func TestTrain_MinThresholdFlag(t *testing.T) {
	dir := t.TempDir()
	m := filepath.Join(dir, "m.json")
	if code, _, errs := run(t, "train", "--format", "combined", "--k", "3", "--min-threshold", "2.5", "-o", m, webLog); code != 0 {
		t.Fatalf("train: %s", errs)
	}
	model, err := detect.LoadModel(m)
	if err != nil {
		t.Fatal(err)
	}
	for c, thr := range model.Thresholds {
		if thr < 2.5 {
			t.Errorf("cluster %d: threshold %v below --min-threshold 2.5", c, thr)
		}
	}
	if model.Training.MinThreshold != 2.5 {
		t.Errorf("training.min_threshold %v, want 2.5 recorded", model.Training.MinThreshold)
	}
	if code, out, _ := run(t, "model", "inspect", m); code != 0 || !strings.Contains(out, "at least 2.5") {
		t.Errorf("inspect (exit %d) does not show the floor:\n%s", code, out)
	}
	// At the default it is not written: earlier agents, which refuse
	// fields they do not know, still read a default model.
	if code, _, errs := run(t, "train", "--format", "combined", "--k", "3", "-o", m, webLog); code != 0 {
		t.Fatalf("train: %s", errs)
	}
	if b := mustRead(t, m); strings.Contains(b, "min_threshold") {
		t.Errorf("a default model records min_threshold")
	}
	// inspect says the floor was the default, and the thresholds tell which.
	def, err := detect.LoadModel(m)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("not recorded: the kind's default when trained (now 1.75); the lowest threshold is %.4g", slices.Min(def.Thresholds))
	if code, out, _ := run(t, "model", "inspect", m); code != 0 || !strings.Contains(out, want) {
		t.Errorf("inspect (exit %d) of a default model:\n%s", code, out)
	}
	for _, v := range []string{"0", "-1", "NaN", "+Inf"} {
		code, _, errs := run(t, "train", "--format", "combined", "--k", "3", "--min-threshold", v, "-o", m, webLog)
		if code != 2 || !strings.Contains(errs, "--min-threshold") {
			t.Errorf("--min-threshold %s: exit %d, stderr %q; want 2 and the flag named", v, code, errs)
		}
	}
}

// train records --probe-rare-errors when it is not the default (0: no
// probe left out, and none anomalous by the rule), inspect shows the rule
// of a web model with a vocabulary, and a default model does not record
// it (earlier agents refuse fields they do not know).
func TestTrain_ProbeRareErrorsRecorded(t *testing.T) {
	dir := t.TempDir()
	m := filepath.Join(dir, "m.json")
	if code, _, errs := run(t, "train", "--format", "combined", "--k", "3", "-o", m, webLog); code != 0 {
		t.Fatalf("train: %s", errs)
	}
	if b := mustRead(t, m); strings.Contains(b, "probe_rare_errors") {
		t.Errorf("a default model records probe_rare_errors")
	}
	if code, out, _ := run(t, "model", "inspect", m); code != 0 || !strings.Contains(out, "with 3 or more failed requests for never-served paths is anomalous") {
		t.Errorf("inspect (exit %d) does not show the probe rule:\n%s", code, out)
	}
	for _, x := range []struct {
		flag string
		rule int
	}{{"5", 5}, {"0", 0}} {
		if code, _, errs := run(t, "train", "--format", "combined", "--k", "3", "--probe-rare-errors", x.flag, "-o", m, webLog); code != 0 {
			t.Fatalf("train --probe-rare-errors %s: %s", x.flag, errs)
		}
		model, err := detect.LoadModel(m)
		if err != nil {
			t.Fatal(err)
		}
		if p := model.Training.ProbeRareErrors; p == nil || *p != x.rule || model.ProbeRule() != x.rule {
			t.Errorf("--probe-rare-errors %s: recorded %v, rule %d", x.flag, p, model.ProbeRule())
		}
		code, out, _ := run(t, "model", "inspect", m)
		if shown := strings.Contains(out, "failed requests for never-served paths is anomalous"); code != 0 || shown != (x.rule > 0) || !strings.Contains(out, "20 or more POSTs and 20 or more successes, all to one never-served path") {
			t.Errorf("--probe-rare-errors %s: inspect (exit %d) shows the rule %v, or not the flood rule:\n%s", x.flag, code, shown, out)
		}
	}
}

// train records --flood-requests when it is not the default (0: no flood
// rule), inspect shows the rule, and a negative value is a usage error.
func TestTrain_FloodRequestsRecorded(t *testing.T) {
	m := filepath.Join(t.TempDir(), "m.json")
	if code, _, errs := run(t, "train", "--format", "combined", "--k", "3", "-o", m, webLog); code != 0 {
		t.Fatalf("train: %s", errs)
	}
	if b := mustRead(t, m); strings.Contains(b, "flood_requests") {
		t.Errorf("a default model records flood_requests")
	}
	for _, x := range []struct {
		flag string
		rule int
		show string
	}{{"30", 30, "30 or more POSTs and 30 or more successes"}, {"0", 0, ""}} {
		if code, _, errs := run(t, "train", "--format", "combined", "--k", "3", "--flood-requests", x.flag, "-o", m, webLog); code != 0 {
			t.Fatalf("train --flood-requests %s: %s", x.flag, errs)
		}
		model, err := detect.LoadModel(m)
		if err != nil {
			t.Fatal(err)
		}
		if p := model.Training.FloodRequests; p == nil || *p != x.rule || model.FloodRule() != x.rule {
			t.Errorf("--flood-requests %s: recorded %v, rule %d", x.flag, p, model.FloodRule())
		}
		code, out, _ := run(t, "model", "inspect", m)
		if shown := strings.Contains(out, "floods    a window"); code != 0 || shown != (x.rule > 0) || !strings.Contains(out, x.show) || (x.rule == 0) != strings.Contains(out, "floods    off") {
			t.Errorf("--flood-requests %s: inspect (exit %d) shows the rule %v:\n%s", x.flag, code, shown, out)
		}
	}
	if code, _, errs := run(t, "train", "--format", "combined", "--k", "3", "--flood-requests", "-1", "-o", m, webLog); code != 2 || !strings.Contains(errs, "--flood-requests") {
		t.Errorf("--flood-requests -1: exit %d, stderr %q", code, errs)
	}
	// Without a vocabulary there is no rule to set: train says so.
	if code, _, errs := run(t, "train", "--format", "combined", "--k", "3", "--vocabulary-size", "0", "--flood-requests", "5", "-o", m, webLog); code != 0 || !strings.Contains(errs, "--flood-requests has no effect") {
		t.Errorf("--flood-requests without a vocabulary: exit %d, stderr %q", code, errs)
	}
	if b := mustRead(t, m); strings.Contains(b, "flood_requests") {
		t.Errorf("a model without a vocabulary records flood_requests")
	}
}
