package config

import (
	"net/netip"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/socx/sharkfin/record"
	"github.com/socx/sharkfin/tailer"
	"github.com/socx/sharkfin/tailer/format"
	"go.yaml.in/yaml/v3"
)

// Defaults of an Input.
const (
	DefaultStartAt        = StartAtEnd
	DefaultPollInterval   = Duration(250 * time.Millisecond)
	DefaultRescanInterval = Duration(10 * time.Second)
	DefaultRotateWait     = Duration(5 * time.Second)
	DefaultMaxLineBytes   = 1 * MiB
)

// Bounds checked by Input.Validate.
const (
	maxInputName    = 64
	minPollInterval = Duration(10 * time.Millisecond)
	maxPollInterval = Duration(time.Minute)
	minRescan       = Duration(time.Second)
	maxRescan       = Duration(time.Hour)
	maxRotateWait   = Duration(time.Hour)
	minLineBytes    = 1 * KiB
	maxLineBytes    = 64 * MiB
)

var inputName = regexp.MustCompile(`^[a-z0-9_-]+$`)

// Input is one set of log files of one format.
type Input struct {
	// Name identifies the input; it is the "source" of its events. Lower
	// case letters, digits, '-' and '_'; unique among inputs.
	Name string `yaml:"name"`
	// Path is a glob (filepath.Match syntax) of the files to follow; Paths
	// is a list of them. Exactly one of the two is set; see Globs.
	Path  string   `yaml:"path,omitempty"`
	Paths []string `yaml:"paths,omitempty"`
	// Exclude are patterns of files never read, matched against the base
	// name and the whole path, besides tailer.DefaultExclude (compressed
	// rotations), which always applies.
	Exclude []string `yaml:"exclude,omitempty"`
	// Format is the line format (required).
	Format Format `yaml:"format"`
	// StartAt is where to start a file seen for the first time.
	StartAt StartAt `yaml:"start_at"`
	// Poll stats the files every PollInterval instead of waiting for
	// inotify (NFS and other file systems without change notification).
	Poll         bool     `yaml:"poll,omitempty"`
	PollInterval Duration `yaml:"poll_interval"`
	// RescanInterval is how often the globs are expanded again.
	RescanInterval Duration `yaml:"rescan_interval"`
	// RotateWait is how long a file renamed away or deleted is still read
	// after it last grew.
	RotateWait Duration `yaml:"rotate_wait"`
	// Timezone is the zone of timestamps that carry none (BIND); the
	// zero value is the local zone.
	Timezone Timezone `yaml:"timezone,omitempty"`
	// MaxLineBytes is the longest line read; longer ones are skipped and
	// counted.
	MaxLineBytes ByteSize `yaml:"max_line_bytes"`
	// Allow lists the sources whose windows are counted, scored and
	// kept in the history like any other but never flagged anomalous
	// (health checkers, uptime monitors, the company's own crawler).
	// Reloaded with the configuration (SIGHUP).
	Allow Allow `yaml:"allow,omitempty"`
}

// Allow is an input's allowlist.
type Allow struct {
	// CIDRs are networks (10.0.0.0/8, 2001:db8::/32) or single
	// addresses of sources never flagged.
	CIDRs []string `yaml:"cidrs,omitempty"`
	// Paths are request path prefixes (/health), UserAgents substrings of
	// the user agent (UptimeRobot/): a source's window all of whose lines
	// match one of them is never flagged (one other line and it is
	// judged as usual). Case-sensitive; web inputs. A change of
	// user_agents needs a restart (the parser then reads user agents).
	Paths      []string `yaml:"paths,omitempty"`
	UserAgents []string `yaml:"user_agents,omitempty"`
}

