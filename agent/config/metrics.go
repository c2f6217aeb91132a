package config

// DefaultMetricsListen is where /metrics and /healthz are served when the
// file does not say.
const DefaultMetricsListen = "127.0.0.1:9808"

// Metrics configures the HTTP endpoint of Prometheus /metrics and /healthz.
type Metrics struct {
	// Listen is host:port (":9808" for every interface); "" turns the
	// endpoint off.
	Listen string `yaml:"listen"`
}

// SetDefaults fills zero fields with their defaults. Parse applies them
// before decoding, so listen: "" in a file keeps the endpoint off.
func (m *Metrics) SetDefaults() {
	if m.Listen == "" {
		m.Listen = DefaultMetricsListen
	}
}

// Validate checks the section.
func (m *Metrics) Validate() error {
	var p problems
	if m.Listen != "" {
		p.add("listen", checkHostPort(m.Listen, DefaultMetricsListen, true))
	}
	return p.err()
}
