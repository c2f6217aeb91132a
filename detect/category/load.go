package category

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"io/fs"
	"math/bits"
	"os"
	"path/filepath"

	"github.com/socx/sharkfin/detect/domain"
)

// Error is a list that cannot be loaded: the file, the line (0 when the
// whole file is at fault) and what to do.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Load reads the list at path: a CSV file of domain,category lines, or a
// squidGuard/UT1 directory whose subdirectories are categories holding a
// domains file each (one name per line; their urls files are not read).
// Any line it cannot use fails the whole load with an *Error naming the
// file and line, so a reload keeps the list in use rather than half of a
// new one.
//
// The files are read twice: once to count their lines and bytes, so that
// the list's arrays are allocated at their final size, then to parse. No
// line allocates (a quoted one does), so the load's peak memory is about
// what the list holds.
func Load(path string) (*List, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, &Error{File: path, Msg: fmt.Sprintf("cannot read the category list (%v)", unwrapPath(err))}
	}
	if fi.IsDir() {
		return loadDir(path)
	}
	lines, size, err := countLines(path)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, &Error{File: path, Msg: fmt.Sprintf("cannot read the category list (%v)", unwrapPath(err))}
	}
	defer f.Close()
	b := newBuilder(lines, size)
	if err := b.readCSV(f, path); err != nil {
		return nil, err
	}
	b.stats.Files = 1
	return b.finish(), nil
}

// ParseCSV reads a list in CSV form from r; name is the file named in
// errors. The format (CONTRACT.md): one domain,category per line, an
// optional header line "domain,category", lines starting with # are
// comments, blank lines are ignored; a field may be quoted as in RFC 4180
// (a category holding a comma).
func ParseCSV(r io.Reader, name string) (*List, error) {
	b := newBuilder(0, 0)
	if err := b.readCSV(r, name); err != nil {
		return nil, err
	}
	b.stats.Files = 1
	return b.finish(), nil
}

// maxLine is the longest line read: a name and a category, with room.
const maxLine = 4096

func (b *builder) readCSV(r io.Reader, name string) error {
	br := bufio.NewReaderSize(r, 1<<16)
	first := true
	for line := 1; ; line++ {
		raw, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) || len(raw) > maxLine {
			return &Error{File: name, Line: line, Msg: fmt.Sprintf("line longer than %d bytes; want domain,category", maxLine)}
		}
		if err != nil && err != io.EOF {
			return &Error{File: name, Msg: fmt.Sprintf("cannot read the category list (%v)", err)}
		}
		if msg := b.csvLine(raw, &first); msg != "" {
			return &Error{File: name, Line: line, Msg: msg}
		}
		if err == io.EOF {
			return nil
		}
	}
}

var header = []byte("domain")

// csvLine adds one CSV line, or says what is wrong with it.
func (b *builder) csvLine(raw []byte, first *bool) string {
	text := bytes.TrimSpace(raw)
	if len(text) == 0 || text[0] == '#' {
		return ""
	}
	var host, cat []byte
	if bytes.IndexByte(text, '"') >= 0 {
		cr := csv.NewReader(bytes.NewReader(text))
		cr.TrimLeadingSpace = true
		cr.FieldsPerRecord = -1
		rec, err := cr.Read()
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return err.Error() + "; quote a field holding a comma or quote as \"...\", doubling quotes inside it, on one line"
		}
		if len(rec) != 2 {
			return fmt.Sprintf("%d fields; want domain,category", len(rec))
		}
		host, cat = []byte(rec[0]), []byte(rec[1])
	} else {
		n := bytes.Count(text, []byte{','}) + 1
		if n != 2 {
			return fmt.Sprintf("%d fields; want domain,category", n)
		}
		host, cat, _ = bytes.Cut(text, []byte{','})
	}
	host, cat = bytes.TrimSpace(host), bytes.TrimSpace(cat)
	if *first {
		*first = false
		if bytes.EqualFold(host, header) && bytes.EqualFold(cat, []byte("category")) {
			return ""
		}
	}
	if len(cat) == 0 {
		return fmt.Sprintf("%q has no category; want domain,category", host)
	}
	return b.add(host, cat)
}

