package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/socx/sharkfin/detect"
	"io"
	"math"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/socx/sharkfin/pipeline"
	"github.com/socx/sharkfin/record"
	"github.com/socx/sharkfin/tailer/format"
)

// inputFlags are the flags score and train share for reading logs.
type inputFlags struct {
	format   string
	window   time.Duration
	lateness time.Duration
	timezone string
	source   string
	host     string
	maxLine  int
	maxKeys  int
	// vocab is the path vocabulary web windows count rare paths against;
	// learn, if set, is filled from the logs by a first pass, whose
	// vocabulary is then used (train).
	vocab *detect.Vocabulary
	learn *detect.VocabBuilder
	// need, if set, names the features events must carry (the model's);
	// others they lack are taken as 0. needDefaults says they are the
	// default features (train without --features).
	need         func(string) bool
	needDefaults bool
	// key, if set, keys the pipeline's hashes (detect.DestKey): train
	// derives it from --seed, so that the rare-error paths' tags, and so
	// the model, are the same for the same logs and seed. Unset: random.
	key detect.DestKey
}

func (f *inputFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.format, "format", "auto", "log format: squid, common, combined, bind or auto")
	fl.DurationVar(&f.window, "window", 0, "window length (default: the model's, else 60s)")
	fl.DurationVar(&f.lateness, "lateness", 5*time.Second, "how late a line may be and still count in its window")
	fl.StringVar(&f.timezone, "timezone", "", "time zone of zone-less timestamps (BIND), e.g. Europe/Berlin (default: local)")
	fl.StringVar(&f.source, "source", "", "input name put in events (default: the kind, e.g. web)")
	fl.StringVar(&f.host, "host", "", "host name put in events (default: this machine's)")
	fl.IntVar(&f.maxLine, "max-line-bytes", pipeline.DefaultMaxLineBytes, "longer lines are counted and skipped")
	fl.IntVar(&f.maxKeys, "max-keys", 0, "cap on source keys per window; overflow is counted under \"overflow\" (0: no cap)")
}

// parser resolves the format (sniffing the first file for auto) and zone.
func (f *inputFlags) parser(files []string) (format.Parser, error) {
	p := format.Parser{SkipAgent: true} // nothing counts the referer and user agent
	fm, err := format.ParseFormat(f.format)
	if err != nil {
		return p, usageError{err}
	}
	if fm == format.Auto {
		if fm, err = sniffFiles(files); err != nil {
			return p, err
		}
	}
	p.Format = fm
	if f.timezone != "" {
		loc, err := time.LoadLocation(f.timezone)
		if err != nil {
			return p, usagef("--timezone %q: %v", f.timezone, err)
		}
		p.Location = loc
	}
	return p, nil
}

func (f *inputFlags) hostName() string {
	if f.host != "" {
		return f.host
	}
	h, err := os.Hostname()
	if err != nil {
		return "unknown"
	}
	return h
}

// sniffFiles detects the format from the first lines of the first file
// that has any.
func sniffFiles(files []string) (format.Format, error) {
	for _, path := range files {
		if path == "-" {
			return format.Unknown, usagef("--format auto cannot read standard input twice; name the format")
		}
		rc, err := pipeline.OpenLog(path)
		if err != nil {
			return format.Unknown, err
		}
		var lines [][]byte
		errStop := errors.New("enough")
		err = pipeline.ScanLines(io.LimitReader(rc, 1<<20), pipeline.DefaultMaxLineBytes, func(l []byte) {
			if len(lines) < 20 {
				lines = append(lines, append([]byte(nil), l...))
			}
		}, func() {})
		rc.Close()
		if err != nil && !errors.Is(err, errStop) {
			return format.Unknown, fmt.Errorf("%s: %w", path, err)
		}
		if len(lines) == 0 {
			continue
		}
		fm, err := format.Sniff(lines)
		if err != nil {
			return format.Unknown, fmt.Errorf("%s: cannot tell the log format (%v); name it with --format", path, err)
		}
		return fm, nil
	}
	return format.Unknown, fmt.Errorf("no lines in %v to detect the format from; name it with --format", files)
}

// orderByTime sorts files by the time of their first parseable line, so a
// rotation set named by a glob (access.log.1, access.log.10, access.log.2,
// ...) is read oldest first and its lines are not counted as late. Files
// without a parseable line keep their place at the end; standard input
// stays where it is.
func orderByTime(files []string, parser format.Parser) []string {
	type ft struct {
		path string
		t    int64
	}
	fts := make([]ft, len(files))
	for i, path := range files {
		fts[i] = ft{path, math.MaxInt64}
		if path == "-" {
			return files
		}
		rc, err := pipeline.OpenLog(path)
		if err != nil {
			continue // reported when the file is read
		}
		var rec record.Record
		found := false
		_ = pipeline.ScanLines(io.LimitReader(rc, 1<<20), pipeline.DefaultMaxLineBytes, func(l []byte) {
			if !found && parser.Parse(l, &rec) == nil {
				fts[i].t, found = rec.Time, true
			}
		}, func() {})
		rc.Close()
	}
	sort.SliceStable(fts, func(a, b int) bool { return fts[a].t < fts[b].t })
	out := make([]string, len(fts))
	for i, f := range fts {
		out[i] = f.path
	}
	return out
}

// feed reads every file whole into p. A progress bar is shown on a terminal
// when the input is large.
func feed(ctx context.Context, e *env, files []string, maxLine int, p *pipeline.Pipeline) error {
	var total int64
	for _, path := range files {
		if st, err := os.Stat(path); err == nil {
			total += st.Size()
		}
	}
	var bar *progressbar.ProgressBar
	if f, ok := e.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) && total > 64<<20 {
		bar = progressbar.DefaultBytes(total, "reading")
		defer bar.Finish()
	}
	for _, path := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		if bar == nil {
			if data, unmap, ok := mapFile(path); ok {
				err := p.ReadBytes(ctx, data, maxLine)
				unmap()
				if err != nil {
					return fmt.Errorf("read %s: %w", path, err)
				}
				continue
			}
		}
		rc, err := e.openLog(path)
		if err != nil {
			return err
		}
		var r io.Reader = rc
		if bar != nil && !strings.HasSuffix(path, ".gz") {
			r = io.TeeReader(rc, bar)
		}
		err = p.ReadAll(ctx, r, maxLine)
		rc.Close()
		if err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
	}
	return nil
}

// summary writes the one-line summary of a run.
func summary(w io.Writer, s pipeline.Stats, start time.Time) {
	el := time.Since(start)
	rate := 0.0
	if el > 0 {
		rate = float64(s.Lines) / el.Seconds()
	}
	fmt.Fprintf(w, "sharkfin: lines=%d parsed=%d rejected=%d late=%d overflow=%d windows=%d ip_windows=%d anomalies=%d events=%d elapsed=%s rate=%.0f/s",
		s.Lines, s.Parsed, s.Rejected, s.Late, s.Overflowed, s.Windows, s.KeyWindows, s.Anomalies, s.Events, el.Round(time.Millisecond), rate)
	if len(s.Reasons) > 0 {
		fmt.Fprintf(w, " rejected_by=%v", s.Reasons)
	}
	if s.Future > 0 { // dated more than a day past the clock: in no window
		fmt.Fprintf(w, " future=%d", s.Future)
	}
	fmt.Fprintln(w)
}
