package kmeans

import "errors"

// Errors returned by Fit and ChooseK, wrapped with context; test with errors.Is.
var (
	// ErrEmptyData means the data matrix has no rows or no columns.
	ErrEmptyData = errors.New("kmeans: empty data")
	// ErrNonFinite means the data holds a NaN or an infinity.
	ErrNonFinite = errors.New("kmeans: data holds NaN or Inf")
	// ErrBadK means the requested number of clusters cannot be fitted.
	ErrBadK = errors.New("kmeans: bad number of clusters")
	// ErrBadOptions means an option other than K is out of range.
	ErrBadOptions = errors.New("kmeans: bad options")
)
