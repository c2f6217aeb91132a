package format

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestSniff_DetectsTestdata(t *testing.T) {
	tests := []struct {
		file string
		want Format
	}{
		{"apache_combined.log", Combined},
		{"web_edge.log", Combined},
		{"vhost_combined.log", Combined},
		{"squid_native.log", Squid},
		{"squid6_edge.log", Squid},
		{"bind_queries.log", Bind},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			lines := readLines(t, filepath.Join("testdata", tt.file))
			if len(lines) > SniffLines {
				lines = lines[:SniffLines]
			}
			got, err := Sniff(lines)
			if err != nil || got != tt.want {
				t.Fatalf("Sniff = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestSniff_Behavior(t *testing.T) {
	const (
		squid    = "1157689312.049 5006 10.105.21.199 TCP_MISS/200 19763 CONNECT login.yahoo.com:443 badeyek DIRECT/209.73.177.115 -"
		combined = `83.149.9.216 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 203 "-" "-"`
		common   = `83.149.9.216 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 203`
		bind     = "7-Jul-2022 16:34:13.003 queries: info: client @0x55 192.0.2.2#80 (example.net): query: example.net IN ANY +E(0) (198.51.100.44)"
		junk     = "hello world"
	)
	tests := []struct {
		name  string
		lines []string
		want  Format
		err   error
	}{
		{"common lines are combined", []string{common, common}, Combined, nil},
		{"blank lines ignored", []string{"", squid, "  ", squid, "\r"}, Squid, nil},
		{"majority wins", []string{bind, bind, combined}, Bind, nil},
		{"half is enough", []string{squid, junk}, Squid, nil},
		{"minority is not enough", []string{squid, junk, junk}, Unknown, ErrUndetected},
		{"nothing parses", []string{junk, "{\"json\":1}"}, Unknown, ErrUndetected},
		{"no lines", nil, Unknown, ErrUndetected},
		{"only blank lines", []string{"", "\n"}, Unknown, ErrUndetected},
		{"partial first line ignored by majority", []string{`003 +0000] "GET / HTTP/1.1" 200 203`, combined, combined}, Combined, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var lines [][]byte
			for _, l := range tt.lines {
				lines = append(lines, []byte(l))
			}
			got, err := Sniff(lines)
			if got != tt.want || !errors.Is(err, tt.err) {
				t.Fatalf("Sniff = %v, %v; want %v, %v", got, err, tt.want, tt.err)
			}
		})
	}
}

func TestSniff_RealData(t *testing.T) {
	dir := sharedDataDir(t)
	for _, f := range realFiles {
		matches, err := filepath.Glob(filepath.Join(dir, filepath.FromSlash(f.pattern)))
		if err != nil {
			t.Fatal(err)
		}
		for _, path := range matches {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			lines := bytes.SplitN(data, []byte("\n"), SniffLines+1)
			lines = lines[:min(len(lines), SniffLines)]
			got, err := Sniff(lines)
			if err != nil || got != f.format {
				t.Errorf("%s: Sniff = %v, %v; want %v", path, got, err, f.format)
			}
		}
	}
}
