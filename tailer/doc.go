// Package tailer follows log files and delivers their complete lines, in
// batches, with checkpoints that survive rotation and restarts. It does not
// parse lines: tailer/format does.
//
// # Delivery contract
//
// Ready is closed once Run has taken its start position (checkpoints
// resumed, files open, directories watched): a line written or a file
// rotated after it is seen. The agent tells systemd READY=1 only then.
//
// Run sends a *Batch on its channel and sends nothing else until the
// consumer calls Batch.Done. The consumer processes Lines, persists
// Batch.Checkpoints (the complete state of the input: replace the previous
// set) atomically with what it derived from the lines, then calls Done;
// the line buffers are reused after that. Within a run no line is
// delivered twice; a restart from the last persisted checkpoints neither
// loses nor repeats lines, except as noted under Limits.
//
// # Identity
//
// A file is its device and inode plus an FNV-1a hash of its first
// min(size, FingerprintSize) bytes (FileID). The fingerprint of a short file
// is extended as it grows, after checking that the bytes already hashed did
// not change. Comparisons are made at the stored length: a file shorter than
// a fingerprint cannot carry its content (logs only shrink by truncation).
// Same inode with other leading bytes, or a size below the offset, is a
// truncation (copytruncate, or an inode reused after a delete); another
// inode with the same leading bytes is a copy.
//
// # Reading
//
// Each step reads up to max(1 MiB, MaxLineBytes+1) bytes at the file's
// offset with one pread and splits them on '\n' without copying; the bytes
// after the last '\n' are read again next time, so a partial line is never
// delivered in pieces. Lines longer than MaxLineBytes are skipped, counted
// and consumed, even when they span several reads. Bytes are passed
// through as they are: no UTF-8 validation, no '\r' stripping.
//
// # Notification
//
// With inotify (fsnotify) the tailer watches directories, not files: one
// watch sees writes to every file in it, renames, deletes and new files,
// and a rename never invalidates it. Every RescanInterval the globs are
// expanded again and every file is checked even without a notice, so a
// lost notice (queue overflow, a second input on the same directory) delays
// lines but does not lose them. If inotify cannot be had, or a directory
// cannot be watched (watch limit), the tailer polls. With Poll set it
// fstats each file and stats each path every PollInterval (default 250ms).
// Idle, it uses no CPU in inotify mode and about 0.3% with five files in
// polling mode (TestTailer_IdleCPU).
//
// # Rotation
//
// The descriptor of a followed file stays open while the file is renamed,
// moved to an olddir or deleted: it is read to its end, and for RotateWait
// after it last grew (writers reopen late), before it is let go. A renamed
// file still matched by a glob (access.log.1 under access.log*) is simply
// followed under its new name; rotated names are never read as new files
// because their inode is known, and Exclude keeps compressed files out.
// A new file at a followed path is read from its beginning.
//
// copytruncate: a file is found truncated when it is shorter than the
// offset or than its fingerprint, or its leading bytes changed (checked
// when it grows and whenever its mtime moves, so a file refilled to the
// size already read is caught too). The lines between the offset and the
// truncation are then read from the rotated copy, found among the new
// files (held back while they look like a copy in progress) and the file's
// siblings by its leading bytes. Siblings are the files, in its directory
// and one level of subdirectories (olddir), with a rotated name of it:
// app.log.1, app.log-20241206, app.log.2.gz, or for loggers that keep the
// extension app.1.log, app-20241206.log, app-2024-12-06T10-00-00.000.log
// (isRotatedName); app-audit.log or app.err.log beside app.log are other
// logs, never looked into; a generation keeps its first KiB, so a copy shorter
// than that (copied while the file was) is recognised too. Lines written
// between logrotate's copy and its truncate exist in neither file: that
// loss is copytruncate's own (logrotate(8) says so); the tailer delivers
// those it read before the truncate, and a copy's torn last line as it is.
// Use delaycompress with copytruncate: with plain compress the copy may be
// compressed and deleted before the truncation is noticed.
//
// Generations the tailer never saw: a file written, copied and truncated
// between two looks (it looked empty, or rotations come faster than the
// looks, as polling and a loaded machine allow) leaves its lines only in a
// copy. When a generation begins the rotated siblings are noted by inode,
// size and mtime; when it ends, a sibling that appeared since, is not
// followed or let go (a reused inode number is told by content), and
// copies neither the generation read, nor what the file holds now, nor
// another followed file's current generation (a whole fingerprint) is read
// from its start, oldest first (Stats.Missed). A listing that a rotation's
// renames interleaved with (the directories' stamps moved) never retires a
// file it may have missed; a file that stays empty is checked again on
// every rescan (generation.go). Directory listings are cached per rescan
// and reused for these checks only when read 2 s after the directory last
// changed (copy.go: listings), so thousands of files in one directory cost
// one listing, not one per file.
//
// At start-up each checkpoint is looked for by inode among the glob matches
// and the siblings of its path (then among any names with the same stem,
// for rotated names of no known scheme), then by content (a copytruncate
// copy), and resumed at its offset. The file that replaced it at its path is read from
// the beginning; StartAt applies only to files without a checkpoint at
// paths without one.
//
// # Why not github.com/nxadm/tail
//
// Its per-line channel reads 70-120 thousand lines/s (2 allocations and
// 160 bytes per line; three quarters of the CPU in Tail.Tell, an lseek per
// line) where bulk reads through this package give 14 million with no
// allocation per line (BenchmarkNxadmTail_Channel, BenchmarkTailer_CatchUp,
// 2,000,000 lines).
// Its watch package calls os.Exit when fsnotify.NewWatcher fails (nxadm/tail
// issues 53 and 68: inotify instance limit) or when a stat fails with
// anything but ENOENT, keeps its polling interval in a package variable,
// and routes events through a process-wide tracker keyed by path, whose
// asynchronous clean-up races with watching the same path again after a
// rotation. The notifier interface here wraps fsnotify (the library the
// watch package itself wraps) directly instead.
//
// # Limits
//
//   - Files whose first min(size, 1024) bytes are identical are taken for
//     copies of each other: the newer one is read only once it differs.
//   - Generations rotated away unseen are found only while their copy is
//     uncompressed, beside the file, and appeared while the tailer ran:
//     copies made while the agent was stopped are not looked for, beyond
//     the copy of the checkpointed generation.
//   - On file systems with coarse timestamps (a clock tick), a copy made
//     within a tick of the start of a generation may be taken for an older
//     file and not read.
//   - A checkpointed file compressed while the agent was stopped (compress
//     without delaycompress) cannot be resumed: its unread tail is lost and
//     logged.
//   - An olddir outside the file's directory and its subdirectories is not
//     searched at start-up.
//   - An unfollowed live log whose name looks rotated (app-2.log, a second
//     instance beside app.log) and that grew since the last look is read
//     as a generation app.log missed, when app.log is truncated.
//   - Linux (and other Unix) only: identity needs inode numbers.
package tailer
