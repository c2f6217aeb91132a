package config

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/socx/sharkfin/examples"
	"go.yaml.in/yaml/v3"
)

const examplePath = "../../examples/sharkfin.yaml"

// The shipped example parses and validates as it is.
func TestExample_Parses(t *testing.T) {
	c, err := Parse(examples.SampleConfig, DefaultPath)
	if err != nil {
		t.Fatalf("the example does not parse:\n%v", err)
	}
	if len(c.Inputs) == 0 || c.Output.Fluentd == nil {
		t.Errorf("example: %d inputs, fluentd %v", len(c.Inputs), c.Output.Fluentd)
	}
}

// commentedOnly are the keys the example shows in a comment instead of
// setting them, with why: alternatives to keys it sets, or values that
// depend on the machine.
var commentedOnly = map[string]string{
	"host":                      "defaults to the machine's name; a fixed name would be wrong on every other machine",
	"inputs[].paths":            "an alternative to path (several globs)",
	"output.stdout":             "an alternative to output.fluentd (exactly one output)",
	"metrics.pprof":             "off by default; a profiler is for performance work",
	"detect.model_pull.ca_file": "only for a model server whose CA the system does not trust",
}

// Every key of the configuration is in the example, at its place: set in
// the parsed document (the example parses, so it sets nothing unknown), or,
// for the few listed in commentedOnly, shown in a comment. A key added to
// the schema without its line in the example fails here.
func TestExample_DocumentsEveryKey(t *testing.T) {
	var root yaml.Node
	if err := yaml.Unmarshal(examples.SampleConfig, &root); err != nil {
		t.Fatal(err)
	}
	set := map[string]bool{}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.SequenceNode:
			for _, c := range n.Content {
				walk(c, path+"[]")
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				p := joinPath(path, n.Content[i].Value)
				set[p] = true
				walk(n.Content[i+1], p)
			}
		}
	}
	walk(&root, "")
	commented := map[string]bool{}
	for _, line := range strings.Split(string(examples.SampleConfig), "\n") {
		if f := strings.Fields(strings.TrimSpace(line)); len(f) >= 2 && f[0] == "#" && strings.HasSuffix(f[1], ":") {
			commented[strings.TrimSuffix(f[1], ":")] = true
		}
	}
	for _, key := range schemaKeys(reflect.TypeFor[Config](), "") {
		name := key[strings.LastIndexAny(key, ".]")+1:]
		_, listed := commentedOnly[key]
		switch {
		case set[key] && listed && commentedOnly[key] != "":
			t.Errorf("%s is set in the example: drop it from commentedOnly", key)
		case set[key]:
		case listed && commentedOnly[key] != "" && commented[name]:
		case listed && commentedOnly[key] != "":
			t.Errorf("%s (%s) is not in a comment of the example", key, commentedOnly[key])
		default:
			t.Errorf("%s is neither set in the example nor listed, with a reason, in commentedOnly", key)
		}
	}
}

// schemaKeys lists the key paths under t.
func schemaKeys(t reflect.Type, path string) []string {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		if t.Kind() == reflect.Slice {
			path += "[]"
		}
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || isLeaf(t) {
		return nil
	}
	var out []string
	for _, f := range fieldsOf(t) {
		p := joinPath(path, f.name)
		out = append(out, p)
		out = append(out, schemaKeys(f.typ, p)...)
	}
	return out
}

// A parsed configuration marshals back to YAML that parses to the same.
func TestConfig_MarshalRoundTrip(t *testing.T) {
	c, err := Parse(examples.SampleConfig, DefaultPath)
	if err != nil {
		t.Fatal(err)
	}
	out, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := Parse(out, DefaultPath)
	if err != nil {
		t.Fatalf("marshalled config does not parse:\n%s\n%v", out, err)
	}
	out2, err := yaml.Marshal(c2)
	if err != nil {
		t.Fatal(err)
	}
	c.lines, c2.lines = nil, nil
	if !reflect.DeepEqual(c, c2) {
		t.Errorf("round trip changed the configuration:\n%+v\n%+v", c, c2)
	}
	if !bytes.Equal(out, out2) {
		t.Errorf("round trip changed the YAML:\n%s\n---\n%s", out, out2)
	}
}
