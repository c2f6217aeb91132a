package agent

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/socx/sharkfin/state"
)

// metrics are the agent's Prometheus metrics, on a registry of its own.
type metrics struct {
	reg           *prometheus.Registry
	lines         *prometheus.CounterVec
	parsed        *prometheus.GaugeVec
	rejected      *prometheus.GaugeVec
	late          *prometheus.GaugeVec
	overflow      *prometheus.GaugeVec
	anomalies     *prometheus.CounterVec
	events        *prometheus.CounterVec
	delivered     prometheus.Counter
	sendErrors    prometheus.Counter
	commits       prometheus.Counter
	commitSeconds prometheus.Histogram
	outboxBytes   prometheus.Gauge
	backpressure  prometheus.Gauge
	modelRejects  prometheus.Counter
	modelInfo     *prometheus.GaugeVec
	modelWaiting  *prometheus.GaugeVec
	// State maintenance: history folded into the index, retention.
	maintenance    *prometheus.CounterVec
	maintainErrors prometheus.Counter
	historyBacklog prometheus.Gauge
	maintainDue    prometheus.Gauge
}

func newMetrics() *metrics {
	reg := prometheus.NewRegistry()
	m := &metrics{
		reg: reg,
		lines: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sharkfin_lines_read_total",
			Help: "Complete lines read from the logs of an input."}, []string{"input"}),
		parsed: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sharkfin_lines_parsed",
			Help: "Lines parsed since the agent started."}, []string{"input"}),
		rejected: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sharkfin_lines_rejected",
			Help: "Lines rejected by the parser since the agent started, by reason."}, []string{"input", "reason"}),
		late: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sharkfin_lines_late",
			Help: "Lines older than their already closed window, since the agent started."}, []string{"input"}),
		overflow: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sharkfin_lines_overflowed",
			Help: "Lines counted under the overflow key (detect.max_keys reached), since the agent started."}, []string{"input"}),
		anomalies: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sharkfin_anomalies_total",
			Help: "Anomalous IP-windows."}, []string{"input"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sharkfin_events_queued_total",
			Help: "Events committed to the outbox, by type."}, []string{"type"}),
		delivered: prometheus.NewCounter(prometheus.CounterOpts{Name: "sharkfin_events_delivered_total",
			Help: "Events delivered (acked) and removed from the outbox."}),
		sendErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "sharkfin_delivery_errors_total",
			Help: "Failed delivery attempts."}),
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
		maintenance: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sharkfin_state_maintenance_total",
			Help: "State maintenance work: history entries folded into the per-key index (folded), segments past the retention deleted (expired), keys unseen for the retention forgotten (forgotten), cache entries expired (cache_expired)."}, []string{"op"}),
		maintainErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "sharkfin_state_maintenance_errors_total",
			Help: "Failed state maintenance transactions."}),
		historyBacklog: prometheus.NewGauge(prometheus.GaugeOpts{Name: "sharkfin_state_history_backlog",
			Help: "History entries not folded into the per-key index yet."}),
		maintainDue: prometheus.NewGauge(prometheus.GaugeOpts{Name: "sharkfin_state_maintenance_due",
			Help: "1 while the state has history to fold or segments past the retention to delete."}),
	}
	reg.MustRegister(m.lines, m.parsed, m.rejected, m.late, m.overflow, m.anomalies, m.events, m.delivered,
		m.sendErrors, m.commits, m.commitSeconds, m.outboxBytes, m.backpressure, m.modelRejects, m.modelInfo, m.modelWaiting,
		m.maintenance, m.maintainErrors, m.historyBacklog, m.maintainDue,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// stateBacklog shows how far the state's maintenance lags.
func (m *metrics) stateBacklog(st *state.Store) {
	m.historyBacklog.Set(float64(st.Backlog()))
	due := 0.0
	if st.MaintenanceDue(0) {
		due = 1
	}
	m.maintainDue.Set(due)
}

// maintained counts the work of one maintenance step.
func (m *metrics) maintained(w state.Work) {
	for op, n := range map[string]int{"folded": w.Folded, "expired": w.Expired, "forgotten": w.Forgotten, "cache_expired": w.CacheFreed} {
		if n > 0 {
			m.maintenance.WithLabelValues(op).Add(float64(n))
		}
	}
}

func (m *metrics) setModel(kind, id string) {
	m.modelInfo.DeletePartialMatch(prometheus.Labels{"kind": kind})
	m.modelInfo.WithLabelValues(kind, id).Set(1)
}

func (m *metrics) setPipeline(input string, s PipelineStats) {
	m.parsed.WithLabelValues(input).Set(float64(s.Parsed))
	m.late.WithLabelValues(input).Set(float64(s.Late))
	m.overflow.WithLabelValues(input).Set(float64(s.Overflowed))
	for reason, n := range s.Reasons {
		m.rejected.WithLabelValues(input, reason).Set(float64(n))
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
