package config

import (
	"net"
	"net/netip"
)

// DefaultMetricsListen is where /metrics and /healthz are served when the
// file does not say.
const DefaultMetricsListen = "127.0.0.1:9808"

// Metrics configures the HTTP endpoint of Prometheus /metrics, /healthz
// and /readyz.
type Metrics struct {
	// Listen is host:port (":9808" for every interface); "" turns the
	// endpoint off.
	Listen string `yaml:"listen"`
	// Pprof serves Go's profiler under /debug/pprof/ on the same
	// listener, for performance work. Off by default, and refused unless
	// Listen is a loopback address: a profile shows the agent's memory
	// and costs CPU, and the endpoint has no authentication.
	Pprof bool `yaml:"pprof,omitempty"`
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
	if m.Pprof {
		switch {
		case m.Listen == "":
			p.addf("pprof", "needs the metrics endpoint; set metrics.listen to a loopback address, e.g. %s", DefaultMetricsListen)
		case !loopbackListen(m.Listen):
			p.addf("pprof", "is served only on a loopback listener, and metrics.listen is %q; listen on e.g. %s, or turn pprof off", m.Listen, DefaultMetricsListen)
		}
	}
	return p.err()
}

// loopbackListen reports whether the host of a host:port is a loopback
// address or localhost (an empty host listens on every interface).
func loopbackListen(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil || host == "" {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
