package config

import (
	"cmp"
	"encoding"
	"fmt"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// treeChecker walks a YAML tree against the Go type it decodes into and
// reports, all at once and each with its key path and line, what a strict
// decode would refuse: unknown and repeated keys, values of the wrong
// shape, scalars their type does not accept. It records the line of every
// key and list item for later messages.
type treeChecker struct {
	lines    map[string]int
	problems []*Problem

	expanding map[*yaml.Node]bool // anchors being walked through an alias
	visited   int                 // nodes walked, bounded by maxNodes
}

// maxNodes bounds the nodes walked, which aliases of aliases could make
// exponential in the size of the file.
const maxNodes = 100_000

func newTreeChecker() *treeChecker {
	return &treeChecker{lines: map[string]int{}, expanding: map[*yaml.Node]bool{}}
}

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

func (w *treeChecker) fail(n *yaml.Node, path, format string, args ...any) {
	w.problems = append(w.problems, &Problem{Line: n.Line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// spend counts a node walked and reports false once there were too many.
func (w *treeChecker) spend(n *yaml.Node, path string) bool {
	w.visited++
	if w.visited == maxNodes+1 {
		w.fail(n, path, "the file expands to more than %d values (aliases of aliases?); write it out without them", maxNodes)
	}
	return w.visited <= maxNodes
}

// alias walks the anchor an alias node names with fn, unless the anchor
// is already being walked (it contains the alias).
func (w *treeChecker) alias(n *yaml.Node, path string, fn func(*yaml.Node)) {
	target := n.Alias
	if target == nil || w.expanding[target] {
		w.fail(n, path, "*%s refers to an anchor that contains it; an anchor cannot include itself", n.Value)
		return
	}
	w.expanding[target] = true
	defer delete(w.expanding, target)
	fn(target)
}

// value checks n as a value of type t at path.
func (w *treeChecker) value(n *yaml.Node, t reflect.Type, path string) {
	if !w.spend(n, path) {
		return
	}
	if n.Kind == yaml.AliasNode {
		w.alias(n, path, func(target *yaml.Node) { w.value(target, t, path) })
		return
	}
	if t.Kind() == reflect.Pointer {
		if isNull(n) {
			w.fail(n, path, "has no value; write %s: {} for the defaults", lastKey(path))
			return
		}
		t = t.Elem()
	}
	if isNull(n) {
		return // the key keeps its default
	}
	switch {
	case isLeaf(t):
		w.scalar(n, t, path)
	case t.Kind() == reflect.Struct:
		w.structure(n, t, path)
	case t.Kind() == reflect.Map:
		w.dict(n, t, path)
	case t.Kind() == reflect.Slice:
		w.list(n, t, path)
	}
}

// isLeaf reports whether values of t are written as one scalar.
func isLeaf(t reflect.Type) bool {
	if reflect.PointerTo(t).Implements(textUnmarshaler) {
		return true
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map, reflect.Slice:
		return false
	}
	return true
}

func (w *treeChecker) scalar(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind != yaml.ScalarNode {
		w.fail(n, path, "is %s; want a single value", describe(n))
		return
	}
	v := reflect.New(t)
	if u, ok := v.Interface().(encoding.TextUnmarshaler); ok {
		if err := u.UnmarshalText([]byte(n.Value)); err != nil {
			w.fail(n, path, "%s", err.Error())
		}
		return
	}
	if err := n.Decode(v.Interface()); err != nil {
		switch t.Kind() {
		case reflect.Bool:
			w.fail(n, path, "%q is not valid; use true or false", n.Value)
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			w.fail(n, path, "%q is not valid; use a whole number", n.Value)
		default:
			w.fail(n, path, "%q is not valid here; want a %s", n.Value, t.Kind())
		}
	}
}

// field is a key of a struct.
type field struct {
	name string
	typ  reflect.Type
}

// fieldsOf lists the keys of struct type t in declaration order.
func fieldsOf(t reflect.Type) []field {
	var fs []field
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = strings.ToLower(f.Name)
		}
		fs = append(fs, field{name, f.Type})
	}
	return fs
}

func (w *treeChecker) structure(n *yaml.Node, t reflect.Type, path string) {
	fields := fieldsOf(t)
	switch {
	case n.Kind == yaml.MappingNode:
	case len(fields) == 0:
		w.fail(n, path, "is %s; write %s: {}", describe(n), lastKey(path))
		return
	default:
		w.fail(n, path, "is %s; want a mapping with the keys %s", describe(n), keyList(fields))
		return
	}
	for _, e := range w.entries(n, path) {
		sub := joinPath(path, e.key)
		i := indexFunc(fields, e.key)
		if i < 0 {
			w.fail(e.k, sub, "%s", unknownKey(e.key, fields))
			continue
		}
		w.lines[sub] = e.k.Line
		w.value(e.v, fields[i].typ, sub)
	}
}

func (w *treeChecker) dict(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind != yaml.MappingNode {
		w.fail(n, path, "is %s; want a mapping of names to values, e.g. {web: /etc/sharkfin/models/web.json}", describe(n))
		return
	}
	for _, e := range w.entries(n, path) {
		sub := joinPath(path, e.key)
		w.lines[sub] = e.k.Line
		w.value(e.v, t.Elem(), sub)
	}
}

func (w *treeChecker) list(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind != yaml.SequenceNode {
		w.fail(n, path, "is %s; want a list, with one \"- \" line per item or [a, b]", describe(n))
		return
	}
	for i, item := range n.Content {
		sub := indexPath(path, i)
		w.lines[sub] = item.Line
		w.value(item, t.Elem(), sub)
	}
}

// entry is one key of a mapping.
type entry struct {
	key  string
	k, v *yaml.Node
}

// entries lists the keys of mapping n, the ones written in n first, then
// those brought in by merge keys (<<: *anchor) that n does not set. It
// reports keys that are not plain names and keys written twice.
func (w *treeChecker) entries(n *yaml.Node, path string) []entry {
	var out []entry
	seen := map[string]int{} // key → line
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if isMerge(k) {
			merges = append(merges, v)
			continue
		}
		if k.Kind != yaml.ScalarNode || isNull(k) {
			w.fail(k, path, "has a key that is not a name; write keys as plain words followed by a colon")
			continue
		}
		if line, ok := seen[k.Value]; ok {
			w.fail(k, joinPath(path, k.Value), "is set twice (also on line %d); keep one", line)
			continue
		}
		seen[k.Value] = k.Line
		out = append(out, entry{k.Value, k, v})
	}
	var merge func(m *yaml.Node, inList bool)
	merge = func(m *yaml.Node, inList bool) {
		switch {
		case !w.spend(m, path):
		case m.Kind == yaml.AliasNode:
			w.alias(m, path, func(target *yaml.Node) { merge(target, inList) })
		case m.Kind == yaml.SequenceNode && !inList:
			for _, s := range m.Content {
				merge(s, true)
			}
		case m.Kind != yaml.MappingNode:
			w.fail(m, path, "merges (<<) %s; merge a mapping such as *defaults", describe(m))
		default:
			for _, e := range w.entries(m, path) {
				if _, ok := seen[e.key]; !ok {
					seen[e.key] = e.k.Line
					out = append(out, e)
				}
			}
		}
	}
	for _, m := range merges {
		merge(m, false)
	}
	return out
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func isMerge(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Value == "<<" && n.ShortTag() == "!!merge"
}

// describe names the shape of n for messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "not a value"
}

// unknownKey is the message for key, not one of fields.
func unknownKey(key string, fields []field) string {
	best, dist := "", max(1, min(2, len(key)/3))+1
	for _, f := range fields {
		if d := editDistance(key, f.name); d < dist {
			best, dist = f.name, d
		}
	}
	if best != "" {
		return fmt.Sprintf("unknown key; did you mean %s?", best)
	}
	if where := sectionsWith(reflect.TypeFor[Config](), key, ""); len(where) > 0 {
		return fmt.Sprintf("unknown key here; %s belongs under %s", key, strings.Join(where, " or "))
	}
	if len(fields) == 0 {
		return "unknown key; this section has no keys, write {}"
	}
	return "unknown key; the keys here are " + keyList(fields)
}

// sectionsWith lists the sections under t (at path) that have the key
// name, such as "detect" for window, or "inputs[]" for format.
func sectionsWith(t reflect.Type, name, path string) []string {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
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
		if f.name == name {
			out = append(out, cmp.Or(path, "the top level"))
		}
		out = append(out, sectionsWith(f.typ, name, joinPath(path, f.name))...)
	}
	return out
}

func keyList(fields []field) string {
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.name
	}
	return strings.Join(names, ", ")
}

func indexFunc(fields []field, name string) int {
	for i, f := range fields {
		if f.name == name {
			return i
		}
	}
	return -1
}

// lastKey is the last key of path ("start_at" of "inputs[0].start_at").
func lastKey(path string) string {
	return path[strings.LastIndexByte(path, '.')+1:]
}

// editDistance is the Levenshtein distance of a and b, for "did you mean".
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
