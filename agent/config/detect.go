package config

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/socx/sharkfin/detect"
	"github.com/socx/sharkfin/record"
)

// Defaults of Detect.
const (
	DefaultWindow     = Duration(60 * time.Second)
	DefaultLateness   = Duration(5 * time.Second)
	DefaultMaxKeys    = 100_000
	DefaultCloseBatch = 4096
	// DefaultHorizonClients is detect.DefaultHorizonClients.
	DefaultHorizonClients = 50_000
	DefaultEmit           = EmitAll
	DefaultModelCheck     = Duration(5 * time.Second)
	DefaultPullEvery      = Duration(5 * time.Minute)
	DefaultPullWait       = Duration(30 * time.Second)
	// DefaultSeenRetention is detect.domains.seen_retention's default.
	DefaultSeenRetention = Duration(90 * 24 * time.Hour)
	DefaultMaxSeen       = 1 << 20
)

// Bounds checked by Detect.Validate.
const (
	minWindow = Duration(time.Second)
	maxWindow = Duration(24 * time.Hour)
	// Lateness keeps windows open after they end: up to lateness/window
	// + 1 windows of an input at once, each with up to max_keys keys. The
	// bounds keep that to 11 windows and an hour of event time.
	maxLatenessWindows = 10
	maxLateness        = Duration(time.Hour)
	minModelCheck      = Duration(100 * time.Millisecond)
	minPullEvery       = Duration(time.Second)
)

// Detect configures windows, scoring and the domain report.
type Detect struct {
	// Window is the length of the tumbling windows, in whole seconds.
	Window Duration `yaml:"window"`
	// Lateness is how far behind the newest event time a line may be and
	// still count in its own window: 0 up to 10 windows and at most an
	// hour (long downloads logged when they end need minutes). Each
	// window of lateness keeps one more window open, in memory.
	Lateness Duration `yaml:"lateness"`
	// MaxKeys caps the source keys tracked per window and input; lines of
	// further keys are counted under one overflow key, never dropped.
	MaxKeys int `yaml:"max_keys"`
	// CloseBatch is the most closed keys (events and history entries) one
	// commit holds: a commit is due once that many keys closed, and closing
	// a window of more keys (a flood's) is spread over several commits,
	// bounding the memory and the transaction size. At 4096 (16,384
	// before) a flood of 100,000 addresses peaks 4-10 MiB lower through its
	// window's close, a catch-up of the day shape holds half the state
	// file (4 MiB, commits of 8-11 ms instead of 23-30) and neither the busy
	// nor the day catch-up uses more CPU (benchagent, 2026-12-07).
	CloseBatch int `yaml:"close_batch"`
	// HorizonClients caps the web clients whose hour and day sums (the
	// hour_ and day_ features) are kept per input: about 90 bytes each in
	// memory, 49 in the state. When full, the quarter whose last failure is oldest is
	// forgotten.
	HorizonClients int `yaml:"horizon_clients"`
	// Models maps a kind ("web", "proxy", "dns") to its model file. Every
	// input's kind needs one. A model may be an https:// URL instead: the
	// agent fetches it (and URL.sig) every model_pull.interval into the
	// state's directory and loads it like a file there; such models must
	// be signed (trusted_keys). After Load, Models holds the local copy's
	// path and ModelURLs the URL.
	Models map[string]string `yaml:"models,omitempty"`
	// ModelURLs maps the kinds whose model is pulled to its URL (set by
	// Load, not read from the file).
	ModelURLs map[string]string `yaml:"-"`
	// ModelPull configures fetching the models given as URLs.
	ModelPull ModelPull `yaml:"model_pull,omitempty"`
	// TrustedKeys are ed25519 public keys; when there are any, every model
	// must carry a valid detached signature MODEL.sig by one of them.
	TrustedKeys []string `yaml:"trusted_keys,omitempty"`
	// ModelCheck is how often the model files (and their signatures) are
	// looked at for changes (default 5s, at least 100ms).
	ModelCheck Duration `yaml:"model_check"`
	// MaxModelAge is how old (since its training) a model may get before
	// the agent says it is stale: a `model stale` agent event (again
	// every day while it stays stale) and sharkfin_model_stale{kind} 1.
	// 0 (the default) turns the check off; sharkfin_model_age_seconds is
	// reported either way.
	MaxModelAge Duration `yaml:"max_model_age"`
	// Emit selects the ip_score events sent.
	Emit Emit `yaml:"emit"`
	// Domains configures the per-domain report of proxy inputs.
	Domains Domains `yaml:"domains,omitempty"`
	// Features lists, per kind, the features its model is expected to
	// score with, from the kind's known set (what `sharkfin train
	// --features` fits). A model that uses others still scores with its
	// own (the model's features win: it was trained on them), and the
	// agent says so when it loads it.
	Features map[string][]string `yaml:"features,omitempty"`
}

