package pipeline

import (
	"bytes"
	"context"
	"errors"
	"io"
	"runtime"
	"sync"

	"github.com/socx/sharkfin/detect"
	"github.com/socx/sharkfin/record"
)

// chunk is a block of whole lines read ahead of aggregation and parsed by
// a worker. Records alias buf and are valid until the chunk is recycled.
type chunk struct {
	buf []byte
	// names holds the records' destination names (detect.Destinations).
	names []byte
	// data is the chunk's whole lines (in buf, or in a mapped file);
	// skipFirst marks its first line as the rest of an overlong one. The
	// worker splits and parses them, so that splitting (and the page
	// faults of a mapped file) runs in parallel too.
	data      []byte
	skipFirst bool
	maxLine   int
	lines     [][]byte // the chunk's lines, long ones already dropped
	recs      []record.Record
	rejects   []error // one per rejected line, in no particular order
	tooLong   int
	ready     chan struct{} // receives once the chunk is parsed
}

// ReadAll reads r to its end into the pipeline: one goroutine reads and
// splits lines, parse workers (one per CPU) parse chunks in parallel, and
// the calling goroutine aggregates and scores them in input order. Lines
// longer than maxLine are counted as rejected (ErrLineTooLong) and
// skipped; a last line without a newline counts as a line. It allocates
// a few chunk buffers per call and nothing per line.
func (p *Pipeline) ReadAll(ctx context.Context, r io.Reader, maxLine int) error {
	if maxLine <= 0 {
		maxLine = DefaultMaxLineBytes
	}
	return p.readAll(ctx, r, maxLine, max(1<<20, 2*(maxLine+1)))
}

// readAll is ReadAll with a chunk size (> 2*maxLine), small in tests.
func (p *Pipeline) readAll(ctx context.Context, r io.Reader, maxLine, size int) error {
	return p.run(ctx, size, func(free <-chan *chunk, work, order chan<- *chunk) error {
		return readChunks(ctx, r, maxLine, free, work, order)
	})
}

// ReadBytes is ReadAll over data already in memory, typically a file
// mapped with mmap: chunks are cut at line ends and parsed in place, with
// no read system calls and no copy.
func (p *Pipeline) ReadBytes(ctx context.Context, data []byte, maxLine int) error {
	if maxLine <= 0 {
		maxLine = DefaultMaxLineBytes
	}
	return p.readBytes(ctx, data, maxLine, 1<<20)
}

func (p *Pipeline) readBytes(ctx context.Context, data []byte, maxLine, size int) error {
	return p.run(ctx, 0, func(free <-chan *chunk, work, order chan<- *chunk) error {
		for len(data) > 0 {
			var c *chunk
			select {
			case c = <-free:
			case <-ctx.Done():
				return ctx.Err()
			}
			end := len(data)
			if end > size {
				if i := bytes.IndexByte(data[size:], '\n'); i >= 0 {
					end = size + i + 1
				}
			}
			c.data, c.skipFirst, c.maxLine, c.tooLong = data[:end], false, maxLine, 0
			data = data[end:]
			work <- c
			order <- c
		}
		return nil
	})
}

// run starts the parse workers and the producer, and aggregates chunks in
// order on the calling goroutine. size is the chunk buffer size (0: the
// producer brings its own memory).
func (p *Pipeline) run(ctx context.Context, size int, produce func(free <-chan *chunk, work, order chan<- *chunk) error) error {
	workers := max(1, runtime.GOMAXPROCS(0))
	depth := workers + 2
	free := make(chan *chunk, depth)
	work := make(chan *chunk, depth)
	order := make(chan *chunk, depth)
	for range depth {
		free <- &chunk{buf: make([]byte, size), ready: make(chan struct{}, 1)}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		parser := p.cfg.Parser
		dests := detect.NewDestinations(p.cfg.DestKey)
		go func() {
			defer wg.Done()
			for c := range work {
				parseChunk(&parser, p.kind, c, dests, &p.vocab, p.TagKey())
				c.ready <- struct{}{}
			}
		}()
	}
	errc := make(chan error, 1)
	go func() {
		errc <- produce(free, work, order)
		close(work)
		close(order)
	}()
	for c := range order {
		<-c.ready
		p.AddAll(c.recs)
		for _, err := range c.rejects {
			p.Reject(err)
		}
		for range c.tooLong {
			p.Reject(ErrLineTooLong)
		}
		free <- c
	}
	wg.Wait()
	return <-errc
}

