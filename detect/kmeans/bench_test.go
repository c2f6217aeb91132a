package kmeans

import (
	"testing"

	"gonum.org/v1/gonum/mat"
)

// benchData is the brief's sizing target: 200,000 rows of 10 features from
// overlapping blobs with heavy-tailed noise.
func benchData(*testing.B) *mat.Dense { return mixture(200_000, 10, 1) }

func BenchmarkFit(b *testing.B) {
	for _, bc := range []struct {
		name string
		data func(*testing.B) *mat.Dense
		k    int
	}{
		{"mixture_20000x6_k8", func(*testing.B) *mat.Dense { return mixture(20000, 6, 1) }, 8},
		{"traffic_20000x6_k8", func(*testing.B) *mat.Dense { return traffic(20000, 2) }, 8},
		{"mixture_200000x10_k8", benchData, 8},
	} {
		b.Run(bc.name, func(b *testing.B) {
			data := bc.data(b)
			b.ReportAllocs()
			var iter int
			for b.Loop() {
				res, err := Fit(data, Options{K: bc.k, Restarts: 10, Seed: 1})
				if err != nil {
					b.Fatal(err)
				}
				iter = res.Iter
			}
			b.ReportMetric(float64(iter), "iter")
		})
	}
}

func BenchmarkAssign(b *testing.B) {
	data := benchData(b)
	centroids := overlapping(8, 10, 1)
	b.ReportAllocs()
	for b.Loop() {
		Assign(data, centroids)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/200_000, "ns/row")
}

func BenchmarkNearest(b *testing.B) {
	centroids := overlapping(8, 10, 1)
	row := overlapping(1, 10, 2).RawRowView(0)
	b.ReportAllocs()
	for b.Loop() {
		Nearest(row, centroids)
	}
}

func BenchmarkSilhouette_2000(b *testing.B) {
	data, truth := blobs(b, 2000, 10, 8, 1)
	b.ReportAllocs()
	for b.Loop() {
		Silhouette(data, truth, 8)
	}
}

func BenchmarkLloydIteration(b *testing.B) {
	data := benchData(b)
	ws := newWorkspace(viewOf(data), 8)
	ws.initPlusPlus(restartRand(1, 0))
	for i := range ws.labels {
		ws.labels[i] = -1
	}
	ws.assign()
	b.ReportAllocs()
	for b.Loop() {
		ws.update()
		ws.assign()
	}
}
