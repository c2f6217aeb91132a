package format

import "errors"

// Rejection reasons. Parse returns exactly one of these values (never a
// wrapped or newly allocated error), so callers can compare with == or
// errors.Is and count rejections by Reason without allocating.
var (
	ErrEmpty         = errors.New("empty line")
	ErrNotLogLine    = errors.New("not a log line of this format")
	ErrTruncated     = errors.New("line ends before a required field")
	ErrMalformed     = errors.New("malformed field layout")
	ErrBadTime       = errors.New("bad timestamp")
	ErrBadClient     = errors.New("bad client address")
	ErrBadRequest    = errors.New("bad request field")
	ErrBadStatus     = errors.New("bad status code")
	ErrBadSize       = errors.New("bad response size")
	ErrBadQuery      = errors.New("bad dns query")
	ErrUnknownFormat = errors.New("unknown log format")
	ErrUndetected    = errors.New("log format not recognised")
)

// Reason returns a short, stable label for err, suitable as a metric label
// value: "empty", "not_log_line", "truncated", "malformed", "bad_time",
// "bad_client", "bad_request", "bad_status", "bad_size", "bad_query",
// "unknown_format", "undetected"; "" for nil and "other" for errors that are
// not from this package.
func Reason(err error) string {
	// Fast path: Parse returns the sentinels themselves.
	if s := reason(err); s != "" || err == nil {
		return s
	}
	for _, e := range [...]error{
		ErrEmpty, ErrNotLogLine, ErrTruncated, ErrMalformed, ErrBadTime,
		ErrBadClient, ErrBadRequest, ErrBadStatus, ErrBadSize, ErrBadQuery,
		ErrUnknownFormat, ErrUndetected,
	} {
		if errors.Is(err, e) {
			return reason(e)
		}
	}
	return "other"
}

func reason(err error) string {
	switch err {
	case nil:
		return ""
	case ErrEmpty:
		return "empty"
	case ErrNotLogLine:
		return "not_log_line"
	case ErrTruncated:
		return "truncated"
	case ErrMalformed:
		return "malformed"
	case ErrBadTime:
		return "bad_time"
	case ErrBadClient:
		return "bad_client"
	case ErrBadRequest:
		return "bad_request"
	case ErrBadStatus:
		return "bad_status"
	case ErrBadSize:
		return "bad_size"
	case ErrBadQuery:
		return "bad_query"
	case ErrUnknownFormat:
		return "unknown_format"
	case ErrUndetected:
		return "undetected"
	}
	return ""
}
