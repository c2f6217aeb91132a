package config

import (
	"bytes"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/socx/sharkfin/examples"
	"go.yaml.in/yaml/v3"
)

const examplePath = "../../examples/sharkfin.yaml"

// The shipped example parses and validates, and is the embedded one.
func TestExample_Parses(t *testing.T) {
	onDisk, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(onDisk, examples.SampleConfig) {
		t.Fatal("examples.SampleConfig differs from examples/sharkfin.yaml; rebuild")
	}
	c, err := Parse(examples.SampleConfig, DefaultPath)
	if err != nil {
		t.Fatalf("the example does not parse:\n%v", err)
	}
	if len(c.Inputs) == 0 || c.Output.Fluentd == nil {
		t.Errorf("example: %d inputs, fluentd %v", len(c.Inputs), c.Output.Fluentd)
	}
}

// Every key of the configuration is documented in the example, set or in
// a comment.
func TestExample_DocumentsEveryKey(t *testing.T) {
	var missing []string
	for _, key := range schemaKeys(reflect.TypeFor[Config](), "") {
		name := key[strings.LastIndexAny(key, ".]")+1:]
		if !bytes.Contains(examples.SampleConfig, []byte(name+":")) {
			missing = append(missing, key)
		}
	}
	if len(missing) > 0 {
		t.Errorf("keys not in examples/sharkfin.yaml: %v", missing)
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
