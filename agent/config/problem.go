package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Problem is one thing wrong with a configuration: where it is and how to
// fix it. Parse returns its problems joined with errors.Join (range over
// the Unwrap() []error of the result, or print it: one problem per line);
// Check returns them as a slice.
type Problem struct {
	File string // the configuration file; "" when parsed from memory
	Line int    // line of the key, from 1; 0 when unknown
	Path string // key path such as inputs[1].start_at; "" for the whole file
	Msg  string // what is wrong, then the fix
	// Warning marks what Check finds worth a look but what does not stop
	// the agent (a glob that matches no file yet).
	Warning bool
}

// Error formats the problem as
// `config FILE: line N: PATH: MSG`, leaving out what is unknown, with
// "warning: " in front of warnings.
func (p *Problem) Error() string {
	var b strings.Builder
	if p.Warning {
		b.WriteString("warning: ")
	}
	b.WriteString("config")
	if p.File != "" {
		b.WriteString(" ")
		b.WriteString(p.File)
	}
	b.WriteString(": ")
	if p.Line > 0 {
		b.WriteString("line ")
		b.WriteString(strconv.Itoa(p.Line))
		b.WriteString(": ")
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// fieldError is a problem found by a Validate, at a key path relative to
// the section that found it.
type fieldError struct{ path, msg string }

func (e *fieldError) Error() string {
	if e.path == "" {
		return e.msg
	}
	return e.path + ": " + e.msg
}

// problems collects the errors of a Validate.
type problems []error

// addf adds a problem at path.
func (p *problems) addf(path, format string, args ...any) {
	*p = append(*p, &fieldError{path, fmt.Sprintf(format, args...)})
}

// add adds err, whose text is the message, at path.
func (p *problems) add(path string, err error) {
	if err != nil {
		*p = append(*p, &fieldError{path, err.Error()})
	}
}

// nest adds the problems of a sub-section's Validate, prefixing their
// paths with prefix.
func (p *problems) nest(prefix string, err error) {
	for _, e := range flatten(err) {
		var fe *fieldError
		if errors.As(e, &fe) {
			*p = append(*p, &fieldError{joinPath(prefix, fe.path), fe.msg})
		} else {
			*p = append(*p, &fieldError{prefix, e.Error()})
		}
	}
}

func (p problems) err() error { return errors.Join(p...) }

// flatten lists the errors inside err, opening errors.Join.
func flatten(err error) []error {
	if err == nil {
		return nil
	}
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range j.Unwrap() {
		out = append(out, flatten(e)...)
	}
	return out
}

// joinPath appends key ("name", "[2]") to the path prefix.
func joinPath(prefix, key string) string {
	switch {
	case prefix == "":
		return key
	case key == "":
		return prefix
	case key[0] == '[':
		return prefix + key
	}
	return prefix + "." + key
}

// indexPath is path[i].
func indexPath(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

// parentPath strips the last key or index from path.
func parentPath(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// lineOf returns the line of path in lines, or of its nearest ancestor
// that has one (a missing key is reported at its section).
func lineOf(lines map[string]int, path string) int {
	for p := path; p != ""; p = parentPath(p) {
		if n, ok := lines[p]; ok {
			return n
		}
	}
	return 0
}

// toProblems turns the errors of Validate into Problems of file.
func toProblems(err error, file string, lines map[string]int) []error {
	var out []error
	for _, e := range flatten(err) {
		p := &Problem{File: file, Msg: e.Error()}
		var fe *fieldError
		if errors.As(e, &fe) {
			p.Path, p.Msg = fe.path, fe.msg
			p.Line = lineOf(lines, fe.path)
		}
		out = append(out, p)
	}
	return out
}
