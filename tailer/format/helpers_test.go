package format

import (
	"fmt"
	"reflect"
	"testing"
	"time"
	"unsafe"

	"github.com/socx/sharkfin/record"
)

// within reports whether s is nil or a sub-slice of line.
func within(line, s []byte) bool {
	if s == nil {
		return true
	}
	if len(line) == 0 {
		return len(s) == 0
	}
	base := uintptr(unsafe.Pointer(unsafe.SliceData(line)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(s)))
	return p >= base && p+uintptr(len(s)) <= base+uintptr(len(line))
}

// checkAliases asserts that every byte-slice field of r aliases line.
func checkAliases(line []byte, r *record.Record) error {
	for _, f := range []struct {
		name string
		b    []byte
	}{
		{"Client", r.Client}, {"User", r.User}, {"Method", r.Method},
		{"Target", r.Target}, {"Host", r.Host}, {"UserAgent", r.UserAgent},
		{"Referer", r.Referer}, {"Action", r.Action}, {"Peer", r.Peer},
		{"QType", r.QType},
	} {
		if !within(line, f.b) {
			return fmt.Errorf("%s %q does not alias the line", f.name, f.b)
		}
	}
	return nil
}

// want is the expected outcome of parsing one line; string fields compare
// with the Record's byte slices, "<nil>" standing for a nil slice.
type want struct {
	err       error
	time      string // RFC 3339 with fraction, UTC
	client    string
	user      string
	method    string
	target    string
	host      string
	status    int
	bytes     int64
	userAgent string
	referer   string
	action    string
	peer      string
	qtype     string
}

const null = "<nil>"

// str renders a Record slice for comparison with want: nil as "<nil>".
func str(b []byte) string {
	if b == nil {
		return null
	}
	return string(b)
}

// check compares r (after Parse returned err) with w. Empty strings in w
// mean "<nil>" unless the field is explicitly listed as "".
func (w want) check(t *testing.T, line []byte, r *record.Record, err error) {
	t.Helper()
	if err != w.err {
		t.Fatalf("Parse error = %v, want %v", err, w.err)
	}
	if err != nil {
		if !reflect.DeepEqual(*r, record.Record{}) {
			t.Errorf("rejected line left a non-zero Record: %+v", r)
		}
		return
	}
	if err := checkAliases(line, r); err != nil {
		t.Error(err)
	}
	if got := time.Unix(0, r.Time).UTC().Format(time.RFC3339Nano); got != w.time {
		t.Errorf("Time = %s, want %s", got, w.time)
	}
	fields := []struct {
		name      string
		got, want string
	}{
		{"Client", str(r.Client), w.client},
		{"User", str(r.User), w.user},
		{"Method", str(r.Method), w.method},
		{"Target", str(r.Target), w.target},
		{"Host", str(r.Host), w.host},
		{"UserAgent", str(r.UserAgent), w.userAgent},
		{"Referer", str(r.Referer), w.referer},
		{"Action", str(r.Action), w.action},
		{"Peer", str(r.Peer), w.peer},
		{"QType", str(r.QType), w.qtype},
	}
	for _, f := range fields {
		wantS := f.want
		if wantS == "" {
			wantS = null
		}
		if wantS == "<empty>" {
			wantS = ""
		}
		if f.got != wantS {
			t.Errorf("%s = %q, want %q", f.name, f.got, wantS)
		}
	}
	if r.Status != w.status {
		t.Errorf("Status = %d, want %d", r.Status, w.status)
	}
	if r.Bytes != w.bytes {
		t.Errorf("Bytes = %d, want %d", r.Bytes, w.bytes)
	}
}
