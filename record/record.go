// Package record defines the parsed form of one access-log line. It sits at
// the bottom of the dependency graph so that line formats (tailer/format),
// windows and features (detect) and the agent can share it without importing
// each other.
//
// A Record never owns memory: its byte-slice fields alias the line it was
// parsed from and are valid only until that line's buffer is reused. Parsers
// fill a caller-supplied *Record so the hot path allocates nothing.
package record

// Kind is the family of traffic a log describes.
type Kind uint8

// Kinds of traffic; they match the "kind" field of events.
const (
	KindUnknown Kind = iota
	KindWeb          // Apache/Nginx access logs: clients of a web server
	KindProxy        // Squid access logs: clients of a forward proxy
	KindDNS          // BIND query logs: clients of a resolver
)

// String returns the contract name of the kind ("web", "proxy", "dns").
func (k Kind) String() string {
	switch k {
	case KindWeb:
		return "web"
	case KindProxy:
		return "proxy"
	case KindDNS:
		return "dns"
	}
	return "unknown"
}

// ParseKind is the inverse of Kind.String.
func ParseKind(s string) (Kind, bool) {
	switch s {
	case "web":
		return KindWeb, true
	case "proxy":
		return KindProxy, true
	case "dns":
		return KindDNS, true
	}
	return KindUnknown, false
}

// Record is one parsed log line. Fields a format does not carry are left
// zero (nil slices, 0 numbers). Reset clears a Record for reuse.
type Record struct {
	// The fields the window counters read come first, so that counting a
	// record parsed on another core touches two cache lines of it, not five.

	// Time is the event time in Unix nanoseconds (UTC).
	Time int64
	// Client is the source address as text (IPv4 or IPv6, no port).
	Client []byte
	// Status is the HTTP status (0 when absent, e.g. Squid NONE_NONE/000).
	Status int
	// Bytes is the response size (0 for "-").
	Bytes int64
	// Hash, when Hashed, is the hash the window counters need of the
	// record's distinct value (path, destination host or query name),
	// computed ahead by the goroutine that parsed it (detect.Prehash), so
	// that the one that counts does not. ClientHash, when Hashed, is the
	// hash of Client the windows' key tables use (detect.Prehash too).
	Hash       uint64
	ClientHash uint64
	Hashed     bool
	// Rare is set, for a web record, when the model's path vocabulary
	// does not know its path (detect.PathVocab.Mark).
	Rare bool
	// ErrTag, for a web record that is a rare error (Rare, and 4xx/5xx
	// but not 499), is the 16-bit keyed tag of its path the client's
	// horizon remembers, computed by the parse worker
	// (detect.TagRareError) so that the goroutine that counts does not;
	// 0 when not computed.
	ErrTag uint16
	// Method is the request method (GET, POST, CONNECT, ...); nil when "-".
	Method []byte

	// User is the authenticated user (Apache %u, Squid ident/user), nil when "-".
	User []byte
	// Target is the request target: the path for web logs, the URL (or
	// host:port for CONNECT) for proxy logs.
	Target []byte
	// Host is the destination host name or address without port: the
	// vhost for vhost_combined web logs, the URL host for proxy logs, the
	// query name for DNS logs. nil when unknown.
	Host []byte
	// UserAgent and Referer come from the combined format; nil when "-".
	UserAgent []byte
	Referer   []byte

	// Action is the Squid result code before the slash (TCP_MISS,
	// TCP_DENIED, ...); nil for other formats.
	Action []byte
	// Peer is the Squid hierarchy peer address after the slash of the
	// hierarchy field (the destination IP for DIRECT), nil when "-".
	Peer []byte

	// QType is the DNS query type (A, AAAA, TXT, ANY, ...); QName is in Host.
	QType []byte

	// The destination, for the per-domain counters of proxy and DNS
	// records (detect.Destinations.Fill sets them; nil when Host names no
	// destination). Name is Host normalized (lowercase, no trailing dot,
	// an IPv6 address canonical); Dest is the unit of the per-domain
	// counters: the registrable domain (a suffix of Name), or the address
	// when DestIP. DestHash is the windows' key hash of Dest.
	Name     []byte
	Dest     []byte
	DestHash uint64
	DestIP   bool
}

// Reset clears r for reuse without freeing anything.
func (r *Record) Reset() { *r = Record{} }
