package tailer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func openTemp(t *testing.T, content string) (*os.File, string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f.log")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, p
}

func identifyFile(t *testing.T, pr *prefixReader, f *os.File) FileID {
	t.Helper()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	id, err := pr.identify(f, fi)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestFileID_ExtendsAsFileGrows(t *testing.T) {
	var pr prefixReader
	f, p := openTemp(t, "short\n")
	id := identifyFile(t, &pr, f)
	if id.FingerprintLen != 6 {
		t.Fatalf("FingerprintLen = %d, want 6", id.FingerprintLen)
	}
	appendFile(t, p, strings.Repeat("x", 2000))
	ext, ok, err := pr.extend(id, f, 2006)
	if err != nil || !ok {
		t.Fatalf("extend = %v, %v", ok, err)
	}
	if ext.FingerprintLen != FingerprintSize {
		t.Errorf("extended FingerprintLen = %d, want %d", ext.FingerprintLen, FingerprintSize)
	}
	if full := identifyFile(t, &pr, f); full != ext {
		t.Errorf("extended %v, identify %v", ext, full)
	}
}

func TestFileID_DetectsRewrite(t *testing.T) {
	var pr prefixReader
	cases := []struct {
		name, before, after string
		same                bool
	}{
		{"appended", "abc\n", "abc\ndef\n", true},
		{"rewritten_longer", "abc\n", "xyz\nlonger\n", false},
		{"shrunk", "abcdef\n", "abc", false},
		{"empty_before", "", "anything\n", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, p := openTemp(t, tc.before)
			id := identifyFile(t, &pr, f)
			if err := os.WriteFile(p, []byte(tc.after), 0o644); err != nil {
				t.Fatal(err)
			}
			_, same, err := pr.extend(id, f, int64(len(tc.after)))
			if err != nil || same != tc.same {
				t.Errorf("extend same = %v (%v), want %v", same, err, tc.same)
			}
		})
	}
}

func TestFileID_CopyRecognised(t *testing.T) {
	var pr prefixReader
	content := strings.Repeat("0123456789 line\n", 200)
	orig, _ := openTemp(t, content)
	id := identifyFile(t, &pr, orig)
	cp, _ := openTemp(t, content+"more\n")
	ok, err := pr.sameContent(id, cp, int64(len(content)+5))
	if err != nil || !ok {
		t.Errorf("copy not recognised: %v %v", ok, err)
	}
	partial, _ := openTemp(t, content[:100])
	if ok, err := pr.isPrefixOf(partial, 100, orig, int64(len(content))); err != nil || !ok {
		t.Errorf("copy in progress not recognised: %v %v", ok, err)
	}
	other, _ := openTemp(t, "different start\n"+content)
	if ok, _ := pr.sameContent(id, other, int64(len(content)+16)); ok {
		t.Error("different file taken for a copy")
	}
}
