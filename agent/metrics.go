package agent

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/socx/sharkfin/detect"
	"github.com/socx/sharkfin/detect/category"
	"github.com/socx/sharkfin/enrich"
	"github.com/socx/sharkfin/pipeline"
	"github.com/socx/sharkfin/state"
)

// metrics are the agent's Prometheus metrics, on a registry of its own.
type metrics struct {
	reg           *prometheus.Registry
	lines         *prometheus.CounterVec
	parsed        *prometheus.CounterVec
	rejected      *prometheus.CounterVec
	late          *prometheus.CounterVec
	future        *prometheus.CounterVec
	overflow      *prometheus.CounterVec
	windows       *prometheus.CounterVec
	anomalies     *prometheus.CounterVec
	ruleAnomalies *prometheus.CounterVec
	events        *prometheus.CounterVec
	delivered     prometheus.Counter
	sendErrors    prometheus.Counter
	outboxSkipped prometheus.Counter
	commits       prometheus.Counter
	commitSeconds prometheus.Histogram
	outboxBytes   prometheus.Gauge
	backpressure  prometheus.Gauge
	modelRejects  prometheus.Counter
	modelInfo     *prometheus.GaugeVec
	modelWaiting  *prometheus.GaugeVec
	modelAge      *prometheus.GaugeVec
	pullErrors    *prometheus.CounterVec
	pullLast      *prometheus.GaugeVec
	modelStale    *prometheus.GaugeVec
	keyWindows    *prometheus.CounterVec
	anomShare     *prometheus.GaugeVec
	// State maintenance: history folded into the index, retention.
	maintenance    *prometheus.CounterVec
	maintainErrors prometheus.Counter
	historyBacklog prometheus.Gauge
	maintainDue    prometheus.Gauge
	sweepPending   prometheus.Gauge
	lastCommit     prometheus.Gauge
	// The per-domain report.
	noDest          *prometheus.CounterVec
	destWindows     *prometheus.CounterVec
	categoryDomains prometheus.Gauge
	categoryRejects prometheus.Counter
	allowlisted     *prometheus.CounterVec
	seen, seenFull  prometheus.Gauge
	// last holds the pipeline counts already added to the counters, per
	// input (setPipeline adds what they grew by).
	last map[string]pipeline.Stats
}

