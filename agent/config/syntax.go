package config

import (
	"bytes"
	"errors"
	"io"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// parseTree parses data into its root node, which must be a mapping.
func parseTree(data []byte) (*yaml.Node, *Problem) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Problem{Msg: "is empty; start from examples/sharkfin.yaml, which documents every key"}
		}
		return nil, syntaxProblem(err, data)
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, syntaxProblem(err, data)
		}
		return nil, &Problem{Line: next.Line, Msg: "starts a second YAML document (---); keep the configuration in one document"}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if isNull(root) {
		return nil, &Problem{Msg: "is empty; start from examples/sharkfin.yaml, which documents every key"}
	}
	if root.Kind != yaml.MappingNode {
		return nil, &Problem{Line: root.Line, Msg: "is not a mapping of keys; the file starts with keys such as inputs:, detect: and output:"}
	}
	return root, nil
}

// maxSyntaxLines bounds the files whose syntax errors syntaxLine locates.
const maxSyntaxLines = 2000

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// syntaxProblem turns a YAML syntax error in data into a Problem, with a
// hint for the usual mistakes.
func syntaxProblem(err error, data []byte) *Problem {
	msg := err.Error()
	p := &Problem{Line: syntaxLine(data)}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		msg = m[2]
		if p.Line == 0 {
			p.Line, _ = strconv.Atoi(m[1])
		}
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	switch {
	case strings.Contains(msg, "found character that cannot start any token"):
		msg += "; indent with spaces, not tabs, and quote values that start with @ or `"
	case strings.Contains(msg, "did not find expected alphabetic or numeric character"),
		strings.Contains(msg, "unknown anchor"):
		msg += `; quote values that start with * or &, e.g. "*.gz"`
	default:
		msg += "; fix the YAML syntax"
	}
	p.Msg = "invalid YAML: " + msg
	return p
}

// syntaxLine finds the line of a syntax error in data: the line after the
// longest prefix of whole lines that parses. The YAML parser reports the
// line where the enclosing block started (line 1 for a bad indentation on
// line 9), or no line at all. 0 for files of more than maxSyntaxLines
// lines, whose prefixes would take too long to parse.
func syntaxLine(data []byte) int {
	lines := bytes.SplitAfter(data, []byte("\n"))
	if len(lines) > maxSyntaxLines {
		return 0
	}
	end := len(data)
	for j := len(lines) - 1; j > 0; j-- {
		end -= len(lines[j])
		if parses(data[:end]) {
			return j + 1
		}
	}
	return 1
}

// parses reports whether every document of data is valid YAML.
func parses(data []byte) bool {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return true
		}
		if err != nil {
			return false
		}
	}
}

// decodeProblems turns an error of the strict decode, which the tree check
// should have caught first, into Problems.
func decodeProblems(err error, file string, lines map[string]int) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		p := &Problem{File: file, Msg: err.Error()}
		return p
	}
	errs := make([]error, 0, len(te.Errors))
	for _, e := range te.Errors {
		p := &Problem{File: file, Msg: e}
		if m := yamlLine.FindStringSubmatch(e); m != nil {
			p.Line, _ = strconv.Atoi(m[1])
			p.Msg = m[2]
			p.Path = pathAtLine(lines, p.Line)
		}
		errs = append(errs, p)
	}
	return errors.Join(errs...)
}

// pathAtLine returns the longest key path recorded at line.
func pathAtLine(lines map[string]int, line int) string {
	best := ""
	for p, n := range lines {
		if n == line && (len(p) > len(best) || len(p) == len(best) && p < best) {
			best = p
		}
	}
	return best
}