// countLines returns the lines (newlines, plus one for an unterminated
// last line) and bytes of a file.
func countLines(path string) (lines, size int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, &Error{File: path, Msg: fmt.Sprintf("cannot read (%v); give the sharkfin user read access", unwrapPath(err))}
	}
	defer f.Close()
	buf := make([]byte, 1<<16)
	last := byte('\n')
	for {
		n, err := f.Read(buf)
		if n > 0 {
			lines += bytes.Count(buf[:n], []byte{'\n'})
			size += n
			last = buf[n-1]
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, 0, &Error{File: path, Msg: fmt.Sprintf("cannot read (%v)", err)}
		}
	}
	if last != '\n' {
		lines++
	}
	return lines, size, nil
}

// loadDir reads a squidGuard/UT1 directory: each subdirectory (or link to
// one) is a category, named as the directory, listing its names in a
// domains file. Categories are read in name order, so a name listed in
// two gets the first. A directory without any domains file gives an empty
// list (Stats().Files 0): the lists may be downloaded after the agent
// starts, and a reload picks them up; `sharkfin check` warns about it.
func loadDir(dir string) (*List, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, &Error{File: dir, Msg: fmt.Sprintf("cannot list the directory (%v); give the sharkfin user read access", unwrapPath(err))}
	}
	type list struct{ file, cat string }
	var lists []list
	lines, size := 0, 0
	for _, e := range ents {
		sub := filepath.Join(dir, e.Name())
		if fi, err := os.Stat(sub); err != nil || !fi.IsDir() {
			continue // a file beside the categories (README, global_usage, a broken link)
		}
		file := filepath.Join(sub, "domains")
		if _, err := os.Lstat(file); errors.Is(err, fs.ErrNotExist) {
			continue // a category of URLs only
		}
		n, sz, err := countLines(file)
		if err != nil {
			return nil, err
		}
		lines, size = lines+n, size+sz
		lists = append(lists, list{file, e.Name()})
	}
	b := newBuilder(lines, size)
	for _, l := range lists {
		f, err := os.Open(l.file)
		if err != nil {
			return nil, &Error{File: l.file, Msg: fmt.Sprintf("cannot read (%v); give the sharkfin user read access", unwrapPath(err))}
		}
		err = b.readDomains(f, l.file, []byte(l.cat))
		f.Close()
		if err != nil {
			return nil, err
		}
		b.stats.Files++
	}
	return b.finish(), nil
}

// readDomains adds the names of one UT1 domains file, all of category cat.
func (b *builder) readDomains(r io.Reader, file string, cat []byte) error {
	br := bufio.NewReaderSize(r, 1<<16)
	for line := 1; ; line++ {
		raw, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) || len(raw) > maxLine {
			return &Error{File: file, Line: line, Msg: fmt.Sprintf("line longer than %d bytes; a domains file lists one name per line", maxLine)}
		}
		if err != nil && err != io.EOF {
			return &Error{File: file, Msg: fmt.Sprintf("cannot read (%v)", err)}
		}
		if s := bytes.TrimSpace(raw); len(s) > 0 && s[0] != '#' {
			if msg := b.add(s, cat); msg != "" {
				return &Error{File: file, Line: line, Msg: msg}
			}
		}
		if err == io.EOF {
			return nil
		}
	}
}

type builder struct {
	l      *List
	catIdx map[string]uint16
	stats  Stats
	buf    [domain.MaxName + 1]byte
}

// newBuilder starts a list of at most lines entries from size bytes of
// files (0, 0: unknown, grown as read).
func newBuilder(lines, size int) *builder {
	l := &List{seed: maphash.MakeSeed()}
	if lines > 0 {
		l.names = make([]byte, 0, size)
		l.ends = make([]uint32, 0, lines)
		l.cats = make([]uint16, 0, lines)
	}
	return &builder{l: l, catIdx: map[string]uint16{}}
}

