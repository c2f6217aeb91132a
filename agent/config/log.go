package config

// Log configures the agent's own log on stderr.
type Log struct {
	Level  LogLevel  `yaml:"level"`
	Format LogFormat `yaml:"format"`
}

// Defaults of Log.
const (
	DefaultLogLevel  = LogInfo
	DefaultLogFormat = LogText
)

// SetDefaults fills zero fields with their defaults.
func (l *Log) SetDefaults() {
	if l.Level == "" {
		l.Level = DefaultLogLevel
	}
	if l.Format == "" {
		l.Format = DefaultLogFormat
	}
}

// Validate checks the section.
func (l *Log) Validate() error {
	var p problems
	p.add("level", checkEnum(l.Level, LogDebug, LogInfo, LogWarn, LogError))
	p.add("format", checkEnum(l.Format, LogText, LogJSON))
	return p.err()
}
