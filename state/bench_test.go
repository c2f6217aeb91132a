package state_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/socx/sharkfin/state"
)

// benchCommit is one agent commit on a busy node: 10 followed files, 1,000
// open windows of ~200 bytes, 500 closed-window events of ~400 bytes and
// 500 history updates. Iteration i moves every offset on and closes the
// windows of minute i; history keys cycle through 5,000 addresses, so each
// record grows to the retention before it is trimmed.
type benchCommit struct {
	windowKeys []string
	blob       []byte
	event      []byte
	ips        []string
}

func newBenchCommit() *benchCommit {
	bc := &benchCommit{blob: make([]byte, 200), event: make([]byte, 400)}
	for i := range 1000 {
		bc.windowKeys = append(bc.windowKeys, fmt.Sprintf("web/%d/198.51.100.%d", i/250, i%250))
	}
	for i := range 5000 {
		bc.ips = append(bc.ips, fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255))
	}
	for i := range bc.event {
		bc.event[i] = 'a' + byte(i%26)
	}
	return bc
}

func (bc *benchCommit) commit(i int) *state.Commit {
	c := &state.Commit{Windows: make(map[string][]byte, len(bc.windowKeys))}
	for f := range 10 {
		c.Checkpoints = append(c.Checkpoints, state.Checkpoint{
			Path: fmt.Sprintf("/var/log/apache2/access.log.%d", f), Dev: 2049, Ino: uint64(1000 + f),
			Fingerprint: 42, FingerprintLen: 1024, Offset: int64(i) * 1_000_000, Input: "web", Updated: time.Unix(int64(i), 0),
		})
	}
	for _, k := range bc.windowKeys {
		c.Windows[k] = bc.blob
	}
	for range 500 {
		c.Events = append(c.Events, bc.event)
	}
	start := time.Unix(1_700_000_040+int64(i)*60, 0)
	for j := range 500 {
		c.History = append(c.History, state.HistoryUpdate{
			Kind: state.KindIP, Key: bc.ips[(i*500+j)%len(bc.ips)], WindowStart: start, Hits: 12, Bytes: 34_000, Anomalous: j%50 == 0,
		})
	}
	return c
}

// BenchmarkStore_Apply measures the agent's commit with fsync (the real
// cost: bbolt syncs the data pages, then the meta page: two fdatasync per
// commit) and without. Between commits, untimed, the sender deletes the
// events, as it does while Fluentd is up.
func BenchmarkStore_Apply(b *testing.B) {
	for _, noSync := range []bool{false, true} {
		b.Run(fmt.Sprintf("sync=%v", !noSync), func(b *testing.B) {
			s, err := state.Open(state.Options{Path: filepath.Join(b.TempDir(), "state.db"), NoSync: noSync})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			bc := newBenchCommit()
			commits := make([]*state.Commit, 16)
			for i := range commits {
				commits[i] = bc.commit(i)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				last, err := s.Apply(commits[i%len(commits)])
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if _, err := s.OutboxDelete(last); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			perSec := float64(b.N) / b.Elapsed().Seconds()
			b.ReportMetric(perSec, "tx/s")
			if !noSync {
				b.ReportMetric(2*perSec, "fsyncs/s")
			}
			b.ReportMetric(float64(s.Stats().FileSize), "file-bytes")
		})
	}
}

// BenchmarkStore_OutboxReadDelete measures the sender's side: read 500
// events in order, then delete them, as after an ack.
func BenchmarkStore_OutboxReadDelete(b *testing.B) {
	const batch = 500
	s, err := state.Open(state.Options{Path: filepath.Join(b.TempDir(), "state.db")})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	event := make([]byte, 400)
	fill := &state.Commit{}
	for range 20 * batch {
		fill.Events = append(fill.Events, event)
	}
	var after uint64
	var read int
	b.ReportAllocs()
	start := time.Now()
	var paused time.Duration
	for b.Loop() {
		if n, _, _ := s.OutboxStats(); n < batch {
			t0 := time.Now()
			if _, err := s.Apply(fill); err != nil {
				b.Fatal(err)
			}
			paused += time.Since(t0)
		}
		if err := s.OutboxRead(after, batch, func(seq uint64, data []byte) error {
			after = seq
			read++
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		if _, err := s.OutboxDelete(after); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(read)/(time.Since(start)-paused).Seconds(), "events/s")
}

// BenchmarkStore_OutboxFootprint appends 100,000 events of ~400 bytes in
// commits of 500 and reports the space they take.
func BenchmarkStore_OutboxFootprint(b *testing.B) {
	const events, batch = 100_000, 500
	event := make([]byte, 400)
	c := &state.Commit{}
	for range batch {
		c.Events = append(c.Events, event)
	}
	for b.Loop() {
		path := filepath.Join(b.TempDir(), "state.db")
		s, err := state.Open(state.Options{Path: path, NoSync: true})
		if err != nil {
			b.Fatal(err)
		}
		for range events / batch {
			if _, err := s.Apply(c); err != nil {
				b.Fatal(err)
			}
		}
		st := s.Stats()
		s.Close()
		fi, err := os.Stat(path)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(fi.Size())/events, "file-bytes/event")
		b.ReportMetric(float64(st.DataSize)/events, "data-bytes/event")
	}
}
