package agent

import (
	"fmt"
	"slices"
	"time"

	"github.com/socx/sharkfin/tailer/format"
)

// badLines notices an input whose lines stop parsing (its server's log
// format changed, the wrong format configured) or run past max_line_bytes,
// which the metrics count but nothing else would say: a warning at most
// once a warnEvery per input, naming the file, the reason, a sample and the
// fix. Main loop only.
type badLines struct {
	lines, rejected int64 // since the period began
	reason          error
	sample          []byte
	path            string
	since, warned   time.Time // the period's start; the last warning
	tooLong         uint64    // the tailer's total when last looked at
	tooLongWarned   time.Time
}

// warnEvery is the least time between two warnings of one kind, and the
// period over which the share of rejected lines is judged.
const warnEvery = time.Minute

// sampleBytes is how much of a rejected line a warning quotes.
const sampleBytes = 160

// add counts a parsed part's lines and rejects.
func (b *badLines) add(pb *parsedBatch) {
	b.lines += int64(len(pb.lines))
	if len(pb.rejects) == 0 {
		return
	}
	b.rejected += int64(len(pb.rejects))
	if b.reason == nil && pb.rejectAt >= 0 {
		b.reason, b.path = pb.rejects[0], pb.path
		l := pb.lines[pb.rejectAt]
		b.sample = append(b.sample[:0], l[:min(len(l), sampleBytes)]...)
	}
}

// checkBadLines warns when at least half of an input's lines (10 or more)
// since the last warning, or over the last warnEvery, were rejected, at
// most once a warnEvery; and when the tailer skipped lines over
// max_line_bytes since it last looked.
func (a *Agent) checkBadLines(in *input, now time.Time) {
	b := &in.bad
	if b.rejected >= 10 && 2*b.rejected >= b.lines && now.Sub(b.warned) >= warnEvery {
		a.log.Warn("most lines of an input do not parse: they are counted in sharkfin_lines_rejected_total and in no window",
			"input", in.cfg.Name, "file", b.path, "rejected", b.rejected, "lines", b.lines,
			"reason", format.Reason(b.reason), "err", b.reason, "sample", string(b.sample),
			"fix", fmt.Sprintf("check inputs[].format (%s) against the file's lines; if the server's log format changed, set the format that matches", in.cfg.Format))
		b.warned = now
		b.lines, b.rejected, b.reason, b.since = 0, 0, nil, now
	}
	if now.Sub(b.since) >= warnEvery { // a new period: old rejects do not add up forever
		b.lines, b.rejected, b.reason, b.since = 0, 0, nil, now
	}
	st := in.tailer.Stats()
	if st.Totals.TooLong > b.tooLong && now.Sub(b.tooLongWarned) >= warnEvery {
		var files []string
		for _, f := range st.Files {
			if f.TooLong > 0 {
				files = append(files, f.Path)
			}
		}
		slices.Sort(files)
		a.log.Warn("lines longer than max_line_bytes were skipped (counted in sharkfin_lines_too_long_total)",
			"input", in.cfg.Name, "lines", st.Totals.TooLong-b.tooLong, "files", files,
			"fix", fmt.Sprintf("if they are real log lines, raise inputs[].max_line_bytes (%s)", in.cfg.MaxLineBytes))
		b.tooLong, b.tooLongWarned = st.Totals.TooLong, now
	}
}
