package kmeans

import (
	"math"
	"slices"
	"testing"
)

func TestQuantile_Values(t *testing.T) {
	ten := []float64{10, 9, 8, 7, 6, 5, 4, 3, 2, 1} // unsorted on purpose
	for _, tc := range []struct {
		name string
		xs   []float64
		q    float64
		want float64
	}{
		{"min", ten, 0, 1},
		{"max", ten, 1, 10},
		{"median", ten, 0.5, 5},
		{"just above a step", ten, 0.51, 6},
		{"p90", ten, 0.9, 9},
		{"p99 rounds up", ten, 0.99, 10},
		{"single value", []float64{3.5}, 0.7, 3.5},
		{"duplicates", []float64{2, 2, 2, 7}, 0.75, 2},
		{"infinity kept", []float64{1, math.Inf(1)}, 1, math.Inf(1)},
		{"negative values", []float64{-3, -1, -2}, 0, -3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			orig := slices.Clone(tc.xs)
			if got := Quantile(tc.xs, tc.q); got != tc.want {
				t.Errorf("Quantile(%v, %v) = %v, want %v", tc.xs, tc.q, got, tc.want)
			}
			if !slices.Equal(orig, tc.xs) {
				t.Error("input was modified")
			}
		})
	}
}

func TestQuantile_Undefined(t *testing.T) {
	for _, tc := range []struct {
		name string
		xs   []float64
		q    float64
	}{
		{"nil", nil, 0.5},
		{"empty", []float64{}, 0.5},
		{"q below 0", []float64{1, 2}, -0.1},
		{"q above 1", []float64{1, 2}, 1.1},
		{"q NaN", []float64{1, 2}, math.NaN()},
		{"NaN value", []float64{1, math.NaN(), 2}, 0.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Quantile(tc.xs, tc.q); !math.IsNaN(got) {
				t.Errorf("got %v, want NaN", got)
			}
		})
	}
}