// ModelPull configures fetching models given as URLs.
type ModelPull struct {
	// Interval is how often each URL is asked for a newer model (with
	// If-None-Match; default 5m). Failures are retried sooner, backing off
	// from 10s up to the interval.
	Interval Duration `yaml:"interval"`
	// Timeout bounds one fetch of a model and its signature (default 30s).
	Timeout Duration `yaml:"timeout"`
	// CAFile is a PEM file of the CA that signed the model server's
	// certificate, when it is not one the system trusts.
	CAFile string `yaml:"ca_file,omitempty"`
}

// IsModelURL reports whether a detect.models value is a URL to pull.
func IsModelURL(v string) bool { return strings.Contains(v, "://") }

// Domains configures the per-domain report of proxy and DNS inputs: the
// counters per destination (registrable domain, or bare address) are kept
// for every such input; this says which domain events are sent and what
// is added to them.
type Domains struct {
	// Categories is a domain,category CSV file, or a squidGuard/UT1
	// directory of <category>/domains files; empty leaves every domain
	// uncategorized. It is reloaded when its files change.
	Categories string `yaml:"categories,omitempty"`
	// Emit selects the domain events sent (default uncategorized).
	Emit DomainEmit `yaml:"emit"`
	// SeenRetention is how long a destination is remembered unseen
	// before it counts as new again (default 90 days, by event time).
	SeenRetention Duration `yaml:"seen_retention"`
	// MaxSeen bounds the destinations remembered (default 1,048,576,
	// about 40 MiB at most); past it, new ones are not remembered (and
	// reported new again) until the retention frees room.
	MaxSeen int `yaml:"max_seen"`
	// Enrich turns on network lookups about bare-IP and uncategorized
	// destinations. Off by default: they are the only connections the
	// agent makes besides its output.
	Enrich Enrich `yaml:"enrich,omitempty"`
}

// DomainEmit selects the domain events sent.
type DomainEmit string

// Values of DomainEmit.
const (
	// DomainEmitUncategorized sends the windows of destinations the
	// category list does not know (bare addresses among them), and the
	// first window of any destination never seen before.
	DomainEmitUncategorized DomainEmit = "uncategorized"
	// DomainEmitNew sends the first window of destinations never seen.
	DomainEmitNew DomainEmit = "new"
	// DomainEmitAll sends every destination's every window.
	DomainEmitAll DomainEmit = "all"
	// DomainEmitNone sends none (the counters and history are kept).
	DomainEmitNone DomainEmit = "none"
)

// UnmarshalText implements encoding.TextUnmarshaler.
func (e *DomainEmit) UnmarshalText(text []byte) error {
	return parseEnum(e, text, DomainEmitUncategorized, DomainEmitNew, DomainEmitAll, DomainEmitNone)
}

// Enrich selects the network lookups made about destinations, and where
// they go.
type Enrich struct {
	// TLS connects to a bare-IP destination's port 443 (without SNI) and
	// records the names in the certificate it presents.
	TLS bool `yaml:"tls,omitempty"`
	// WHOIS asks (RFC 3912, TCP 43) about bare-IP destinations and the
	// registrable domains of uncategorized ones: organisation, country,
	// creation date.
	WHOIS bool `yaml:"whois,omitempty"`
	// WhoisServer is the first WHOIS server asked (default
	// whois.iana.org:43); its referrals are followed.
	WhoisServer string `yaml:"whois_server,omitempty"`
	// RDAP asks the registration data over RDAP (HTTPS, JSON) instead of
	// port 43, falling back to WHOIS when RDAP tells nothing; RDAPServer
	// is the RDAP base URL asked (default: each query's server from the
	// IANA bootstrap registry, https://data.iana.org/rdap/).
	RDAP       bool   `yaml:"rdap,omitempty"`
	RDAPServer string `yaml:"rdap_server,omitempty"`
	// TLSPort is the port asked for a certificate (default 443).
	TLSPort int `yaml:"tls_port,omitempty"`
	// Timeout bounds each connection (default 5s).
	Timeout Duration `yaml:"timeout,omitempty"`
	// Rate bounds the destinations looked up per second (default 2), all
	// lookups together; Workers how many at once (default 4).
	Rate    float64 `yaml:"rate,omitempty"`
	Workers int     `yaml:"workers,omitempty"`
	// TTL is how long a result is kept in the state (default 168h);
	// NegativeTTL how long a destination that told nothing is left alone
	// (default 6h).
	TTL         Duration `yaml:"ttl,omitempty"`
	NegativeTTL Duration `yaml:"negative_ttl,omitempty"`
}

