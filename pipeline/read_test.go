package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/socx/sharkfin/event"
	"github.com/socx/sharkfin/tailer/format"
)

// TestPipeline_ReadAllMatchesLine feeds the same bytes through the
// line-at-a-time path and the parse-ahead path with small chunks, so that
// lines straddle chunk boundaries, overlong lines span chunks, and reads
// return one byte at a time: events and stats must be identical.
func TestPipeline_ReadAllMatchesLine(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var in bytes.Buffer
	for i := range 400 {
		switch rng.IntN(10) {
		case 0:
			in.WriteString(strings.Repeat("x", rng.IntN(300)) + "\n") // often overlong
		case 1:
			in.WriteString("\x00\xff junk\r\n")
		case 2:
			in.WriteString("\n")
		default:
			fmt.Fprintf(&in, "10.0.%d.%d - - [17/May/2015:10:%02d:%02d +0000] \"GET /%d HTTP/1.1\" %d 1\n",
				rng.IntN(2), rng.IntN(5), i/60, i%60, rng.IntN(9), []int{200, 404}[rng.IntN(2)])
		}
	}
	in.WriteString("10.0.0.1 - - [17/May/2015:10:59:59 +0000] \"GET / HTTP/1.1\" 200 1") // no newline
	const maxLine = 120
	collect := func() (*Pipeline, *[]string) {
		var got []string
		p, err := New(Config{Host: "h", Source: "s", Parser: format.Parser{Format: format.Combined}},
			func(ev *event.Event) { b, _ := ev.AppendJSON(nil); got = append(got, string(b)) })
		if err != nil {
			t.Fatal(err)
		}
		return p, &got
	}
	p1, want := collect()
	if err := ScanLines(bytes.NewReader(in.Bytes()), maxLine, p1.Line, func() { p1.Reject(ErrLineTooLong) }); err != nil {
		t.Fatal(err)
	}
	p1.Flush()
	for _, size := range []int{2*maxLine + 2, 300, 4096, 1 << 20} {
		for _, oneByte := range []bool{false, true} { // false: readBytes
			p2, got := collect()
			var r = bytes.NewReader(in.Bytes())
			var rd interface{ Read([]byte) (int, error) } = r
			if oneByte {
				rd = iotest.OneByteReader(r)
			}
			var err error
			if oneByte {
				err = p2.readAll(context.Background(), rd, maxLine, size)
			} else { // the in-memory path (mmap in `sharkfin score`)
				err = p2.readBytes(context.Background(), in.Bytes(), maxLine, size)
			}
			if err != nil {
				t.Fatal(err)
			}
			p2.Flush()
			s1, s2 := p1.Stats(), p2.Stats()
			if fmt.Sprint(s1) != fmt.Sprint(s2) {
				t.Errorf("size %d oneByte %v: stats\n%+v\nwant\n%+v", size, oneByte, s2, s1)
			}
			if strings.Join(*got, "\n") != strings.Join(*want, "\n") {
				t.Errorf("size %d oneByte %v: %d events differ from %d", size, oneByte, len(*got), len(*want))
			}
		}
	}
	if s := p1.Stats(); s.Rejected == 0 || s.Parsed == 0 || s.Reasons["too_long"] == 0 {
		t.Fatalf("input does not exercise rejections: %+v", s)
	}
}

func TestPipeline_ReadAllCancel(t *testing.T) {
	p, err := New(Config{Host: "h", Source: "s", Parser: format.Parser{Format: format.Combined}}, func(*event.Event) {})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	endless := iotest.TimeoutReader(strings.NewReader(strings.Repeat("a\n", 1<<20)))
	if err := p.ReadAll(ctx, endless, 0); err == nil {
		t.Fatal("want context error")
	}
}

// readAllAgrees reports whether readAll with chunks of size counts what
// ScanLines counts in data: lines parsed and lines too long.
func readAllAgrees(t *testing.T, data []byte, maxLine, size int) (ok bool, got, want string) {
	t.Helper()
	var lines, long int64
	if err := ScanLines(bytes.NewReader(data), maxLine, func([]byte) { lines++ }, func() { long++ }); err != nil {
		t.Fatal(err)
	}
	p, err := New(Config{Host: "h", Source: "s", Parser: format.Parser{Format: format.Common}}, func(*event.Event) {})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.readAll(context.Background(), bytes.NewReader(data), maxLine, size); err != nil {
		t.Fatal(err)
	}
	st := p.Stats()
	got = fmt.Sprintf("%d lines, %d too long", st.Parsed+st.Rejected-st.Reasons["too_long"], st.Reasons["too_long"])
	want = fmt.Sprintf("%d lines, %d too long", lines, long)
	return got == want, got, want
}

// An input that ends where a chunk does (its last read returning nothing
// but EOF) has no overlong line more at its end (it had one, reason
// "other": 1.2 and 1.5 MiB inputs of `sharkfin score` from stdin or gzip).
func TestPipeline_ReadAllEndsWithAChunk(t *testing.T) {
	line := `203.0.113.7 - - [07/Dec/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1` + "\n"
	data := []byte(strings.Repeat(line, 20))
	const maxLine = 100
	for size := 2 * (maxLine + 1); size < 2*(maxLine+1)+3*len(line); size++ {
		if ok, got, want := readAllAgrees(t, data, maxLine, size); !ok {
			t.Fatalf("chunks of %d bytes: %s, want %s", size, got, want)
		}
	}
}

// A line of exactly maxLine bytes ending in CRLF, cut by a read just
// after its CR, is not too long (the CR is not part of it).
func TestPipeline_ReadAllCRLFAtChunkEdge(t *testing.T) {
	const maxLine = 20
	data := []byte(strings.Repeat("b", 20) + "\n" + strings.Repeat("a", 20) + "\r\n" + "end\n")
	for size := 2 * (maxLine + 1); size < 2*(maxLine+1)+len(data); size++ {
		if ok, got, want := readAllAgrees(t, data, maxLine, size); !ok {
			t.Fatalf("chunks of %d: %s, want %s", size, got, want)
		}
	}
}

func FuzzReadAllMatchesScanLines(f *testing.F) {
	f.Add([]byte("203.0.113.7 - - [07/Dec/2026:10:00:00 +0000] \"GET / HTTP/1.1\" 200 1\n"), uint8(80), uint16(0))
	f.Add([]byte(strings.Repeat("x", 300)+"\nshort\n\r\n"+strings.Repeat("y", 90)), uint8(60), uint16(17))
	f.Add([]byte(strings.Repeat("b", 20)+"\n"+strings.Repeat("a", 20)+"\r\nend\n"), uint8(4), uint16(0))
	f.Fuzz(func(t *testing.T, data []byte, max uint8, extra uint16) {
		maxLine := 16 + int(max)
		size := 2*(maxLine+1) + int(extra%512)
		if ok, got, want := readAllAgrees(t, data, maxLine, size); !ok {
			t.Fatalf("max line %d, chunks of %d: %s, want %s", maxLine, size, got, want)
		}
	})
}
