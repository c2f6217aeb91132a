package config

import (
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Defaults of Fluentd.
const (
	DefaultFluentdAddress = "127.0.0.1:24224"
	DefaultTagPrefix      = "sharkfin"
	DefaultOutboxMax      = 256 * MiB
	DefaultOutputTimeout  = Duration(10 * time.Second)
)

// Bounds checked by Fluentd.Validate.
const (
	minOutboxMax     = 1 * MiB
	maxOutboxMax     = 1 * TiB
	minOutputTimeout = Duration(100 * time.Millisecond)
	maxOutputTimeout = Duration(10 * time.Minute)
)

// Output is where events go: exactly one of Fluentd and Stdout. A file
// without an output section writes to stdout.
type Output struct {
	Fluentd *Fluentd `yaml:"fluentd,omitempty"`
	Stdout  *Stdout  `yaml:"stdout,omitempty"`
}

// Fluentd sends events over the Fluentd forward protocol with
// acknowledgements, keeping undelivered ones in the state file's outbox.
type Fluentd struct {
	// Address is host:port, or unix:///path for a unix socket.
	Address string `yaml:"address"`
	// TLS connects with TLS (TCP only), verifying the server against
	// CAFile, or the system roots when CAFile is empty.
	TLS    bool   `yaml:"tls,omitempty"`
	CAFile string `yaml:"ca_file,omitempty"`
	// InsecureSkipVerify accepts any server certificate: for tests only.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify,omitempty"`
	// TagPrefix starts every tag: <tag_prefix>.<kind>.<type>.
	TagPrefix string `yaml:"tag_prefix"`
	// OutboxMax caps the undelivered events kept; beyond it the agent
	// applies backpressure and says so with an agent event.
	OutboxMax ByteSize `yaml:"outbox_max"`
	// Timeout bounds one delivery: connecting, sending and the ack.
	Timeout Duration `yaml:"timeout"`
}

// Stdout writes events as JSON lines on standard output. It has no keys.
type Stdout struct{}

// UnmarshalYAML decodes an output section that the file gives, replacing
// the default (stdout), so that the section names exactly the outputs the
// file sets.
func (o *Output) UnmarshalYAML(n *yaml.Node) error {
	type plain Output
	var v Output
	if err := n.Decode((*plain)(&v)); err != nil {
		return err
	}
	*o = v
	return nil
}

// SetDefaults selects stdout when no output is set, and fills the zero
// fields of the one that is.
func (o *Output) SetDefaults() {
	if o.Fluentd == nil && o.Stdout == nil {
		o.Stdout = &Stdout{}
	}
	if o.Fluentd != nil {
		o.Fluentd.SetDefaults()
	}
}

// Validate checks that exactly one output is set, and that one.
func (o *Output) Validate() error {
	var p problems
	switch {
	case o.Fluentd != nil && o.Stdout != nil:
		p.addf("stdout", "is set together with fluentd; keep one of the two outputs")
	case o.Fluentd == nil && o.Stdout == nil:
		p.addf("", "sets no output; add fluentd: {address: host:port} or stdout: {}, or remove the section for stdout")
	case o.Fluentd != nil:
		p.nest("fluentd", o.Fluentd.Validate())
	}
	return p.err()
}

// UnmarshalYAML decodes the section over its defaults, so that a key the
// file sets keeps its value; see Input.UnmarshalYAML.
func (f *Fluentd) UnmarshalYAML(n *yaml.Node) error {
	type plain Fluentd
	var v Fluentd
	v.SetDefaults()
	if err := n.Decode((*plain)(&v)); err != nil {
		return err
	}
	*f = v
	return nil
}

// SetDefaults fills zero fields with their defaults.
func (f *Fluentd) SetDefaults() {
	if f.Address == "" {
		f.Address = DefaultFluentdAddress
	}
	if f.TagPrefix == "" {
		f.TagPrefix = DefaultTagPrefix
	}
	if f.OutboxMax == 0 {
		f.OutboxMax = DefaultOutboxMax
	}
	if f.Timeout == 0 {
		f.Timeout = DefaultOutputTimeout
	}
}

// Validate checks the section.
func (f *Fluentd) Validate() error {
	var p problems
	if sock, ok := strings.CutPrefix(f.Address, "unix://"); ok {
		switch {
		case !strings.HasPrefix(sock, "/"):
			p.addf("address", "%q needs an absolute socket path; use e.g. unix:///var/run/fluentd/forward.sock", f.Address)
		case f.TLS:
			p.addf("tls", "is for TCP addresses; remove it, or use a host:port address")
		}
	} else if f.Address == "" {
		p.addf("address", "is empty; use host:port, e.g. %s, or unix:///path", DefaultFluentdAddress)
	} else {
		p.add("address", checkHostPort(f.Address, DefaultFluentdAddress+" or unix:///path", false))
	}
	if !f.TLS {
		if f.CAFile != "" {
			p.addf("ca_file", "needs tls: true; turn TLS on or remove ca_file")
		}
		if f.InsecureSkipVerify {
			p.addf("insecure_skip_verify", "needs tls: true; turn TLS on or remove insecure_skip_verify")
		}
	}
	p.add("tag_prefix", checkTag(f.TagPrefix))
	p.add("outbox_max", checkSize(f.OutboxMax, minOutboxMax, maxOutboxMax))
	p.add("timeout", checkRange(f.Timeout, minOutputTimeout, maxOutputTimeout))
	return p.err()
}

// checkTag accepts dot-separated parts of letters, digits, '_' and '-', the
// characters Fluentd routes on.
func checkTag(s string) error {
	if s == "" {
		return errorf("is empty; use e.g. %s", DefaultTagPrefix)
	}
	for part := range strings.SplitSeq(s, ".") {
		if part == "" {
			return errorf("%q has an empty part; use dot-separated names such as %s or dc1.sharkfin", s, DefaultTagPrefix)
		}
		for _, r := range part {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
				return errorf("%q has the character %q; use letters, digits, '_', '-' and dots, e.g. %s", s, r, DefaultTagPrefix)
			}
		}
	}
	return nil
}