// On reports whether any lookup is on.
func (e *Enrich) On() bool { return e.TLS || e.WHOIS || e.RDAP }

// SetDefaults fills zero fields with their defaults.
func (d *Detect) SetDefaults() {
	if d.Window == 0 {
		d.Window = DefaultWindow
	}
	if d.Lateness == 0 {
		d.Lateness = DefaultLateness
	}
	if d.MaxKeys == 0 {
		d.MaxKeys = DefaultMaxKeys
	}
	if d.CloseBatch == 0 {
		d.CloseBatch = DefaultCloseBatch
	}
	if d.HorizonClients == 0 {
		d.HorizonClients = DefaultHorizonClients
	}
	if d.Emit == "" {
		d.Emit = DefaultEmit
	}
	if d.ModelCheck == 0 {
		d.ModelCheck = DefaultModelCheck
	}
	if d.ModelPull.Interval == 0 {
		d.ModelPull.Interval = DefaultPullEvery
	}
	if d.ModelPull.Timeout == 0 {
		d.ModelPull.Timeout = DefaultPullWait
	}
	if d.Domains.Emit == "" {
		d.Domains.Emit = DomainEmitUncategorized
	}
	if d.Domains.SeenRetention == 0 {
		d.Domains.SeenRetention = DefaultSeenRetention
	}
	if d.Domains.MaxSeen == 0 {
		d.Domains.MaxSeen = DefaultMaxSeen
	}
}

// OpenWindows is the most windows of an input open at once: the current
// one and those still in their lateness.
func (d *Detect) OpenWindows() int {
	if d.Window <= 0 {
		return 1
	}
	return int((d.Lateness+d.Window-1)/d.Window) + 1
}

// latenessExample is a lateness valid with window w, for hints.
func latenessExample(w Duration) Duration {
	if w <= 0 || DefaultLateness < w {
		return DefaultLateness
	}
	return max(w/2/Duration(time.Second)*Duration(time.Second), 0)
}

