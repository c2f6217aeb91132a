package pipeline

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// ErrLineTooLong is the rejection reason for lines over the line limit.
var ErrLineTooLong = errors.New("line too long")

// DefaultMaxLineBytes is the longest line processed; longer ones are
// counted and skipped.
const DefaultMaxLineBytes = 1 << 20

// ScanLines calls fn for every complete line of r (without "\n" or a
// trailing "\r"), and tooLong for every line over max bytes, which is
// skipped. A last line without a newline is passed to fn as well (files read
// whole are complete). The slice passed to fn is valid only during the call.
func ScanLines(r io.Reader, max int, fn func([]byte), tooLong func()) error {
	if max <= 0 {
		max = DefaultMaxLineBytes
	}
	size := 256 << 10
	if max+1 > size {
		size = max + 1
	}
	br := bufio.NewReaderSize(r, size)
	skipping := false
	for {
		line, err := br.ReadSlice('\n')
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			if !skipping {
				skipping = true
				tooLong()
			}
			continue
		case err != nil && !errors.Is(err, io.EOF):
			return err
		}
		if skipping {
			skipping = false
		} else if len(line) > 0 {
			l := line
			if l[len(l)-1] == '\n' {
				l = l[:len(l)-1]
			}
			if n := len(l); n > 0 && l[n-1] == '\r' {
				l = l[:n-1]
			}
			if len(l) > max {
				tooLong()
			} else {
				fn(l)
			}
		}
		if err != nil {
			return nil
		}
	}
}

// OpenLog opens a log file for a whole read, transparently decompressing
// gzip files (by the .gz suffix). "-" is standard input.
func OpenLog(path string) (io.ReadCloser, error) {
	if path == "-" {
		return io.NopCloser(os.Stdin), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err == nil && st.IsDir() {
		f.Close()
		return nil, fmt.Errorf("open %s: is a directory", path)
	}
	if !strings.HasSuffix(path, ".gz") {
		return f, nil
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return gzipFile{zr, f}, nil
}

type gzipFile struct {
	*gzip.Reader
	f *os.File
}

func (g gzipFile) Close() error {
	g.Reader.Close()
	return g.f.Close()
}
