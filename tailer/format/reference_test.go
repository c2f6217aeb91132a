package format

import (
	"fmt"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/socx/sharkfin/record"
)

// Reference parsers: slow, obviously-correct readings of the well-formed
// lines of each format, built on regexp, time.Parse, netip and net/url. The
// hand-written parsers must agree with them field by field on every line
// the reference understands.

var (
	refCLF     = regexp.MustCompile(`^(?:(\S+) )?(\S+) (\S+) (\S+) \[([^\]]+)\] "((?:[^"\\]|\\.)*)" (\d{3}) (\d+|-)(?: "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)"?)?`)
	refRequest = regexp.MustCompile(`^([A-Z]+) (\S+) HTTP/\d\.\d$`)
	refBind    = regexp.MustCompile(`^(\d{1,2}-\w{3}-\d{4} \d\d:\d\d:\d\d\.\d{3}) queries: info: client @0x[0-9a-f]+ (\S+)#\d+ \(([^)]*)\): query: (\S+) IN ([A-Z0-9]+) \S+ \(\S+\)$`)
)

func refParseCLF(line string) (*record.Record, bool) {
	m := refCLF.FindStringSubmatch(line)
	if m == nil {
		return nil, false
	}
	var r record.Record
	if m[1] != "" {
		r.Host = []byte(strings.Split(m[1], ":")[0])
	}
	if _, err := netip.ParseAddr(m[2]); err != nil {
		return nil, false
	}
	r.Client = []byte(m[2])
	if m[4] != "-" {
		r.User = []byte(m[4])
	}
	tm, err := time.Parse("02/Jan/2006:15:04:05 -0700", m[5])
	if err != nil {
		return nil, false
	}
	r.Time = tm.UnixNano()
	if rm := refRequest.FindStringSubmatch(m[6]); rm != nil {
		r.Method, r.Target = []byte(rm[1]), []byte(rm[2])
	} else {
		return nil, false // the reference only knows well-formed requests
	}
	r.Status, _ = strconv.Atoi(m[7])
	if m[8] != "-" {
		r.Bytes, _ = strconv.ParseInt(m[8], 10, 64)
	}
	if m[9] != "-" && m[9] != "" {
		r.Referer = []byte(m[9])
	}
	if m[10] != "-" && m[10] != "" {
		r.UserAgent = []byte(m[10])
	}
	return &r, true
}

func refParseSquid(line string) (*record.Record, bool) {
	f := strings.Fields(line)
	if len(f) != 10 {
		return nil, false
	}
	var r record.Record
	secs, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return nil, false
	}
	r.Time = int64(secs*1000+0.5) * int64(time.Millisecond)
	if _, err := netip.ParseAddr(f[2]); err != nil {
		return nil, false
	}
	r.Client = []byte(f[2])
	action, status, ok := strings.Cut(f[3], "/")
	if !ok {
		return nil, false
	}
	r.Action = []byte(action)
	r.Status, _ = strconv.Atoi(status)
	r.Bytes, _ = strconv.ParseInt(f[4], 10, 64)
	if f[5] != "-" {
		r.Method = []byte(f[5])
	}
	r.Target = []byte(f[6])
	switch {
	case f[5] == "CONNECT":
		if h, _, err := netSplitHostPort(f[6]); err == nil {
			r.Host = []byte(h)
		}
	case strings.Contains(f[6], "://"):
		u, err := url.Parse(f[6])
		if err != nil {
			return nil, false
		}
		r.Host = []byte(u.Hostname())
	}
	if f[7] != "-" {
		r.User = []byte(f[7])
	}
	if _, peer, ok := strings.Cut(f[8], "/"); ok && peer != "-" {
		r.Peer = []byte(peer)
	}
	return &r, true
}

func netSplitHostPort(s string) (string, string, error) {
	i := strings.LastIndex(s, ":")
	if i < 0 {
		return "", "", fmt.Errorf("no port")
	}
	return strings.Trim(s[:i], "[]"), s[i+1:], nil
}

func refParseBind(line string) (*record.Record, bool) {
	m := refBind.FindStringSubmatch(line)
	if m == nil {
		return nil, false
	}
	var r record.Record
	tm, err := time.ParseInLocation("2-Jan-2006 15:04:05.000", m[1], time.UTC)
	if err != nil {
		return nil, false
	}
	r.Time = tm.UnixNano()
	if _, err := netip.ParseAddr(m[2]); err != nil {
		return nil, false
	}
	r.Client = []byte(m[2])
	r.Host = []byte(m[4])
	r.QType = []byte(m[5])
	return &r, true
}

// diffRecords describes the differences between got and want.
func diffRecords(got, want *record.Record) string {
	var d []string
	cmp := func(name string, g, w []byte) {
		if str(g) != str(w) {
			d = append(d, fmt.Sprintf("%s %q != %q", name, str(g), str(w)))
		}
	}
	if got.Time != want.Time {
		d = append(d, fmt.Sprintf("Time %v != %v", time.Unix(0, got.Time).UTC(), time.Unix(0, want.Time).UTC()))
	}
	if got.Status != want.Status || got.Bytes != want.Bytes {
		d = append(d, fmt.Sprintf("Status/Bytes %d/%d != %d/%d", got.Status, got.Bytes, want.Status, want.Bytes))
	}
	cmp("Client", got.Client, want.Client)
	cmp("User", got.User, want.User)
	cmp("Method", got.Method, want.Method)
	cmp("Target", got.Target, want.Target)
	cmp("Host", got.Host, want.Host)
	cmp("Referer", got.Referer, want.Referer)
	cmp("UserAgent", got.UserAgent, want.UserAgent)
	cmp("Action", got.Action, want.Action)
	cmp("Peer", got.Peer, want.Peer)
	cmp("QType", got.QType, want.QType)
	return strings.Join(d, "; ")
}

// TestParser_MatchesReference runs the parsers and the reference readers over
// the testdata and, when present, the team's real logs.
func TestParser_MatchesReference(t *testing.T) {
	type source struct {
		path   string
		format Format
	}
	var sources []source
	for file, f := range goldenFiles {
		sources = append(sources, source{filepath.Join("testdata", file), f})
	}
	withReal := false
	if dir, ok := sharedData(); ok && !testing.Short() {
		withReal = true
		for _, f := range realFiles {
			matches, _ := filepath.Glob(filepath.Join(dir, filepath.FromSlash(f.pattern)))
			for _, m := range matches {
				sources = append(sources, source{m, f.format})
			}
		}
	} else {
		t.Log("-short, or real sample logs absent (../shared/data or $SHARKFIN_SHARED_DATA): comparing testdata only")
	}
	refs := map[Format]func(string) (*record.Record, bool){
		Combined: refParseCLF, Squid: refParseSquid, Bind: refParseBind,
	}
	compared, lines := 0, 0
	for _, src := range sources {
		p := Parser{Format: src.format, Location: time.UTC}
		for i, line := range readLines(t, src.path) {
			lines++
			want, ok := refs[src.format](string(line))
			if !ok {
				continue
			}
			compared++
			var got record.Record
			if err := p.Parse(line, &got); err != nil {
				t.Errorf("%s:%d: rejected (%v) a line the reference reads", src.path, i+1, err)
				continue
			}
			if d := diffRecords(&got, want); d != "" {
				t.Errorf("%s:%d: %s", src.path, i+1, d)
			}
		}
	}
	t.Logf("compared %d of %d lines with the reference parsers", compared, lines)
	if withReal && compared*100 < lines*95 {
		t.Errorf("the reference read only %d of %d lines; it should cover the bulk", compared, lines)
	}
}
