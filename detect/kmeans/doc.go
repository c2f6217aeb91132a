// Package kmeans fits K-Means models for sharkfin's anomaly scoring.
//
// Fit runs k-means++ initialisation (the greedy variant: several D²-sampled
// candidates per step, keeping the one that lowers the potential most),
// Lloyd iterations to convergence with empty-cluster relocation, and keeps
// the restart with the lowest inertia. Results depend only on the data and
// Options: restarts run in parallel, but each is seeded from Options.Seed by
// its index and ties are broken by index, so GOMAXPROCS never changes the
// answer.
//
// Assign and Nearest score rows against fitted centroids (Euclidean distance,
// not squared). Silhouette and ChooseK pick the number of clusters, and
// Quantile turns per-cluster distances into thresholds.
//
// The package is pure computation: no I/O, no logging, no global state.
package kmeans
