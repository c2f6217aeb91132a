package detect

import (
	"fmt"
	"strings"

	"github.com/socx/sharkfin/record"
)

// Feature indexes for web logs (Apache/Nginx), in event order. The rare_
// features count requests to paths the model's path vocabulary does not
// know (see Vocabulary): rare_hits, rare_errors (those that failed, 4xx
// or 5xx but not 499), rare_share (of hits) and rare_error_ratio (of
// rare_hits). They are 0 under a model without a vocabulary. The hour_
// and day_ features are the client's 4xx, rare errors and new rare errors
// (on paths it had not failed on lately) over its recent windows (see
// Horizon).
const (
	WebHits = iota
	WebHits2xx
	WebHits3xx
	WebHits4xx
	WebHits5xx
	WebHitsNon2xx
	WebBytes
	WebDistinctPaths
	WebPost
	WebErrorRatio
	WebRareHits
	WebRareErrors
	WebRareShare
	WebRareErrorRatio
	WebHour4xx
	WebHourRareErrors
	WebDay4xx
	WebDayRareErrors
	WebHourNewRareErrors
	WebDayNewRareErrors
	webFeatureCount
)

// Feature indexes for proxy logs (Squid), per client.
const (
	ProxyHits = iota
	ProxyHits2xx
	ProxyHitsNon2xx
	ProxyBytes
	ProxyDistinctDomains
	ProxyDenied
	ProxyConnect
	ProxyIPDestinations
	proxyFeatureCount
)

// Feature indexes for DNS query logs (BIND), per client. Query logs carry
// no response code: hits counts queries, hits_2xx and hits_non2xx are kept
// for the event schema and are always 0.
const (
	DNSHits = iota
	DNSHits2xx
	DNSHitsNon2xx
	DNSQueries
	DNSDistinctSubdomains
	DNSMaxQNameLen
	DNSMeanQNameLen
	DNSMaxLabelEntropy
	DNSTXTAnyRatio
	DNSDistinctDomains
	DNSMaxDomainLen
	DNSMaxDomainEntropy
	DNSNewDomainShare
	DNSSubdomainEntropy
	DNSRandomDomains
	dnsFeatureCount
)

// FeatureNames returns the ordered feature names computed for a kind. The
// returned slice is a fresh copy.
func FeatureNames(k record.Kind) []string {
	switch k {
	case record.KindWeb:
		return []string{"hits", "hits_2xx", "hits_3xx", "hits_4xx", "hits_5xx", "hits_non2xx",
			"bytes", "distinct_paths", "post", "error_ratio",
			"rare_hits", "rare_errors", "rare_share", "rare_error_ratio",
			"hour_4xx", "hour_rare_errors", "day_4xx", "day_rare_errors",
			"hour_new_rare_errors", "day_new_rare_errors"}
	case record.KindProxy:
		return []string{"hits", "hits_2xx", "hits_non2xx", "bytes", "distinct_domains", "denied",
			"connect", "ip_destinations"}
	case record.KindDNS:
		return []string{"hits", "hits_2xx", "hits_non2xx", "queries", "distinct_subdomains",
			"max_qname_len", "mean_qname_len", "max_label_entropy", "txt_any_ratio",
			"distinct_domains", "max_domain_len", "max_domain_entropy", "new_domain_share", "subdomain_entropy",
			"random_domains"}
	}
	return nil
}

// DefaultModelFeatures is what `sharkfin train` fits when --features is not
// given: the features that separate the use cases of each kind.
func DefaultModelFeatures(k record.Kind) []string {
	switch k {
	case record.KindWeb:
		return []string{"hits_2xx", "hits_non2xx", "distinct_paths", "post", "error_ratio", "hour_new_rare_errors"}
	case record.KindProxy:
		return []string{"hits", "hits_non2xx", "distinct_domains", "denied", "connect", "ip_destinations"}
	case record.KindDNS:
		return []string{"queries", "distinct_subdomains", "max_qname_len", "mean_qname_len",
			"max_label_entropy", "txt_any_ratio", "distinct_domains", "random_domains", "new_domain_share"}
	}
	return nil
}

// Predecessor returns the feature a later one replaced in the defaults
// (hour_new_rare_errors: hour_rare_errors), for training from the events
// of agents that did not send the later one.
func Predecessor(name string) (string, bool) {
	switch name {
	case "hour_new_rare_errors":
		return "hour_rare_errors", true
	case "day_new_rare_errors":
		return "day_rare_errors", true
	}
	return "", false
}

// EarlierDefaultFeatures is DefaultModelFeatures with each feature that
// has a Predecessor in its place: what events of earlier agents can train.
func EarlierDefaultFeatures(k record.Kind) []string {
	fs := DefaultModelFeatures(k)
	for i, f := range fs {
		if was, ok := Predecessor(f); ok {
			fs[i] = was
		}
	}
	return fs
}

// DefaultProbeRareErrors is the rare errors (requests for paths the site
// never served, that failed) from which training takes a web window for a
// probe and leaves it out: see IsProbe.
const DefaultProbeRareErrors = 3

// DefaultFloodRequests is the flood rule's POSTs and successes in a window
// (Model.FloodRule, Score.Flood) unless training was given another.
const DefaultFloodRequests = 20

// IsProbe reports whether a web window (its full vector, FeatureNames
// order) asked for at least minRareErrors paths the site never served and
// failed: a probe, whatever else it did. Training leaves such windows out,
// so that a site's real scanners do not become a normal cluster that
// hides the next one (min-share drops small clusters; scanners on a small
// server are not small). minRareErrors 0: none is.
func IsProbe(k record.Kind, full []float64, minRareErrors int) bool {
	return minRareErrors > 0 && k == record.KindWeb && len(full) > WebRareErrors && full[WebRareErrors] >= float64(minRareErrors)
}

// NeedsVocabulary reports whether a feature counts rare paths, which needs
// the model's path vocabulary (rare_hits, hour_rare_errors, ...).
func NeedsVocabulary(name string) bool { return strings.Contains(name, "rare_") }

// WithoutVocabulary returns the names that do not need a vocabulary (the
// defaults of a model trained without one).
func WithoutVocabulary(names []string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		if !NeedsVocabulary(n) {
			out = append(out, n)
		}
	}
	return out
}

// featureIndex returns the position of name among the kind's features.
func featureIndex(k record.Kind, name string) (int, error) {
	for i, n := range FeatureNames(k) {
		if n == name {
			return i, nil
		}
	}
	return -1, fmt.Errorf("unknown %s feature %q (known: %v)", k, name, FeatureNames(k))
}