func newMetrics() *metrics {
	reg := prometheus.NewRegistry()
	m := &metrics{
		reg: reg,
		lines: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sharkfin_lines_read_total",
			Help: "Complete lines read from the logs of an input."}, []string{"input"}),
		parsed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sharkfin_lines_parsed_total",
			Help: "Lines parsed."}, []string{"input"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sharkfin_lines_rejected_total",
			Help: "Lines rejected by the parser, by reason."}, []string{"input", "reason"}),
		late: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sharkfin_lines_late_total",
			Help: "Lines older than their already closed window (counted as late, in no window)."}, []string{"input"}),
		future: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sharkfin_lines_future_total",
			Help: "Lines dated more than a day past the clock (in no window: they would make every later line late)."}, []string{"input"}),
		overflow: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sharkfin_lines_overflowed_total",
			Help: "Lines counted under the overflow row (detect.max_keys reached)."}, []string{"input"}),
		windows: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sharkfin_windows_closed_total",
			Help: "Windows closed (their events built)."}, []string{"input"}),
		anomalies: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sharkfin_anomalies_total",
			Help: "Anomalous IP-windows."}, []string{"input"}),
		ruleAnomalies: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sharkfin_rule_anomalies_total",
			Help: "Anomalous IP-windows whose score a web rule set, by rule (probe, flood; their events' reason): part of sharkfin_anomalies_total."}, []string{"input", "rule"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sharkfin_events_queued_total",
			Help: "Events committed to the outbox, by type."}, []string{"type"}),
		delivered: prometheus.NewCounter(prometheus.CounterOpts{Name: "sharkfin_events_delivered_total",
			Help: "Events the output accepted (Fluentd: acked; stdout: written). They leave the outbox a quarter of a second later at most, or with the next commit."}),
		sendErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "sharkfin_delivery_errors_total",
			Help: "Failed delivery attempts."}),
		outboxSkipped: prometheus.NewCounter(prometheus.CounterOpts{Name: "sharkfin_outbox_skipped_total",
			Help: "Outbox events that could not be decoded (a damaged state file, or one another sharkfin wrote) and were skipped."}),
		commits: prometheus.NewCounter(prometheus.CounterOpts{Name: "sharkfin_state_commits_total",
			Help: "State transactions committed."}),
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "sharkfin_state_commit_seconds",
			Help: "Duration of state commits.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
		outboxBytes: prometheus.NewGauge(prometheus.GaugeOpts{Name: "sharkfin_outbox_bytes",
			Help: "Bytes of events waiting in the outbox."}),
		backpressure: prometheus.NewGauge(prometheus.GaugeOpts{Name: "sharkfin_backpressure",
			Help: "1 while reading is paused because the outbox is full."}),
		modelRejects: prometheus.NewCounter(prometheus.CounterOpts{Name: "sharkfin_model_rejections_total",
			Help: "New models rejected at reload."}),
		modelInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sharkfin_model_info",
			Help: "The model in use per kind (value 1)."}, []string{"kind", "model"}),
		modelWaiting: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sharkfin_model_waiting",
			Help: "1 while a new model file and its signature disagree and the agent waits for the other to arrive."}, []string{"kind"}),
		pullErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sharkfin_model_pull_errors_total",
			Help: "Failed fetches of a model given as a URL (unreachable, HTTP error, bad signature, not a model of the kind)."}, []string{"kind"}),
		pullLast: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sharkfin_model_pull_last_success_timestamp_seconds",
			Help: "When a model given as a URL was last fetched or found unchanged (Unix time)."}, []string{"kind"}),
		modelAge: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sharkfin_model_age_seconds",
			Help: "Age of the model in use per kind: now minus its training time."}, []string{"kind"}),
		modelStale: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sharkfin_model_stale",
			Help: "1 while the model in use is older than detect.max_model_age (0 when the check is off)."}, []string{"kind"}),
		keyWindows: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sharkfin_key_windows_scored_total",
			Help: "Source IP-windows scored, the overflow row included (the base of sharkfin_anomalies_total's share)."}, []string{"input"}),
		anomShare: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sharkfin_anomalous_share_last_hour",
			Help: "Share of the IP-windows scored in the last hour of event time that were anomalous, updated as windows close: a drifting site shows here."}, []string{"input"}),
		maintenance: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sharkfin_state_maintenance_total",
			Help: "State maintenance work: history entries folded into the per-key index (folded), segments past the retention deleted (expired), keys unseen for the retention forgotten (forgotten), cache entries expired (cache_expired), damaged history segments skipped (corrupt_skipped)."}, []string{"op"}),
		maintainErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "sharkfin_state_maintenance_errors_total",
			Help: "Failed state maintenance transactions."}),
		historyBacklog: prometheus.NewGauge(prometheus.GaugeOpts{Name: "sharkfin_state_history_backlog",
			Help: "History entries not folded into the per-key index yet."}),
		maintainDue: prometheus.NewGauge(prometheus.GaugeOpts{Name: "sharkfin_state_maintenance_due",
			Help: "1 while the state has history to fold or segments past the retention to delete."}),
		sweepPending: prometheus.NewGauge(prometheus.GaugeOpts{Name: "sharkfin_state_sweep_pending",
			Help: "1 while a round of the retention's index sweep is owed (the usual state while lines flow); 0 once every key past the retention is forgotten."}),
		lastCommit: prometheus.NewGauge(prometheus.GaugeOpts{Name: "sharkfin_state_last_commit_timestamp_seconds",
			Help: "When the last state commit was written (Unix time): its age is time() minus this."}),
		noDest: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sharkfin_lines_without_destination_total",
			Help: "Parsed proxy and DNS lines that name no destination (an error: URL, no host): counted per client, not per domain."}, []string{"input"}),
		destWindows: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sharkfin_domain_windows_total",
			Help: "Destination windows closed (every destination, whether its domain event was sent or not)."}, []string{"input"}),
		categoryDomains: prometheus.NewGauge(prometheus.GaugeOpts{Name: "sharkfin_category_list_domains",
			Help: "Names in the category list in use."}),
		categoryRejects: prometheus.NewCounter(prometheus.CounterOpts{Name: "sharkfin_category_list_rejections_total",
			Help: "Category list reloads rejected (the last good list stays in use)."}),
		allowlisted: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sharkfin_allowlisted_windows_total",
			Help: "Source windows of allowlisted sources (inputs[].allow): scored, never flagged."}, []string{"input"}),
		seen: prometheus.NewGauge(prometheus.GaugeOpts{Name: "sharkfin_domains_seen",
			Help: "Destinations this node remembers (detect.domains: seen_retention, max_seen)."}),
		seenFull: prometheus.NewGauge(prometheus.GaugeOpts{Name: "sharkfin_domains_seen_unremembered",
			Help: "Destinations not remembered since the start because max_seen was reached (they will be new again)."}),
		last: map[string]pipeline.Stats{},
	}
	reg.MustRegister(m.lines, m.parsed, m.rejected, m.late, m.future, m.overflow, m.windows, m.anomalies, m.ruleAnomalies, m.events, m.delivered,
		m.sendErrors, m.outboxSkipped, m.commits, m.commitSeconds, m.outboxBytes, m.backpressure, m.modelRejects, m.modelInfo, m.modelWaiting,
		m.modelAge, m.modelStale, m.pullErrors, m.pullLast, m.keyWindows, m.anomShare,
		m.maintenance, m.maintainErrors, m.historyBacklog, m.maintainDue, m.sweepPending, m.lastCommit,
		m.noDest, m.destWindows, m.categoryDomains, m.categoryRejects, m.allowlisted, m.seen, m.seenFull,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// stateCollector reports the state file at scrape time: its size, the
// part of it in use, and the longest transaction so far.
type stateCollector struct {
	store               func() *state.Store
	file, used, longest *prometheus.Desc
}

func newStateCollector(store func() *state.Store) *stateCollector {
	return &stateCollector{
		store: store,
		file: prometheus.NewDesc("sharkfin_state_file_bytes",
			"Size of the state file on disk (it never shrinks; freed pages are reused).", nil, nil),
		used: prometheus.NewDesc("sharkfin_state_used_bytes",
			"Bytes of the state file in use (less the pages free for reuse).", nil, nil),
		longest: prometheus.NewDesc("sharkfin_state_commit_longest_seconds",
			"The longest state transaction since the agent started (commits and maintenance).", nil, nil),
	}
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.file
	ch <- c.used
	ch <- c.longest
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.store()
	if st == nil {
		return
	}
	s := st.Stats()
	ch <- prometheus.MustNewConstMetric(c.file, prometheus.GaugeValue, float64(s.FileSize))
	ch <- prometheus.MustNewConstMetric(c.used, prometheus.GaugeValue, float64(max(0, s.DataSize-s.FreeBytes)))
	ch <- prometheus.MustNewConstMetric(c.longest, prometheus.GaugeValue, s.MaxCommit.Seconds())
}

// stateBacklog shows how far the state's maintenance lags.
func (m *metrics) stateBacklog(st *state.Store) {
	m.historyBacklog.Set(float64(st.Backlog()))
	due := 0.0
	if st.MaintenanceDue(0) {
		due = 1
	}
	m.maintainDue.Set(due)
	pending := 0.0
	if st.SweepPending() {
		pending = 1
	}
	m.sweepPending.Set(pending)
}

// maintained counts the work of one maintenance step.
func (m *metrics) maintained(w state.Work) {
	for op, n := range map[string]int{"folded": w.Folded, "expired": w.Expired, "forgotten": w.Forgotten, "cache_expired": w.CacheFreed, "corrupt_skipped": w.Corrupt} {
		if n > 0 {
			m.maintenance.WithLabelValues(op).Add(float64(n))
		}
	}
}

func (m *metrics) setModel(kind, id string) {
	m.modelInfo.DeletePartialMatch(prometheus.Labels{"kind": kind})
	m.modelInfo.WithLabelValues(kind, id).Set(1)
}

// setPipeline adds to the counters what an input's pipeline counted since
// the last call (its stats are totals since the agent started).
func (m *metrics) setPipeline(input string, s pipeline.Stats) {
	old := m.last[input]
	m.parsed.WithLabelValues(input).Add(float64(s.Parsed - old.Parsed))
	m.late.WithLabelValues(input).Add(float64(s.Late - old.Late))
	m.future.WithLabelValues(input).Add(float64(s.Future - old.Future))
	m.overflow.WithLabelValues(input).Add(float64(s.Overflowed - old.Overflowed))
	m.windows.WithLabelValues(input).Add(float64(s.Windows - old.Windows))
	if s.Dest != nil {
		var od detect.AggregatorStats
		if old.Dest != nil {
			od = *old.Dest
		}
		m.noDest.WithLabelValues(input).Add(float64(s.Dest.NoDest - od.NoDest))
		m.destWindows.WithLabelValues(input).Add(float64(s.Dest.KeyWindows - od.KeyWindows))
	}
	for reason, n := range s.Reasons {
		m.rejected.WithLabelValues(input, reason).Add(float64(n - old.Reasons[reason]))
	}
	s.Reasons = maps.Clone(s.Reasons)
	m.last[input] = s
}

// tailerCollector reports the inputs' tailers at scrape time: counters of
// rotations, truncations, recovered generations, skipped long lines and
// read errors per input, and per followed file the bytes not read yet.
// Series of files no longer followed go away with them.
type tailerCollector struct {
	inputs                                       func() []*input
	rotations, truncations, missed, long, errors *prometheus.Desc
	followed, lag                                *prometheus.Desc
}

func newTailerCollector(inputs func() []*input) *tailerCollector {
	return &tailerCollector{
		inputs: inputs,
		rotations: prometheus.NewDesc("sharkfin_file_rotations_total",
			"Followed files that left their path (renamed away or deleted).", []string{"input"}, nil),
		truncations: prometheus.NewDesc("sharkfin_file_truncations_total",
			"Followed files found truncated (copytruncate).", []string{"input"}, nil),
		missed: prometheus.NewDesc("sharkfin_file_missed_generations_total",
			"Rotated copies read whole because copytruncate rotated their generation away before the tailer saw it (recovered, not lost).", []string{"input"}, nil),
		long: prometheus.NewDesc("sharkfin_lines_too_long_total",
			"Lines longer than max_line_bytes, skipped.", []string{"input"}, nil),
		errors: prometheus.NewDesc("sharkfin_file_errors_total",
			"Failed opens, stats and reads of log files.", []string{"input"}, nil),
		followed: prometheus.NewDesc("sharkfin_files_followed",
			"Log files followed.", []string{"input"}, nil),
		lag: prometheus.NewDesc("sharkfin_file_lag_bytes",
			"Bytes of a followed file not read yet (its size when last looked at, less the offset read).", []string{"input", "path"}, nil),
	}
}

func (c *tailerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.rotations, c.truncations, c.missed, c.long, c.errors, c.followed, c.lag} {
		ch <- d
	}
}

