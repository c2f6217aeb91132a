package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/spf13/cobra"

	"github.com/socx/sharkfin/agent"
	"github.com/socx/sharkfin/agent/config"
	"github.com/socx/sharkfin/detect"
	"github.com/socx/sharkfin/detect/category"
	"github.com/socx/sharkfin/detect/domain"
	"github.com/socx/sharkfin/record"
	"github.com/socx/sharkfin/state"
)

// addAgentCommands adds the commands of the long-running agent (run,
// check, state).
func addAgentCommands(root *cobra.Command, e *env) {
	root.AddCommand(newRunCmd(e), newCheckCmd(e), newStateCmd(e))
}

func newLogger(e *env, level, format string) *slog.Logger {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		lv = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(e.stderr, opts))
	}
	return slog.New(slog.NewTextHandler(e.stderr, opts))
}

func newRunCmd(e *env) *cobra.Command {
	var cfgPath, level, cpuProfile string
	cmd := &cobra.Command{
		Use:   "run [-c FILE]",
		Short: "Run the agent: follow the logs, score windows, deliver events",
		Long: `Runs in the foreground until SIGTERM or SIGINT (commits, exits 0).
SIGHUP reloads the configuration and models; a bad new one is rejected and
the running one stays. Under systemd (Type=notify) it reports readiness.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// The log section of the file, unless --log-level is given.
			format := "text"
			cfg, cfgErr := config.Load(cfgPath)
			if cfgErr == nil {
				if !cmd.Flags().Changed("log-level") {
					level = string(cfg.Log.Level)
				}
				format = string(cfg.Log.Format)
			}
			log := newLogger(e, level, format)
			var limit int64
			if cfgErr == nil && os.Getenv("GOMEMLIMIT") == "" {
				limit = memoryLimit(cfg)
				debug.SetMemoryLimit(limit)
				log.Debug("Go soft memory limit set from the key caps (GOMEMLIMIT overrides)", "limit_mib", limit>>20)
			}
			out, _ := e.stdout.(*os.File)
			// WatchdogSec of the unit: WATCHDOG_USEC, for this process
			// if WATCHDOG_PID is set.
			watchdog, err := daemon.SdWatchdogEnabled(false)
			if err != nil {
				log.Warn("service manager watchdog ignored", "err", err)
			}
			a, err := agent.New(cfgPath, agent.Options{
				Logger:      log,
				Stdout:      out,
				Notify:      func(s string) { _, _ = daemon.SdNotify(false, s) },
				Watchdog:    watchdog,
				MemoryLimit: limit,
			})
			if err != nil {
				return err
			}
			stop, err := startCPUProfile(cpuProfile)
			if err != nil {
				return err
			}
			defer stop()
			return a.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVarP(&cfgPath, "config", "c", config.DefaultPath, "configuration file")
	cmd.Flags().StringVar(&level, "log-level", "info", "debug, info, warn or error")
	cmd.Flags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile (for performance work)")
	_ = cmd.Flags().MarkHidden("cpuprofile")
	return cmd
}

func newCheckCmd(e *env) *cobra.Command {
	var cfgPath string
	cmd := &cobra.Command{
		Use:   "check [-c FILE]",
		Short: "Validate the configuration, models, category list and keys; exit 0 or 1",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			cfg, err := config.Load(cfgPath)
			if err != nil {
				return err
			}
			problems := cfg.Check()
			if cats := cfg.Detect.Domains.Categories; cats != "" && !hasProblem(problems, "detect.domains.categories") {
				if l, err := category.Load(cats); err != nil {
					problems = append(problems, fmt.Errorf("detect.domains.categories: %w", err))
				} else if s := l.Stats(); s.Files > 0 {
					fmt.Fprintf(e.stdout, "%s: category list: %d domains in %d categories from %d file(s), %d listed twice (the first listing wins)\n",
						cfgPath, s.Entries, s.Categories, s.Files, s.Duplicates)
				}
			}
			for kind, path := range cfg.Detect.Models {
				if _, pulled := cfg.Detect.ModelURLs[kind]; pulled {
					if _, err := os.Stat(path); err != nil {
						continue // not fetched yet: Check warned
					}
				}
				m, err := agent.LoadModel(path, cfg.Detect.TrustedKeys)
				if err != nil {
					problems = append(problems, fmt.Errorf("detect.models.%s: %w", kind, err))
					continue
				}
				if want, ok := cfg.Detect.Features[kind]; ok && !slices.Equal(want, m.Features) {
					problems = append(problems, &config.Problem{File: cfgPath, Path: "detect.features." + kind, Warning: true,
						Msg: fmt.Sprintf("model %s scores with %v, not %v; the model's features are used (train with --features %s, or change the list)",
							m.ID(), m.Features, want, strings.Join(want, ","))})
				}
			}
			// Warnings (an input whose files do not exist yet: it waits
			// for them) are printed but pass, so the unit's ExecStartPre
			// starts an agent whose Nginx is not installed yet.
			errs, warnings := 0, 0
			for _, p := range problems {
				fmt.Fprintf(e.stderr, "%s: %v\n", cfgPath, p)
				var cp *config.Problem
				if errors.As(p, &cp) && cp.Warning {
					warnings++
				} else {
					errs++
				}
			}
			if errs > 0 {
				return fmt.Errorf("%s: %d problem(s), %d warning(s)", cfgPath, errs, warnings)
			}
			fmt.Fprintf(e.stdout, "%s: ok (%d inputs, models: %v, %d warning(s))\n", cfgPath, len(cfg.Inputs), cfg.Detect.Models, warnings)
			return nil
		},
	}
	cmd.Flags().StringVarP(&cfgPath, "config", "c", config.DefaultPath, "configuration file")
	return cmd
}

func newStateCmd(e *env) *cobra.Command {
	var cfgPath, by, kindFlag string
	var n int
	cmd := &cobra.Command{
		Use:   "state [-c FILE] [summary|top|ip ADDR|domain NAME]",
		Short: "Read-only view of the agent's state (works while the agent runs)",
		Long: `Read-only view of the agent's state file, from a consistent copy: it works
while the agent runs and never makes it wait.

    summary (the default)  file size, outbox, and per history kind the keys
                           held, the segments and windows kept, the oldest and
                           newest window and the entries not folded yet
    top                    the keys with the most hits (--by, --kind, -n)
    ip ADDR, domain NAME   one key: first and last seen, totals, its windows
                           within the retention`,
		Args: cobra.RangeArgs(0, 2),
		RunE: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				args = []string{"summary"}
			}
			cfg, err := config.Load(cfgPath)
			if err != nil {
				return err
			}
			st, err := state.OpenReadOnly(cfg.State.Path, 5*time.Second)
			if err != nil {
				return err
			}
			defer st.Close()
			switch args[0] {
			case "summary":
				return printStateSummary(e.stdout, cfg.State.Path, st)
			case "top":
				if kindFlag != state.KindIP && kindFlag != state.KindDomain {
					return usagef("--kind %q: want ip or domain", kindFlag)
				}
				hs, err := st.Top(kindFlag, n, by)
				if err != nil {
					return err
				}
				flagCol := "anomalies"
				if kindFlag == state.KindDomain {
					flagCol = "flagged" // uncategorized or new
				}
				fmt.Fprintf(e.stdout, "%-40s %10s %12s %8s %9s  %s\n", kindFlag, "hits", "bytes", "windows", flagCol, "last seen")
				for _, h := range hs {
					fmt.Fprintf(e.stdout, "%-40s %10d %12d %8d %9d  %s\n", h.Key, h.Hits, h.Bytes, h.Windows, h.Anomalies, h.LastSeen.Format(time.RFC3339))
				}
				return nil
			case "ip", "domain":
				if len(args) != 2 {
					return usagef("state %s needs a key", args[0])
				}
				kind, key, flag := state.KindIP, args[1], "anomalous"
				if args[0] == "domain" {
					kind, key, flag = state.KindDomain, destinationKey(args[1]), "flagged"
					if first, _, ok, err := st.SeenOf(key); err != nil {
						return err
					} else if ok {
						fmt.Fprintf(e.stdout, "domain %s first seen on this node in the window of %s\n", key, first.Format(time.RFC3339))
					}
				}
				if kind == state.KindIP {
					if err := printHorizons(e.stdout, cfg, st, key); err != nil {
						return err
					}
				}
				h, ok, err := st.History(kind, key)
				if err != nil {
					return err
				}
				if !ok {
					return errors.New(args[0] + " " + key + ": no history in the state (never seen, or pruned after state.retention)")
				}
				fmt.Fprintf(e.stdout, "%s %s\nfirst seen %s\nlast seen  %s\nhits %d bytes %d windows %d %s %d\n",
					args[0], h.Key, h.FirstSeen.Format(time.RFC3339), h.LastSeen.Format(time.RFC3339), h.Hits, h.Bytes, h.Windows, flag, h.Anomalies)
				for _, w := range h.Recent {
					mark := ""
					if w.Anomalous {
						mark = "  " + strings.ToUpper(flag)
					}
					fmt.Fprintf(e.stdout, "  %s  hits %6d  bytes %10d%s\n", w.Start.Format(time.RFC3339), w.Hits, w.Bytes, mark)
				}
				return nil
			}
			return usagef("state: want summary, top, ip ADDR or domain NAME, got %q", args[0])
		},
	}
	cmd.Flags().StringVarP(&cfgPath, "config", "c", config.DefaultPath, "configuration file")
	cmd.Flags().IntVarP(&n, "n", "n", 20, "rows for top")
	cmd.Flags().StringVar(&by, "by", "hits", "top order: hits, bytes, anomalies or last_seen")
	cmd.Flags().StringVar(&kindFlag, "kind", state.KindIP, "top of: ip or domain")
	return cmd
}

// printHorizons writes a client's hour and day sums on each web input
// that keeps some (clients that failed a request in the last days).
func printHorizons(w io.Writer, cfg *config.Config, st *state.Store, ip string) error {
	kb, err := st.DestKey()
	if err != nil {
		return err
	}
	dk, err := detect.DestKeyFrom(kb)
	if err != nil {
		return err
	}
	for _, in := range cfg.Inputs {
		if in.Kind() != record.KindWeb {
			continue
		}
		u, ok, err := st.HorizonOf(in.Name, detect.HorizonKey(dk, ip))
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		fmt.Fprintf(w, "input %s: failures, summed at its last one (window of %s; they decay from there):\n"+
			"  hour_4xx %.2f  hour_rare_errors %.2f  day_4xx %.2f  day_rare_errors %.2f\n"+
			"  hour_new_rare_errors %.2f  day_new_rare_errors %.2f  (the last %d rare-error paths remembered)\n",
			in.Name, time.Unix(u.Last, 0).UTC().Format(time.RFC3339), u.Values[detect.Hour4xx], u.Values[detect.HourRareErrors],
			u.Values[detect.Day4xx], u.Values[detect.DayRareErrors],
			u.Values[detect.HourNewRareErrors], u.Values[detect.DayNewRareErrors], countNonZero(u.Recent[:]))
	}
	return nil
}

func countNonZero(xs []uint16) int {
	n := 0
	for _, x := range xs {
		if x != 0 {
			n++
		}
	}
	return n
}

// printStateSummary writes what `sharkfin state summary` shows.
func printStateSummary(w io.Writer, path string, st *state.Store) error {
	stats := st.Stats()
	count, size, err := st.OutboxStats()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "state file  %s\nsize        %s on disk, %s used, %s free for reuse\noutbox      %d events, %s\nretention   %s\n",
		path, mib(stats.FileSize), mib(stats.DataSize), mib(stats.FreeBytes), count, mib(size), st.Retention())
	for _, kind := range []string{state.KindIP, state.KindDomain} {
		sum, err := st.Summary(kind)
		if err != nil {
			return err
		}
		span := "none"
		if sum.Segments > 0 {
			span = sum.Oldest.Format(time.RFC3339) + " .. " + sum.Newest.Format(time.RFC3339)
		}
		fmt.Fprintf(w, "%-11s %d keys; %d windows kept in %d segments, %s; %d entries not folded yet\n",
			kind, sum.Keys, sum.Entries, sum.Segments, span, sum.Unfolded)
	}
	return nil
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// memoryLimit is the Go soft memory limit `sharkfin run` sets unless
// GOMEMLIMIT is given: a base for the runtime, read and parse buffers and
// commits, plus room for the keys detect.max_keys lets each input track.
// The collector then keeps the heap near what the keys need, instead of
// letting it grow to twice that (GOGC's default) in a flood. A limit below
// what the data needs only makes the collector work harder, and the runtime
// caps that at about half the CPU; it never fails an allocation.
//
// A lateness of more than a window keeps more windows open, each with up to
// max_keys keys: the room grows with them (one window's worth for the
// lateness of up to a window, as before).
//
// A proxy or DNS input counts per destination too, in windows of up to
// max_keys keys of their own; and the node remembers up to
// detect.domains.max_seen destinations (about 48 bytes each, in memory).
func memoryLimit(c *config.Config) int64 {
	// The web clients' hour and day sums (at most 4.5 MB at the default
	// detect.horizon_clients, only failing clients) and a model's path
	// vocabulary (1.6 MiB at its default size) are not counted: the limit
	// is where the collector works harder, and counting them let a flood's
	// heap grow into room they did not use (benchagent: 76-77 MiB through
	// the close of 100,000 IPs against 70-72, and 46 against 40 at 10,000).
	const base, perKey, perSeen = 24 << 20, 192, 48
	windows := int64(max(1, c.Detect.OpenWindows()-1))
	tables, seen := int64(0), false
	for _, in := range c.Inputs {
		tables++
		if k := in.Kind(); k == record.KindProxy || k == record.KindDNS {
			tables++
			seen = true
		}
	}
	limit := base + windows*tables*int64(c.Detect.MaxKeys)*perKey
	if seen {
		limit += int64(c.Detect.Domains.MaxSeen) * perSeen
	}
	return limit
}

// hasProblem reports whether problems hold one about the setting at path.
func hasProblem(problems []error, path string) bool {
	for _, p := range problems {
		var cp *config.Problem
		if errors.As(p, &cp) && cp.Path == path {
			return true
		}
	}
	return false
}

// destinationKey is the key the per-domain counters use for a name given
// on the command line: its registrable domain ("www.Example.co.uk" gives
// "example.co.uk"), or the address for an IP address.
func destinationKey(name string) string {
	n, isIP := domain.Normalize(nil, []byte(name))
	if n == nil {
		return name
	}
	if !isIP {
		if reg, ok := domain.NewSuffixes(1).Registrable(n); ok {
			return string(reg)
		}
	}
	return string(n)
}
