package format

import (
	"fmt"
	"time"

	"github.com/socx/sharkfin/record"
)

// SniffLines is the number of leading lines callers should pass to Sniff.
const SniffLines = 20

// Sniff detects the format of a log from its first lines (see SniffLines).
// Every line is tried with the Squid, Combined and Bind parsers and the
// format that accepts the most lines wins, provided it accepts at least
// half of the non-empty ones; otherwise the error wraps ErrUndetected.
//
// Web logs are reported as Combined, whose parser also accepts common-format
// lines. Blank lines are ignored.
func Sniff(lines [][]byte) (Format, error) {
	candidates := [...]Format{Squid, Combined, Bind}
	var counts [len(candidates)]int
	var r record.Record
	nonEmpty := 0
	for _, line := range lines {
		if len(trim(line)) == 0 {
			continue
		}
		nonEmpty++
		for k, f := range candidates {
			// The zone does not matter for detection.
			p := Parser{Format: f, Location: time.UTC}
			if p.Parse(line, &r) == nil {
				counts[k]++
			}
		}
	}
	if nonEmpty == 0 {
		return Unknown, fmt.Errorf("detect format: no non-empty lines: %w", ErrUndetected)
	}
	best := 0
	for k := range candidates {
		if counts[k] > counts[best] {
			best = k
		}
	}
	if counts[best] == 0 || 2*counts[best] < nonEmpty {
		return Unknown, fmt.Errorf("detect format: of %d lines %d parse as squid, %d as combined, %d as bind: %w",
			nonEmpty, counts[0], counts[1], counts[2], ErrUndetected)
	}
	return candidates[best], nil
}
