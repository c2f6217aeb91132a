package tailer

import (
	"bytes"
	"path/filepath"
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
// ck.Offset. A rotated name that follows no known scheme is still found
// by inode among the files that start like it.
func (r *runner) resume(ck Checkpoint, matches []string, now time.Time) {
	cands := append(slices.Clone(matches), r.siblings(ck.Path)...)
	slices.Sort(cands)
	cands = slices.Compact(cands)
	done, looked := r.resumeByInode(ck, cands, now)
	if !done && !looked {
		loose, _ := r.siblingsIn(ck.Path, sameStem(filepath.Base(ck.Path)), false)
		loose = slices.DeleteFunc(loose, func(p string) bool { _, in := slices.BinarySearch(cands, p); return in })
		done, _ = r.resumeByInode(ck, loose, now)
	}
	if done {
		return
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

// resumeByInode looks for the inode of ck among paths. done says that ck
// is taken care of: followed, claimed by an earlier checkpoint, or
// deferred until its file can be opened. looked says that the inode was
// found but holds other content (truncated in place, or the number
// reused): a new file.
func (r *runner) resumeByInode(ck Checkpoint, paths []string, now time.Time) (done, looked bool) {
	want := ck.ID.key()
	for _, p := range paths {
		_, k, err := statRegular(p)
		if err != nil || k != want {
			continue
		}
		if r.files[k] != nil {
			return true, true // an earlier checkpoint claimed it
		}
		f, fi, err := open(p, k)
		if err != nil {
			// Not readable now: remember the checkpoint, so that the
			// rescan that manages to open it resumes instead of
			// starting over.
			r.fail(p, err)
			r.deferred[k] = ck
			return true, true
		}
		same, err := r.pr.sameContent(ck.ID, f, fi.Size())
		if err == nil && same && fi.Size() >= ck.Offset {
			head := bytes.Clone(r.pr.buf[:ck.ID.FingerprintLen]) // sameContent read them
			r.follow(&file{f: f, id: ck.ID, head: head, path: p, real: realPath(p), offset: ck.Offset, size: fi.Size(), grewAt: now})
			return true, true
		}
		f.Close() // truncated in place or inode reused: a new file
		return false, true
	}
	return false, false
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