// AddAll is Line for each of recs, in order, after parsing (records
// parsed, and prehashed, by a worker: detect.Prehash).
func (p *Pipeline) AddAll(recs []record.Record) {
	p.stats.Lines += int64(len(recs))
	p.stats.Parsed += int64(len(recs))
	if p.cfg.Learn != nil {
		for i := range recs {
			p.cfg.Learn.Add(&recs[i])
		}
		return
	}
	p.agg.AddAll(recs, p.result)
	if p.dest != nil {
		p.dest.AddAll(recs, p.destResult)
	}
}

// parser is what parseChunk needs of format.Parser.
type parser interface {
	Parse(line []byte, r *record.Record) error
}

func parseChunk(ps parser, kind record.Kind, c *chunk, dests *detect.Destinations, vocab *detect.PathVocab, tagKey *detect.DestKey) {
	c.lines = c.lines[:0]
	c.names = c.names[:0]
	skip := c.skipFirst
	splitLines(c, c.data, c.maxLine, &skip)
	c.recs, c.rejects = c.recs[:0], c.rejects[:0]
	for _, l := range c.lines {
		c.recs = append(c.recs, record.Record{})
		r := &c.recs[len(c.recs)-1]
		if err := ps.Parse(l, r); err != nil {
			c.recs = c.recs[:len(c.recs)-1]
			c.rejects = append(c.rejects, err)
			continue
		}
		detect.Prehash(kind, r, tagKey)
		vocab.Mark(kind, r)
		detect.TagRareError(kind, r, tagKey)
		dests.Fill(kind, r, &c.names)
	}
}

// splitLines appends the lines of data (whole lines; the last may lack its
// newline) to c.lines, counting those over maxLine in c.tooLong. With
// *skipping set, the first line is the rest of an overlong one and is
// dropped.
func splitLines(c *chunk, data []byte, maxLine int, skipping *bool) {
	for line := data; len(line) > 0; {
		i := bytes.IndexByte(line, '\n')
		var l []byte
		if i < 0 {
			l, line = line, nil
		} else {
			l, line = line[:i], line[i+1:]
		}
		if *skipping { // the rest of an overlong line
			*skipping = false
			continue
		}
		if k := len(l); k > 0 && l[k-1] == '\r' {
			l = l[:k-1]
		}
		if len(l) > maxLine {
			c.tooLong++
			continue
		}
		c.lines = append(c.lines, l)
	}
}

// readChunks fills chunks with whole lines and hands each to a parse
// worker (work) and, in input order, to the consumer (order). The tail of
// a read (a partial line) is carried to the front of the next chunk.
func readChunks(ctx context.Context, r io.Reader, maxLine int, free <-chan *chunk, work, order chan<- *chunk) error {
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
		c.data, c.skipFirst, c.maxLine, c.tooLong = nil, false, maxLine, 0
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
		if n == 0 { // the input ended with the last chunk: nothing more
			work <- c
			order <- c
			continue
		}
		if end == 0 { // no newline in a full buffer: an overlong line
			if !skipping {
				c.tooLong++
				skipping = true
			}
			work <- c
			order <- c
			continue
		}
		carry = append(carry, data[end:]...)
		c.data, c.skipFirst = data[:end], skipping
		skipping = false // the chunk's first line ends the skip
		// Longer than a line may be, unless by a CR whose LF is in the
		// next read (the CR is not part of the line).
		if n := len(carry); n > maxLine && (n > maxLine+1 || carry[n-1] != '\r') {
			c.tooLong++
			skipping = true
			carry = carry[:0]
		}
		work <- c
		order <- c
	}
	return nil
}
