package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// DefaultPath is the configuration file of an installed agent.
const DefaultPath = "/etc/sharkfin/sharkfin.yaml"

// Config is the agent's configuration file.
type Config struct {
	// Host is the node name put in events; default os.Hostname().
	Host    string  `yaml:"host"`
	Log     Log     `yaml:"log"`
	Inputs  []Input `yaml:"inputs"`
	State   State   `yaml:"state"`
	Detect  Detect  `yaml:"detect"`
	Output  Output  `yaml:"output"`
	Metrics Metrics `yaml:"metrics"`

	// Path is the file the configuration came from ("" when parsed from
	// memory).
	Path string `yaml:"-"`

	lines map[string]int // key path → line, for the messages of Check
}

// Load reads and parses the configuration file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return Parse(data, path)
}

// Parse decodes data strictly, applies defaults, resolves relative file
// names against the directory of path and validates the result. path
// names the file in messages; "" leaves relative names as they are. Every
// error is a *Problem; several are joined with errors.Join.
func Parse(data []byte, path string) (*Config, error) {
	root, perr := parseTree(data)
	if perr != nil {
		perr.File = path
		return nil, perr
	}
	tc := newTreeChecker()
	tc.value(root, reflect.TypeFor[Config](), "")
	if len(tc.problems) > 0 {
		errs := make([]error, len(tc.problems))
		for i, p := range tc.problems {
			p.File = path
			errs[i] = p
		}
		return nil, errors.Join(errs...)
	}

	// Defaults first: what the file sets, zeros included, then stays.
	c := &Config{}
	c.SetDefaults()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		return nil, decodeProblems(err, path, tc.lines)
	}
	if c.Host == "" {
		c.Host = hostname()
	}
	c.Path, c.lines = path, tc.lines
	if path != "" {
		c.resolve(filepath.Dir(path))
	}
	if err := c.Validate(); err != nil {
		return nil, errors.Join(toProblems(err, path, c.lines)...)
	}
	c.localModels()
	return c, nil
}

// PulledModelPath is where the agent keeps the model of kind it fetches
// from a URL: a models directory beside the state file (writable under
// the systemd unit, unlike /etc), with URL.sig as .sig beside it.
func (c *Config) PulledModelPath(kind string) string {
	return filepath.Join(filepath.Dir(c.State.Path), "models", kind+".json")
}

// localModels moves the models given as URLs to ModelURLs and points
// Models at their local copies.
func (c *Config) localModels() {
	for kind, v := range c.Detect.Models {
		if IsModelURL(v) {
			if c.Detect.ModelURLs == nil {
				c.Detect.ModelURLs = map[string]string{}
			}
			c.Detect.ModelURLs[kind] = v
			c.Detect.Models[kind] = c.PulledModelPath(kind)
		}
	}
}

// SetDefaults fills the zero fields of every section with their defaults.
func (c *Config) SetDefaults() {
	if c.Host == "" {
		c.Host = hostname()
	}
	c.Log.SetDefaults()
	for i := range c.Inputs {
		c.Inputs[i].SetDefaults()
	}
	c.State.SetDefaults()
	c.Detect.SetDefaults()
	c.Output.SetDefaults()
	c.Metrics.SetDefaults()
}

// Validate checks every section and the rules between them: input names
// and globs unique, a model for every input's kind, state retention of at
// least a window. Error paths are full key paths (inputs[1].start_at).
func (c *Config) Validate() error {
	var p problems
	if err := checkHost(c.Host); err != nil {
		p.add("host", err)
	}
	p.nest("log", c.Log.Validate())
	if len(c.Inputs) == 0 {
		p.addf("inputs", "has no input; add at least one, e.g. - {name: web, path: /var/log/nginx/access.log*, format: combined}")
	}
	names := map[string]int{}
	globs := map[string]int{}
	for i := range c.Inputs {
		in := &c.Inputs[i]
		path := indexPath("inputs", i)
		p.nest(path, in.Validate())
		if j, ok := names[in.Name]; ok && in.Name != "" {
			p.addf(joinPath(path, "name"), "%q is already the name of inputs[%d]; give each input its own name", in.Name, j)
		} else {
			names[in.Name] = i
		}
		for _, g := range in.Globs() {
			if j, ok := globs[g]; ok && j != i {
				p.addf(joinPath(path, globKey(in, g)), "%q is also a glob of inputs[%d]; a file belongs to one input", g, j)
			} else {
				globs[g] = i
			}
		}
	}
	p.nest("state", c.State.Validate())
	p.nest("detect", c.Detect.Validate())
	c.checkModels(&p)
	if c.State.Retention > 0 && c.State.Retention < c.Detect.Window {
		p.addf("state.retention", "%s is shorter than detect.window (%s); keep at least one window, e.g. 24h", c.State.Retention, c.Detect.Window)
	}
	p.nest("output", c.Output.Validate())
	p.nest("metrics", c.Metrics.Validate())
	return p.err()
}

// checkModels checks that the kind of every input has a model.
func (c *Config) checkModels(p *problems) {
	var kinds []string
	users := map[string][]string{}
	for i := range c.Inputs {
		in := &c.Inputs[i]
		if in.Format.check() != nil {
			continue // reported at the input
		}
		kind := in.Kind().String()
		if _, ok := users[kind]; !ok {
			kinds = append(kinds, kind)
		}
		users[kind] = append(users[kind], fmt.Sprintf("%q (format %s)", in.Name, in.Format))
	}
	for _, kind := range kinds {
		if _, ok := c.Detect.Models[kind]; ok {
			continue // an empty one is reported by Detect.Validate
		}
		who := "input " + users[kind][0]
		if len(users[kind]) > 1 {
			who = "inputs " + strings.Join(users[kind], ", ")
		}
		p.addf(joinPath("detect.models", kind), "is missing: %s needs a %s model; %s", who, kind, modelHint(kind))
	}
}

// globKey is the key of the input that holds glob g.
func globKey(in *Input, g string) string {
	if in.Path != "" {
		return "path"
	}
	for i, x := range in.Paths {
		if x == g {
			return indexPath("paths", i)
		}
	}
	return "paths"
}

// resolve makes the relative file names of c relative to dir.
func (c *Config) resolve(dir string) {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	for i := range c.Inputs {
		in := &c.Inputs[i]
		abs(&in.Path)
		for j := range in.Paths {
			abs(&in.Paths[j])
		}
	}
	abs(&c.State.Path)
	for kind, p := range c.Detect.Models {
		if !IsModelURL(p) {
			abs(&p)
		}
		c.Detect.Models[kind] = p
	}
	abs(&c.Detect.ModelPull.CAFile)
	for i := range c.Detect.TrustedKeys {
		abs(&c.Detect.TrustedKeys[i])
	}
	abs(&c.Detect.Domains.Categories)
	if c.Output.Fluentd != nil {
		abs(&c.Output.Fluentd.CAFile)
	}
}

// hostname is the default Host; "" when the system does not say, which
// Validate reports.
func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	return h
}

// checkHost checks a node name: printable, no spaces, at most 255 bytes.
func checkHost(h string) error {
	switch {
	case h == "":
		return errorf("is empty and the system has no host name; set host: to the node name")
	case len(h) > 255:
		return errorf("is %d bytes long; use at most 255", len(h))
	case strings.ContainsFunc(h, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return errorf("%q has spaces or control characters; use a name such as web-01", h)
	}
	return nil
}
