package tailer

import (
	"bytes"
	"slices"
	"time"
)

// start follows the files of the checkpoints, where a rotation while the
// agent was stopped may have moved them, then adopts the other glob
// matches: from the beginning at a checkpointed path (the file that
// replaced a rotated one), per StartAt elsewhere.
func (r *runner) start() {
	now := r.now()
	matches := r.glob()
	ckPaths := make(map[string]bool, len(r.t.resume))
	for _, ck := range r.t.resume {
		ckPaths[ck.Path] = true
	}
	for _, ck := range r.t.resume {
		r.resume(ck, matches, now)
	}
	r.rescan(func(p string) startPos {
		if ckPaths[p] || r.cfg.StartAt == StartAtBeginning {
			return startBeginning
		}
		return startEnd
	})
}

// resume finds the file of ck among the glob matches and the rotated
// siblings of its path: by inode when its content is intact, else by
// content (the copy copytruncate left). The file is followed from
// ck.Offset.
func (r *runner) resume(ck Checkpoint, matches []string, now time.Time) {
	want := ck.ID.key()
	cands := append(slices.Clone(matches), r.siblings(ck.Path)...)
	slices.Sort(cands)
	cands = slices.Compact(cands)
	for _, p := range cands {
		_, k, err := statRegular(p)
		if err != nil || k != want {
			continue
		}
		if r.files[k] != nil {
			return // an earlier checkpoint claimed it
		}
		f, fi, err := open(p, k)
		if err != nil {
			// Not readable now: remember the checkpoint, so that the
			// rescan that manages to open it resumes instead of
			// starting over.
			r.fail(p, err)
			r.deferred[k] = ck
			return
		}
		same, err := r.pr.sameContent(ck.ID, f, fi.Size())
		if err == nil && same && fi.Size() >= ck.Offset {
			head := bytes.Clone(r.pr.buf[:ck.ID.FingerprintLen]) // sameContent read them
			r.follow(&file{f: f, id: ck.ID, head: head, path: p, real: realPath(p), offset: ck.Offset, size: fi.Size(), grewAt: now})
			return
		}
		f.Close() // truncated in place or inode reused: a new file
		break
	}
	if ck.Offset > 0 && ck.ID.FingerprintLen > 0 {
		for _, p := range cands {
			if c := r.openCopy(p, generation{id: ck.ID}, ck.Offset); c != nil {
				r.log.Info("resuming rotated copy", logPath, ck.Path, logCopy, p, logOffset, ck.Offset)
				return
			}
		}
	}
	r.log.Info("checkpointed file not found", logPath, ck.Path, logFile, ck.ID.String(), logOffset, ck.Offset)
}

// follow registers a resumed file.
func (r *runner) follow(fl *file) {
	r.files[fl.id.key()] = fl
	r.noteSiblings(fl)
	fl.fresh = fl.id.FingerprintLen == 0
	if !r.cfg.matches(fl.path) {
		r.orphan(fl, fl.grewAt)
	}
	r.log.Debug("resuming file", logPath, fl.path, logFile, fl.id.String(), logOffset, fl.offset)
	r.enqueue(fl)
}