// Prefixes returns the networks of CIDRs (valid after Validate).
func (a *Allow) Prefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, c := range a.CIDRs {
		if p, err := parseCIDR(c); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// parseCIDR reads a network, or a single address as its /32 or /128.
func parseCIDR(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

// UnmarshalYAML decodes an input over its defaults, so that a key the file
// sets to zero keeps its zero (the strict decode of Parse leaves list items
// zero otherwise). Unknown keys were already rejected by Parse's tree check.
func (in *Input) UnmarshalYAML(n *yaml.Node) error {
	type plain Input // without methods, so Decode does not come back here
	var v Input
	v.SetDefaults()
	if err := n.Decode((*plain)(&v)); err != nil {
		return err
	}
	*in = v
	return nil
}

// SetDefaults fills zero fields with their defaults.
func (in *Input) SetDefaults() {
	if in.StartAt == "" {
		in.StartAt = DefaultStartAt
	}
	if in.PollInterval == 0 {
		in.PollInterval = DefaultPollInterval
	}
	if in.RescanInterval == 0 {
		in.RescanInterval = DefaultRescanInterval
	}
	if in.RotateWait == 0 {
		in.RotateWait = DefaultRotateWait
	}
	if in.MaxLineBytes == 0 {
		in.MaxLineBytes = DefaultMaxLineBytes
	}
}

// Validate checks the input on its own; names unique among inputs are
// checked by Config.Validate.
func (in *Input) Validate() error {
	var p problems
	switch {
	case in.Name == "":
		p.addf("name", `is missing; name the input, e.g. name: web (it becomes the "source" of its events)`)
	case len(in.Name) > maxInputName || !inputName.MatchString(in.Name):
		p.addf("name", "%q is not valid; use up to %d lower-case letters, digits, '-' and '_', e.g. web or squid_main", in.Name, maxInputName)
	}

	switch {
	case in.Path != "" && len(in.Paths) > 0:
		p.addf("paths", "is set together with path; use path for one glob or paths for a list, not both")
	case in.Path == "" && len(in.Paths) == 0:
		p.addf("path", "is missing; set path: to a glob such as /var/log/apache2/access.log*, or paths: to a list of them")
	case in.Path != "":
		p.add("path", checkGlob(in.Path))
	default:
		for i, g := range in.Paths {
			if j := slices.Index(in.Paths[:i], g); j >= 0 {
				p.addf(indexPath("paths", i), "%q is listed twice (also paths[%d]); remove one", g, j)
				continue
			}
			p.add(indexPath("paths", i), checkGlob(g))
		}
	}
	for i, x := range in.Allow.Paths {
		if !strings.HasPrefix(x, "/") {
			p.addf(indexPath("allow.paths", i), "%q is not a path prefix; use e.g. /health", x)
		}
	}
	for i, x := range in.Allow.UserAgents {
		if x == "" {
			p.addf(indexPath("allow.user_agents", i), "is empty (it would match every line); remove it, or give e.g. UptimeRobot/")
		}
	}
	for i, c := range in.Allow.CIDRs {
		if _, err := parseCIDR(c); err != nil {
			p.addf(indexPath("allow.cidrs", i), "%q is not a network or address; use e.g. 10.0.0.0/8, 2001:db8::/32 or 192.0.2.7", c)
		}
	}
	for i, pat := range in.Exclude {
		if pat == "" {
			p.addf(indexPath("exclude", i), "is empty; remove it or give a pattern such as \"*.1\"")
		} else if _, err := filepath.Match(pat, ""); err != nil {
			p.addf(indexPath("exclude", i), "%q is not a valid pattern (%v); use filepath.Match syntax: *, ?, [a-z] and \\ to escape", pat, err)
		}
	}

	p.add("format", in.Format.check())
	p.add("start_at", checkEnum(in.StartAt, StartAtEnd, StartAtBeginning))
	p.add("poll_interval", checkRange(in.PollInterval, minPollInterval, maxPollInterval))
	p.add("rescan_interval", checkRange(in.RescanInterval, minRescan, maxRescan))
	p.add("rotate_wait", checkRange(in.RotateWait, 0, maxRotateWait))
	p.add("max_line_bytes", checkSize(in.MaxLineBytes, minLineBytes, maxLineBytes))
	return p.err()
}

// Globs returns the input's globs: Path, or Paths.
func (in *Input) Globs() []string {
	if in.Path != "" {
		return []string{in.Path}
	}
	return in.Paths
}

// Kind is the traffic family of the input's format, which selects its
// model in Detect.Models.
func (in *Input) Kind() record.Kind { return in.Format.Kind() }

// Parser returns the line parser of the input. It skips the referer and
// user agent, which nothing counts (format.Parser.SkipAgent).
func (in *Input) Parser() format.Parser {
	return format.Parser{Format: in.Format.Format, Location: in.Timezone.Location(), SkipAgent: len(in.Allow.UserAgents) == 0}
}

// Tailer returns the tailer configuration of the input, with
// tailer.DefaultExclude in front of Exclude.
func (in *Input) Tailer() tailer.Config {
	return tailer.Config{
		Name:           in.Name,
		Paths:          slices.Clone(in.Globs()),
		RescanInterval: in.RescanInterval.Std(),
		StartAt:        string(in.StartAt),
		Poll:           in.Poll,
		PollInterval:   in.PollInterval.Std(),
		MaxLineBytes:   in.MaxLineBytes.Int(),
		Exclude:        in.excludes(),
		RotateWait:     in.RotateWait.Std(),
	}
}

// excludes is every pattern of files the input never reads.
func (in *Input) excludes() []string {
	return append(slices.Clone(tailer.DefaultExclude), in.Exclude...)
}

// excluded reports whether the input never reads path, as the tailer
// decides it.
func (in *Input) excluded(path string) bool {
	base := filepath.Base(path)
	for _, pat := range in.excludes() {
		if ok, _ := filepath.Match(pat, base); ok {
			return true
		}
		if ok, _ := filepath.Match(pat, path); ok {
			return true
		}
	}
	return false
}

// checkGlob checks the syntax of a glob of files.
func checkGlob(g string) error {
	switch {
	case g == "":
		return errorf("is empty; give a glob such as /var/log/nginx/access.log*")
	case strings.HasSuffix(g, "/"):
		return errorf("%q names a directory; add a file pattern, e.g. %s*.log", g, g)
	case strings.Contains(g, "**"):
		return errorf("%q uses **, which does not cross directories here; use one * per directory level, e.g. /var/log/*/access.log", g)
	}
	if _, err := filepath.Match(g, ""); err != nil {
		return errorf("%q is not a valid glob (%w); use filepath.Match syntax: *, ?, [a-z] and \\ to escape", g, err)
	}
	return nil
}
