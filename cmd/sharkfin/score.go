package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/socx/sharkfin/detect"
	"github.com/socx/sharkfin/event"
	"github.com/socx/sharkfin/pipeline"
)

func newScoreCmd(e *env) *cobra.Command {
	var (
		in         inputFlags
		modelPath  string
		anomalies  bool
		explain    bool
		cpuProfile string
	)
	cmd := &cobra.Command{
		Use:   "score --format F --model M [--window 60s] [--anomalies-only] [--explain] FILE...",
		Short: "Score whole log files offline: one JSON event per IP-window on stdout",
		Long: `Reads whole files once (no follow) through the agent's own pipeline and
prints one ip_score event per source IP and window as JSON lines. A summary
goes to stderr. FILE may be "-" for standard input and may be gzipped.

--explain prints the anomalous windows only, readably instead of as JSON:
the window, the source, its score and severity, and the features that put
it out of its cluster, largest part first (the events' "explain": the
value, z = signed distance from the cluster's centre in standard
deviations of the model's space, and the share of the squared distance).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			if modelPath == "" {
				return usagef("--model is required")
			}
			m, err := detect.LoadModel(modelPath)
			if err != nil {
				return err
			}
			parser, err := in.parser(files)
			if err != nil {
				return err
			}
			if parser.Format.Kind().String() != m.Kind {
				return fmt.Errorf("model %s is for %s logs, but %v is %s (%s): use a %s model", modelPath, m.Kind, files, parser.Format.Kind(), parser.Format, parser.Format.Kind())
			}
			// A failed write (score ... | head) stops the reading too.
			ctx, cancel := context.WithCancelCause(cmd.Context())
			defer cancel(nil)
			out := bufio.NewWriterSize(&stopOnError{w: e.stdout, stop: cancel}, 256<<10)
			defer out.Flush()
			p, err := pipeline.New(pipeline.Config{
				Host:          in.hostName(),
				Source:        sourceName(in.source, parser.Format.Kind().String()),
				Parser:        parser,
				Window:        detect.WindowConfig{Window: in.window, Lateness: in.lateness, MaxKeys: in.maxKeys},
				Model:         m,
				AnomaliesOnly: anomalies || explain,
			}, func(ev *event.Event) {
				if explain {
					printExplained(out, ev)
				}
			})
			if err != nil {
				return err
			}
			// Closed keys are scored and rendered on workers, written in
			// order: the goroutine that counts lines goes on meanwhile.
			if !explain {
				p.RenderTo(out, 0)
			}
			if !explain {
				defer func() { _ = p.FinishRender() }() // stops the workers when feeding fails; no-op after the call below
			}
			stop, err := startCPUProfile(cpuProfile)
			if err != nil {
				return err
			}
			defer stop()
			// A whole-file run allocates little (keys and events, not lines)
			// and briefly: collect less often.
			debug.SetGCPercent(400)
			start := time.Now()
			files = orderByTime(files, parser)
			if err := feed(ctx, e, files, in.maxLine, p); err != nil {
				if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
					return fmt.Errorf("write events: %w", cause)
				}
				return err
			}
			p.Flush()
			var werr error
			if !explain {
				werr = p.FinishRender()
			}
			if err := out.Flush(); err != nil && werr == nil {
				werr = err
			}
			summary(e.stderr, p.Stats(), start)
			if werr != nil {
				return fmt.Errorf("write events: %w", werr)
			}
			return nil
		},
	}
	in.add(cmd)
	cmd.Flags().StringVar(&modelPath, "model", "", "model file (sharkfin.model/v1)")
	cmd.Flags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile (for performance work)")
	_ = cmd.Flags().MarkHidden("cpuprofile")
	cmd.Flags().BoolVar(&anomalies, "anomalies-only", false, "print only anomalous events")
	cmd.Flags().BoolVar(&explain, "explain", false, "print the anomalous windows readably, with the features that put them out")
	return cmd
}

func sourceName(flag, kind string) string {
	if flag != "" {
		return flag
	}
	return kind
}

// stopOnError is a writer that calls stop with its first write error.
type stopOnError struct {
	w    io.Writer
	stop context.CancelCauseFunc
}

func (s *stopOnError) Write(p []byte) (int, error) {
	n, err := s.w.Write(p)
	if err != nil {
		s.stop(err)
	}
	return n, err
}

// printExplained writes an anomalous window and its explanation readably
// (score --explain).
func printExplained(w io.Writer, ev *event.Event) {
	sev := "-"
	if ev.HasSeverity {
		sev = fmt.Sprintf("%.2f", ev.Severity)
	}
	src := ev.SrcIP
	fmt.Fprintf(w, "%s  %-15s  score %.2f  severity %s  cluster %d  (%s)\n",
		ev.WindowStart.Format(time.RFC3339), src, ev.Score, sev, ev.Cluster, ev.Model)
	if ev.Reason == event.ReasonProbe {
		n, _ := ev.Features.Get("rare_errors")
		fmt.Fprintf(w, "    probe: %g failed requests for paths the model's vocabulary does not know (the probe rule set its score)\n", n)
	}
	if ev.Reason == event.ReasonFlood {
		rare, _ := ev.Features.Get("rare_hits")
		fail, _ := ev.Features.Get("rare_errors")
		post, _ := ev.Features.Get("post")
		fmt.Fprintf(w, "    flood: %g POSTs and %g successful requests, all to one path the model's vocabulary does not know (the flood rule set its score)\n", post, rare-fail)
	}
	for _, x := range ev.Explain {
		fmt.Fprintf(w, "    %-20s %12s   z %+6.2f   %3.0f%%\n", x.Feature, strconv.FormatFloat(x.Value, 'g', 6, 64), x.Z, 100*x.Contribution)
	}
}