func (c *tailerCollector) Collect(ch chan<- prometheus.Metric) {
	for _, in := range c.inputs() {
		st := in.tailer.Stats()
		name := in.cfg.Name
		for _, v := range []struct {
			d *prometheus.Desc
			n uint64
		}{{c.rotations, st.Totals.Rotations}, {c.truncations, st.Totals.Truncations}, {c.missed, st.Totals.Missed},
			{c.long, st.Totals.TooLong}, {c.errors, st.Totals.Errors}} {
			ch <- prometheus.MustNewConstMetric(v.d, prometheus.CounterValue, float64(v.n), name)
		}
		followed := 0
		for _, f := range st.Files {
			if !f.Followed {
				continue
			}
			followed++
			ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, float64(max(0, f.Size-f.Offset)), name, f.Path)
		}
		ch <- prometheus.MustNewConstMetric(c.followed, prometheus.GaugeValue, float64(followed), name)
	}
}

// serve starts the /metrics, /healthz and /readyz endpoint (and the
// profiler when withPprof, which the configuration allows on a loopback
// listener only); the returned server is closed by the caller. ready
// answers /readyz: nil when ready, else why not.
func (m *metrics) serve(addr string, withPprof bool, ready func() error, log *slog.Logger) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics.listen %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := ready(); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	if withPprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			// The agent keeps running without its endpoint.
			log.Error("metrics endpoint stopped; the agent runs on without it", "listen", addr, "err", err)
		}
	}()
	return srv, nil
}

