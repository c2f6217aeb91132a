package tailer

// Attribute keys of the tailer's log records.
const (
	logComponent = "component"
	logInput     = "input"
	logPath      = "path"
	logFile      = "file"
	logOffset    = "offset"
	logErr       = "err"
	logCopy      = "copy"
	logBytes     = "bytes"
)
