package tailer

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestTailer_RotateWhileStopped stops the tailer, writes, rotates with the
// real logrotate, writes again, and restarts from the persisted
// checkpoints: the lines of both runs together are each delivered once.
func TestTailer_RotateWhileStopped(t *testing.T) {
	needLogrotate(t)
	cases := []struct {
		name, directives, glob string
	}{
		{name: "create", directives: "\tcreate"},
		{name: "create_glob_siblings", directives: "\tcreate\n\tcompress\n\tdelaycompress", glob: "app.log*"},
		{name: "copytruncate", directives: "\tcopytruncate"},
		{name: "copytruncate_glob_siblings", directives: "\tcopytruncate\n\tcompress\n\tdelaycompress", glob: "app.log*"},
		{name: "dateext", directives: "\tcreate\n\tdateext\n\tdateformat -%s"},
		{name: "olddir", directives: "\tcreate\n\tolddir old"},
	}
	for _, m := range modes() {
		for _, tc := range cases {
			t.Run(m.name+"/"+tc.name, func(t *testing.T) {
				dir := t.TempDir()
				log := filepath.Join(dir, "app.log")
				if err := os.Mkdir(filepath.Join(dir, "old"), 0o755); err != nil {
					t.Fatal(err)
				}
				rot := newRotator(t, dir, log, tc.directives, 5)
				glob := tc.glob
				if glob == "" {
					glob = "app.log"
				}
				cfg := testConfig(m.poll, filepath.Join(dir, glob))

				startWriter(t, log, 0, 1000, 0).wait(t)
				first := &collector{}
				run := startTailer(t, cfg, nil, first)
				waitFor(t, 5*time.Second, "first run", func() bool { return first.count() >= 1000 })
				ckpts := run.stop(t)

				startWriter(t, log, 1000, 500, 0).wait(t)
				rot.rotate(t)
				startWriter(t, log, 1500, 500, 0).wait(t)

				// start_at end must not apply to the new file at the
				// checkpointed path: it replaced a file being followed.
				cfg.StartAt = StartAtEnd
				second := &collector{}
				startTailer(t, cfg, ckpts, second)
				waitFor(t, 5*time.Second, "second run", func() bool { return second.count() >= 1000 })
				time.Sleep(300 * time.Millisecond)

				got := seqCounts(t, append(first.snapshot(), second.snapshot()...))
				v := judge(t, 2000, onDisk(t, dir), got)
				if v.missing != 0 || v.dup != 0 || v.lostByRotate != 0 || len(got) != 2000 {
					t.Errorf("missed %d, duplicated %d, lost on disk %d, delivered %d distinct of 2000", v.missing, v.dup, v.lostByRotate, len(got))
				}
			})
		}
	}
}

// TestTailer_RestartWithoutRotation checks that a restart resumes exactly
// at the checkpoint, partial last line included.
func TestTailer_RestartWithoutRotation(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "app.log")
	appendFile(t, log, "a\nb\npartial")
	cfg := testConfig(false, log)
	first := &collector{}
	run := startTailer(t, cfg, nil, first)
	waitFor(t, 2*time.Second, "two lines", func() bool { return first.count() == 2 })
	ckpts := run.stop(t)
	if len(ckpts) != 1 || ckpts[0].Offset != 4 {
		t.Fatalf("checkpoints = %+v, want one at offset 4", ckpts)
	}
	appendFile(t, log, " line\nc\n")
	second := &collector{}
	startTailer(t, cfg, ckpts, second)
	waitFor(t, 2*time.Second, "two more lines", func() bool { return second.count() == 2 })
	time.Sleep(100 * time.Millisecond)
	if got := second.snapshot(); len(got) != 2 || got[0] != "partial line" || got[1] != "c" {
		t.Errorf("second run delivered %q", got)
	}
}