// add lists host under cat, or says what is wrong with it.
func (b *builder) add(host, cat []byte) string {
	raw := host
	host = bytes.TrimPrefix(host, []byte("*.")) // wildcard and leading-dot forms mean the same as the name
	host = bytes.TrimPrefix(host, []byte("."))
	if bytes.ContainsAny(host, "/?") {
		return fmt.Sprintf("%q looks like a URL; list its host name only", raw)
	}
	if bytes.IndexByte(host, '%') >= 0 {
		return fmt.Sprintf("%q has a zone; list the address without it", raw)
	}
	name, isIP := domain.Normalize(b.buf[:0], host)
	if name == nil {
		switch d := bytes.TrimSuffix(host, []byte(".")); {
		case len(d) == 0:
			return "is empty; list a domain name or an IP address"
		case len(d) > maxName:
			return fmt.Sprintf("%.40q... is longer than 253 characters; list a domain name", raw)
		}
		return fmt.Sprintf("%q is neither a domain name nor an IP address (IPv4 in dotted decimal without leading zeros, IPv6 without a zone)", raw)
	}
	if msg := validName(name, isIP); msg != "" {
		return fmt.Sprintf("%q %s", raw, msg)
	}
	ci, ok := b.catIdx[string(cat)]
	if !ok {
		if len(b.l.catNames) == MaxCategories {
			return fmt.Sprintf("more than %d categories; merge some", MaxCategories)
		}
		ci = uint16(len(b.l.catNames))
		b.catIdx[string(cat)] = ci
		b.l.catNames = append(b.l.catNames, string(cat))
	}
	l := b.l
	if len(l.ends) == 1<<32-2 || len(l.names)+len(name) > 1<<32-1 {
		return "the list is too big (over 4 GiB of names)"
	}
	l.names = append(l.names, name...)
	l.ends = append(l.ends, uint32(len(l.names)))
	l.cats = append(l.cats, ci)
	return ""
}

// validName says what is wrong with a normalized listed name, or "".
func validName(name []byte, isIP bool) string {
	if isIP {
		return ""
	}
	label := 0
	for i, c := range name {
		switch {
		case c == '.':
			if label == 0 {
				return "has an empty label (two dots in a row, or a dot first); list a domain name such as example.com"
			}
			label = 0
			continue
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return fmt.Sprintf("has %q at byte %d; a domain name holds letters, digits, '-', '_' and dots (IDNs in their xn-- form)", rune(c), i+1)
		}
		label++
		if label > 63 {
			return "has a label longer than 63 characters"
		}
	}
	if label == 0 {
		return "ends in two dots; list a domain name such as example.com"
	}
	return ""
}

// finish builds the lookup table; a name listed again is counted as a
// duplicate and left out of it (the first listing wins).
func (b *builder) finish() *List {
	l := b.l
	n := len(l.ends)
	size := uint64(8)
	if n > 0 {
		size = max(size, 1<<bits.Len64(uint64(n)*2-1)) // at most half full
	}
	l.slots = make([]slot, size)
	l.mask = size - 1
	for e := range n {
		name := l.name(e)
		h := maphash.Bytes(l.seed, name)
		tag := uint32(h >> 32)
		dup := false
		i := h & l.mask
		for ; l.slots[i].idx != 0; i = (i + 1) & l.mask {
			if s := l.slots[i]; s.tag == tag && string(l.name(int(s.idx-1))) == string(name) {
				dup = true
				break
			}
		}
		if dup {
			b.stats.Duplicates++
			continue
		}
		l.slots[i] = slot{tag: tag, idx: uint32(e + 1)}
	}
	b.stats.Entries = n - b.stats.Duplicates
	b.stats.Categories = len(l.catNames)
	l.stats = b.stats
	return l
}

// unwrapPath drops the path an *fs.PathError repeats: Error names the file.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
