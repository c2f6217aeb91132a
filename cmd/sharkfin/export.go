package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"github.com/socx/sharkfin/detect"
	"github.com/socx/sharkfin/internal/atomicfile"
)

// exportDescFile describes an export directory (detect.FeatureExport).
const exportDescFile = "transform.json"

// exportPartRows is how many vectors one part file holds.
const exportPartRows = 1_000_000

// featureSpool holds the rows train reads, as raw float64s on disk, until
// the transform (which needs a sample of all of them) is known; export then
// writes them transformed. Memory stays constant whatever the input.
type featureSpool struct {
	dir  string
	f    *os.File
	w    *bufio.Writer
	dim  int
	rows int64
	err  error
	b    []byte
}

func newFeatureSpool(dir string) (*featureSpool, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("--export-features: %w", err)
	}
	if old, _ := filepath.Glob(filepath.Join(dir, "part-*.json")); len(old) > 0 {
		return nil, fmt.Errorf("--export-features %s: holds an earlier export (%s); give an empty directory", dir, filepath.Base(old[0]))
	}
	f, err := os.CreateTemp(dir, ".spool-*")
	if err != nil {
		return nil, fmt.Errorf("--export-features: %w", err)
	}
	return &featureSpool{dir: dir, f: f, w: bufio.NewWriterSize(f, 1<<20)}, nil
}

func (s *featureSpool) add(row []float64) {
	if s.err != nil {
		return
	}
	s.dim = len(row)
	s.b = s.b[:0]
	for _, v := range row {
		s.b = binary.LittleEndian.AppendUint64(s.b, math.Float64bits(v))
	}
	_, s.err = s.w.Write(s.b)
	s.rows++
}

// export writes the spooled rows transformed by exp.Transform into part
// files of JSON lines, one key per feature, and the description.
func (s *featureSpool) export(exp *detect.FeatureExport) error {
	if s.err != nil {
		return s.err
	}
	if err := s.w.Flush(); err != nil {
		return err
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	r := bufio.NewReaderSize(s.f, 1<<20)
	raw := make([]byte, 8*s.dim)
	tr := exp.Transform
	var part *os.File
	var w *bufio.Writer
	closePart := func() error {
		if part == nil {
			return nil
		}
		err := w.Flush()
		if cerr := part.Close(); err == nil {
			err = cerr
		}
		part = nil
		return err
	}
	line := make([]byte, 0, 256)
	for i := int64(0); i < s.rows; i++ {
		if _, err := io.ReadFull(r, raw); err != nil {
			return fmt.Errorf("read back the spool: %w", err)
		}
		if i%exportPartRows == 0 {
			if err := closePart(); err != nil {
				return err
			}
			var err error
			if part, err = os.Create(filepath.Join(s.dir, fmt.Sprintf("part-%05d.json", i/exportPartRows))); err != nil {
				return err
			}
			w = bufio.NewWriterSize(part, 1<<20)
		}
		line = append(line[:0], '{')
		for j, name := range exp.Features {
			v := math.Float64frombits(binary.LittleEndian.Uint64(raw[8*j:]))
			if tr.Log1p {
				v = math.Log1p(math.Max(v, 0))
			}
			v = (v - tr.Mean[j]) / tr.Std[j]
			if j > 0 {
				line = append(line, ',')
			}
			line = strconv.AppendQuote(line, name)
			line = append(line, ':')
			line = strconv.AppendFloat(line, v, 'g', -1, 64)
		}
		line = append(line, '}', '\n')
		if _, err := w.Write(line); err != nil {
			return err
		}
	}
	if err := closePart(); err != nil {
		return err
	}
	exp.Rows = s.rows
	b, err := json.MarshalIndent(exp, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(s.dir, exportDescFile), append(b, '\n'), 0o644)
}

func (s *featureSpool) remove() {
	s.f.Close()
	os.Remove(s.f.Name())
}

// readExport reads an export's description and up to max of its vectors
// (a uniform sample when there are more): path is the export directory or
// one of its part files.
func readExport(path string, max int, seed uint64) (*detect.FeatureExport, *detect.Sample, error) {
	dir, parts := path, []string(nil)
	if fi, err := os.Stat(path); err != nil {
		return nil, nil, err
	} else if !fi.IsDir() {
		dir, parts = filepath.Dir(path), []string{path}
	}
	descPath := filepath.Join(dir, exportDescFile)
	b, err := os.ReadFile(descPath)
	if err != nil {
		return nil, nil, fmt.Errorf("%w (the description train --export-features writes beside the vectors)", err)
	}
	var exp detect.FeatureExport
	if err := json.Unmarshal(b, &exp); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", descPath, err)
	}
	if err := exp.Validate(); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", descPath, err)
	}
	if parts == nil {
		if parts, err = filepath.Glob(filepath.Join(dir, "part-*.json")); err != nil || len(parts) == 0 {
			return nil, nil, fmt.Errorf("%s: no part-*.json files", dir)
		}
	}
	sample := detect.NewSample(len(exp.Features), max, seed)
	row := make([]float64, len(exp.Features))
	for _, p := range parts {
		f, err := os.Open(p)
		if err != nil {
			return nil, nil, err
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for n := 1; sc.Scan(); n++ {
			var m map[string]float64
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				f.Close()
				return nil, nil, fmt.Errorf("%s:%d: %w", p, n, err)
			}
			for j, name := range exp.Features {
				v, ok := m[name]
				if !ok {
					f.Close()
					return nil, nil, fmt.Errorf("%s:%d: no %q", p, n, name)
				}
				row[j] = v
			}
			sample.Add(row)
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", p, err)
		}
	}
	if sample.Len() == 0 {
		return nil, nil, errors.New("the export holds no vectors")
	}
	return &exp, sample, nil
}
