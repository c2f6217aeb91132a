package agent

import (
	"bytes"
	"context"
	"errors"
	"io"

	"github.com/socx/sharkfin/record"
)

// chunk is a block of whole lines read and parsed ahead of aggregation.
// Records alias buf and are valid until the chunk is recycled.
type chunk struct {
	buf     []byte
	n       int // bytes of buf holding whole lines
	recs    []record.Record
	rejects []error // one per rejected line, in no particular order
	tooLong int
}

// ReadAll reads r to its end into the pipeline, parsing on a second
// goroutine while this one aggregates and scores: on two cores that
// roughly doubles the throughput of `sharkfin score`. Lines longer than
// maxLine are counted as rejected (ErrLineTooLong) and skipped. A last line
// without a newline counts as a line. It allocates a few chunk buffers per
// call and nothing per line.
func (p *Pipeline) ReadAll(ctx context.Context, r io.Reader, maxLine int) error {
	if maxLine <= 0 {
		maxLine = DefaultMaxLineBytes
	}
	return p.readAll(ctx, r, maxLine, max(1<<20, 2*(maxLine+1)))
}

// readAll is ReadAll with a chunk size (> 2*maxLine), small in tests.
func (p *Pipeline) readAll(ctx context.Context, r io.Reader, maxLine, size int) error {
	const depth = 3
	free := make(chan *chunk, depth)
	full := make(chan *chunk, depth)
	for range depth {
		free <- &chunk{buf: make([]byte, size), recs: make([]record.Record, 0, size/64)}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	parser := p.cfg.Parser
	go func() {
		errc <- readChunks(ctx, r, maxLine, &parser, free, full)
		close(full)
	}()
	for c := range full {
		for i := range c.recs {
			p.addParsed(&c.recs[i])
		}
		for _, err := range c.rejects {
			p.Reject(err)
		}
		for range c.tooLong {
			p.Reject(ErrLineTooLong)
		}
		select {
		case free <- c:
		default:
		}
	}
	return <-errc
}

// addParsed is Line after parsing.
func (p *Pipeline) addParsed(r *record.Record) {
	p.stats.Lines++
	p.stats.Parsed++
	p.agg.Add(r)
	if p.agg.Due() {
		p.agg.Advance(p.result)
	}
}

// parser is what readChunks needs of format.Parser.
type parser interface {
	Parse(line []byte, r *record.Record) error
}

// readChunks fills chunks with whole lines and parses them. The tail of a
// read (a partial line) is carried to the front of the next chunk.
func readChunks(ctx context.Context, r io.Reader, maxLine int, ps parser, free <-chan *chunk, full chan<- *chunk) error {
	var carry []byte // partial line carried between chunks
	skipping := false
	eof := false
	for !eof {
		var c *chunk
		select {
		case c = <-free:
		case <-ctx.Done():
			return ctx.Err()
		}
		c.recs, c.rejects, c.tooLong = c.recs[:0], c.rejects[:0], 0
		n := copy(c.buf, carry)
		carry = carry[:0]
		for n < len(c.buf) && !eof {
			m, err := r.Read(c.buf[n:])
			n += m
			if errors.Is(err, io.EOF) {
				eof = true
			} else if err != nil {
				return err
			}
			if m > 0 && bytes.IndexByte(c.buf[n-m:n], '\n') >= 0 && n > len(c.buf)/2 {
				break
			}
		}
		data := c.buf[:n]
		end := bytes.LastIndexByte(data, '\n') + 1
		if eof {
			end = n
		}
		if end == 0 { // no newline in a full buffer: an overlong line
			if !skipping {
				c.tooLong++
				skipping = true
			}
			full <- c
			continue
		}
		carry = append(carry, data[end:]...)
		for line := data[:end]; len(line) > 0; {
			i := bytes.IndexByte(line, '\n')
			var l []byte
			if i < 0 {
				l, line = line, nil
			} else {
				l, line = line[:i], line[i+1:]
			}
			if skipping { // the rest of an overlong line
				skipping = false
				continue
			}
			if k := len(l); k > 0 && l[k-1] == '\r' {
				l = l[:k-1]
			}
			if len(l) > maxLine {
				c.tooLong++
				continue
			}
			c.recs = append(c.recs, record.Record{})
			rec := &c.recs[len(c.recs)-1]
			if err := ps.Parse(l, rec); err != nil {
				c.recs = c.recs[:len(c.recs)-1]
				c.rejects = append(c.rejects, err)
			}
		}
		if len(carry) > maxLine {
			c.tooLong++
			skipping = true
			carry = carry[:0]
		}
		full <- c
	}
	return nil
}