// hourShare counts an input's scored IP-windows in one event-time hour
// (by window start). Windows close in time order, so when a window of a
// later hour arrives the hour is complete and its share is reported.
type hourShare struct {
	hour              int64 // Unix hour of the windows counted
	scored, anomalous int64
	keyWindows        prometheus.Counter
	gauge             prometheus.Gauge
}

// add counts one scored window starting at start (Unix nanoseconds).
func (h *hourShare) add(m *metrics, input string, start int64, anomalous bool) {
	if h.keyWindows == nil {
		h.keyWindows, h.gauge = m.keyWindows.WithLabelValues(input), m.anomShare.WithLabelValues(input)
	}
	hour := start / int64(time.Hour)
	if hour > h.hour && h.scored > 0 {
		h.gauge.Set(float64(h.anomalous) / float64(h.scored))
		h.scored, h.anomalous = 0, 0
	}
	if hour >= h.hour {
		h.hour = hour
	}
	h.scored++
	if anomalous {
		h.anomalous++
	}
	h.keyWindows.Inc()
}

// setCategories reports the category list in use.
func (m *metrics) setCategories(l *category.List) { m.categoryDomains.Set(float64(l.Stats().Entries)) }

// enrichCollector reports the lookups' counts at scrape time.
type enrichCollector struct {
	svc  *enrich.Service
	desc *prometheus.Desc
}

func newEnrichCollector(svc *enrich.Service) *enrichCollector {
	return &enrichCollector{svc: svc, desc: prometheus.NewDesc("sharkfin_enrich_lookups_total",
		"Destination lookups (TLS, WHOIS, RDAP) by outcome: queued, dropped (queue full), done, failed (nothing learnt or no answer), skipped (found cached by the worker).",
		[]string{"outcome"}, nil)}
}

func (c *enrichCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *enrichCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.svc.Stats()
	for _, o := range []struct {
		name string
		n    int64
	}{{"queued", s.Queued}, {"dropped", s.Dropped}, {"done", s.Done}, {"failed", s.Failed}, {"skipped", s.Skipped}} {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(o.n), o.name)
	}
}
