package tailer

import (
	"bytes"
	"testing"
)

func TestSplitLines_Cases(t *testing.T) {
	cases := []struct {
		name     string
		data     string
		max      int
		want     []string
		consumed int
		tooLong  int
	}{
		{"empty", "", 10, nil, 0, 0},
		{"partial_only", "abc", 10, nil, 0, 0},
		{"one", "abc\n", 10, []string{"abc"}, 4, 0},
		{"blank_lines", "\n\n", 10, []string{"", ""}, 2, 0},
		{"partial_kept", "a\nb\ncc", 10, []string{"a", "b"}, 4, 0},
		{"too_long_skipped", "a\n0123456789X\nb\n", 10, []string{"a", "b"}, 16, 1},
		{"exactly_max", "0123456789\n", 10, []string{"0123456789"}, 11, 0},
		{"crlf_kept", "a\r\n", 10, []string{"a\r"}, 3, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, consumed, tooLong := splitLines([]byte(tc.data), tc.max, nil)
			if len(got) != len(tc.want) || consumed != tc.consumed || tooLong != tc.tooLong {
				t.Fatalf("got %q consumed %d tooLong %d, want %q %d %d", got, consumed, tooLong, tc.want, tc.consumed, tc.tooLong)
			}
			for i := range got {
				if string(got[i]) != tc.want[i] {
					t.Errorf("line %d = %q, want %q", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestSplitLines_NoAllocs(t *testing.T) {
	data := bytes.Repeat([]byte("192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 2326\n"), 1000)
	lines := make([][]byte, 0, 1000)
	allocs := testing.AllocsPerRun(100, func() {
		lines, _, _ = splitLines(data, 1<<20, lines[:0])
	})
	if allocs != 0 {
		t.Errorf("splitLines allocates %v times per call", allocs)
	}
}

func FuzzSplitLines(f *testing.F) {
	for _, s := range []string{"", "a\nb", "\n\n\n", "abc\r\nxyz", "\x00\xff\n", "0123456789abcdef\nx\n"} {
		f.Add([]byte(s), 8)
	}
	f.Fuzz(func(t *testing.T, data []byte, max int) {
		if max < 0 || max > 1<<20 {
			return
		}
		lines, consumed, tooLong := splitLines(data, max, nil)
		if consumed > len(data) || (consumed > 0 && data[consumed-1] != '\n') {
			t.Fatalf("consumed %d of %q", consumed, data)
		}
		if bytes.IndexByte(data[consumed:], '\n') >= 0 {
			t.Fatalf("left a complete line in %q", data[consumed:])
		}
		// Rebuild: every consumed line is either delivered or too long.
		all := bytes.Split(data[:consumed], []byte("\n"))
		all = all[:len(all)-1]
		var kept [][]byte
		skipped := 0
		for _, l := range all {
			if len(l) > max {
				skipped++
			} else {
				kept = append(kept, l)
			}
		}
		if skipped != tooLong || len(kept) != len(lines) {
			t.Fatalf("lines %d tooLong %d, want %d %d", len(lines), tooLong, len(kept), skipped)
		}
		for i := range kept {
			if !bytes.Equal(kept[i], lines[i]) {
				t.Fatalf("line %d = %q, want %q", i, lines[i], kept[i])
			}
		}
	})
}
