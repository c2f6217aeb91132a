package config

import (
	"testing"

	"github.com/socx/sharkfin/examples"
	"go.yaml.in/yaml/v3"
)

// Parse never panics; what it accepts is valid and survives a marshal
// round trip; what it refuses, it refuses with Problems naming the file.
func FuzzParse(f *testing.F) {
	f.Add(examples.SampleConfig)
	f.Add(topDoc())
	f.Add(topDoc("output: {fluentd: {address: 'unix:///f.sock'}}", "state: {retention: 7d}"))
	f.Add(inputDoc("paths: [/a.log, /b.log]", "timezone: UTC", "<<: {poll: true}"))
	f.Add([]byte("inputs:\n\t- name: web\n"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "/etc/sharkfin/sharkfin.yaml")
		if err != nil {
			for _, p := range problemsOf(t, err) {
				if p.File != "/etc/sharkfin/sharkfin.yaml" || p.Msg == "" {
					t.Fatalf("problem %#v", p)
				}
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse accepted what Validate refuses: %v", err)
		}
		out, err := yaml.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(out, "/etc/sharkfin/sharkfin.yaml"); err != nil {
			t.Fatalf("accepted configuration does not survive a round trip:\n%s\n%v", out, err)
		}
	})
}