// Validate checks the section; that every input's kind has a model is
// checked by Config.Validate.
func (d *Detect) Validate() error {
	var p problems
	switch {
	case d.Window < minWindow:
		p.addf("window", "%s is too short; use at least %s, e.g. %s", d.Window, minWindow, DefaultWindow)
	case d.Window > maxWindow:
		p.addf("window", "%s is too long; use at most %s", d.Window, maxWindow)
	case d.Window%Duration(time.Second) != 0:
		p.addf("window", "%s is not a whole number of seconds; use e.g. %s", d.Window, DefaultWindow)
	}
	switch limit := min(maxLateness, maxLatenessWindows*d.Window); {
	case d.Lateness < 0:
		p.addf("lateness", "%s is negative; use 0s or more, e.g. %s", d.Lateness, latenessExample(d.Window))
	case d.Window >= minWindow && d.Lateness > limit:
		p.addf("lateness", "%s is too long: it would keep %d windows of %s open; use at most %s (%d windows, an hour at most)",
			d.Lateness, int((d.Lateness+d.Window-1)/d.Window)+1, d.Window, limit, maxLatenessWindows)
	}
	if d.ModelPull.Interval < minPullEvery {
		p.addf("model_pull.interval", "%s is too short; use at least %s, e.g. %s", d.ModelPull.Interval, minPullEvery, DefaultPullEvery)
	}
	if d.ModelPull.Timeout < minPullEvery {
		p.addf("model_pull.timeout", "%s is too short; use at least %s, e.g. %s", d.ModelPull.Timeout, minPullEvery, DefaultPullWait)
	}
	if d.ModelCheck < minModelCheck {
		p.addf("model_check", "%s is too short; use at least %s, e.g. %s", d.ModelCheck, minModelCheck, DefaultModelCheck)
	}
	if d.MaxModelAge > 0 && d.MaxModelAge < Duration(time.Hour) { // negative durations fail parsing
		p.addf("max_model_age", "%s is shorter than an hour; models are retrained in days: use e.g. 720h (30 days), or 0s for no check", d.MaxModelAge)
	}
	if d.Domains.SeenRetention < Duration(24*time.Hour) {
		p.addf("domains.seen_retention", "%s is shorter than a day; use e.g. %s", d.Domains.SeenRetention, DefaultSeenRetention)
	}
	if d.Domains.MaxSeen < 1000 {
		p.addf("domains.max_seen", "%d is too small; use at least 1000, e.g. %d", d.Domains.MaxSeen, DefaultMaxSeen)
	}
	if e := &d.Domains.Enrich; e.RDAPServer != "" {
		if u, err := url.Parse(e.RDAPServer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			p.addf("domains.enrich.rdap_server", "%q is not an http(s) URL; use e.g. https://rdap.example.net/, or leave it out for the IANA bootstrap", e.RDAPServer)
		}
	}
	if e := &d.Domains.Enrich; e.TLSPort < 0 || e.TLSPort > 65535 {
		p.addf("domains.enrich.tls_port", "%d is not a port; use e.g. 443", e.TLSPort)
	}
	if e := &d.Domains.Enrich; e.Rate < 0 || e.Workers < 0 || e.Timeout < 0 || e.TTL < 0 || e.NegativeTTL < 0 {
		p.addf("domains.enrich", "rate, workers, timeout, ttl and negative_ttl must not be negative; leave them out for the defaults")
	}
	for kind, names := range d.Features {
		k, ok := record.ParseKind(kind)
		if !ok {
			p.addf("features."+kind, "%q is not a kind; use web, proxy or dns", kind)
			continue
		}
		known := detect.FeatureNames(k)
		if len(names) == 0 {
			p.addf("features."+kind, "is empty; list features of %v, or leave the kind out", known)
		}
		for i, n := range names {
			switch {
			case !slices.Contains(known, n):
				p.addf(fmt.Sprintf("features.%s[%d]", kind, i), "%q is not a %s feature; use one of %v", n, kind, known)
			case slices.Index(names[:i], n) >= 0:
				p.addf(fmt.Sprintf("features.%s[%d]", kind, i), "%q is listed twice; remove one", n)
			}
		}
	}
	if d.HorizonClients < 4 || d.HorizonClients > 10_000_000 {
		p.addf("horizon_clients", "%d is out of range; use 4 to 10000000, e.g. %d", d.HorizonClients, DefaultHorizonClients)
	}
	if d.MaxKeys < 1 {
		p.addf("max_keys", "%d is too small; use at least 1, e.g. %d", d.MaxKeys, DefaultMaxKeys)
	}
	if d.CloseBatch < 1 {
		p.addf("close_batch", "%d is too small; use at least 1, e.g. %d", d.CloseBatch, DefaultCloseBatch)
	}
	for _, kind := range sortedKeys(d.Models) {
		path := joinPath("models", kind)
		if _, ok := record.ParseKind(kind); !ok {
			p.addf(path, "%q is not a kind; use %s", kind, orList(kindNames()))
			continue
		}
		if d.Models[kind] == "" {
			p.addf(path, "is empty; give the model file, e.g. /etc/sharkfin/models/%s.json", kind)
		}
		if v := d.Models[kind]; IsModelURL(v) {
			u, err := url.Parse(v)
			switch {
			case err != nil || u.Host == "":
				p.addf(path, "%q is not a URL; give a file, or an https:// URL such as https://models.example.com/%s.json", v, kind)
			case u.Scheme != "https":
				p.addf(path, "%q: only https:// URLs are fetched (a model decides what is normal: it must not travel in clear)", v)
			case len(d.TrustedKeys) == 0:
				p.addf(path, "a model fetched from %s must be signed: list the signer's public key in detect.trusted_keys", v)
			}
		}
	}
	for i, k := range d.TrustedKeys {
		switch j := slices.Index(d.TrustedKeys[:i], k); {
		case k == "":
			p.addf(indexPath("trusted_keys", i), "is empty; give a public key file made by sharkfin model keygen, e.g. /etc/sharkfin/keys/ops.pub")
		case j >= 0:
			p.addf(indexPath("trusted_keys", i), "%q is listed twice (also trusted_keys[%d]); remove one", k, j)
		}
	}
	p.add("emit", checkEnum(d.Emit, EmitAll, EmitAnomalies))
	return p.err()
}

// Model returns the model file configured for kind, "" when none is.
func (d *Detect) Model(kind record.Kind) string { return d.Models[kind.String()] }

// kindNames lists the names of the kinds of package record, which are the
// keys of Models. Only error paths call it.
func kindNames() []string {
	var names []string
	for i := range 256 {
		if k := record.Kind(i); k != record.KindUnknown && k.String() != record.KindUnknown.String() {
			names = append(names, k.String())
		}
	}
	return names
}

// sortedKeys returns the keys of m in order, for stable messages.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// modelHint is the fix for a missing model of kind.
func modelHint(kind string) string {
	return fmt.Sprintf("add %s: /etc/sharkfin/models/%s.json under detect.models (train one with sharkfin train)", kind, kind)
}
