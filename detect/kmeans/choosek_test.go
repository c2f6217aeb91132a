package kmeans

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func TestChooseK_PicksTrueK(t *testing.T) {
	for trueK := 2; trueK <= 6; trueK++ {
		t.Run(fmt.Sprintf("k=%d", trueK), func(t *testing.T) {
			// 3000 rows are sampled down to 600 for speed.
			data, _ := blobs(t, 3000, 4, trueK, uint64(trueK))
			k, scores, err := ChooseK(data, AutoOptions{MinK: 1, MaxK: 8, SampleSize: 600, Seed: 1, Restarts: 3})
			if err != nil {
				t.Fatal(err)
			}
			if k != trueK {
				t.Errorf("chose k=%d for %d blobs; scores %v", k, trueK, scores)
			}
			if len(scores) != 7 {
				t.Errorf("scored %d values of k, want 7 (2..8): %v", len(scores), scores)
			}
			if _, ok := scores[1]; ok {
				t.Error("k=1 was scored")
			}
		})
	}
}

func TestChooseK_Deterministic(t *testing.T) {
	data := overlapping(3000, 3, 6)
	opt := AutoOptions{MaxK: 5, SampleSize: 400, Seed: 3, Restarts: 2}
	k1, s1, err := ChooseK(data, opt)
	if err != nil {
		t.Fatal(err)
	}
	k2, s2, _ := ChooseK(data, opt)
	if k1 != k2 || !maps.Equal(s1, s2) {
		t.Errorf("two runs differ: k %d vs %d, scores %v vs %v", k1, k2, s1, s2)
	}
}

func TestChooseK_FewDistinctRows(t *testing.T) {
	same := mat.NewDense(50, 2, nil) // all zeros
	k, scores, err := ChooseK(same, AutoOptions{MinK: 1, MaxK: 5})
	if err != nil || k != 1 || len(scores) != 0 {
		t.Errorf("identical rows, MinK 1: got k=%d scores=%v err=%v, want 1, none, nil", k, scores, err)
	}
	if _, _, err := ChooseK(same, AutoOptions{MinK: 2, MaxK: 5}); !errors.Is(err, ErrBadK) {
		t.Errorf("identical rows, MinK 2: err %v, want ErrBadK", err)
	}

	// Three distinct rows: MaxK is lowered to 3.
	three := mat.NewDense(30, 1, nil)
	for i := range 30 {
		three.Set(i, 0, float64(10*(i%3)))
	}
	k, scores, err = ChooseK(three, AutoOptions{MaxK: 6})
	if err != nil {
		t.Fatal(err)
	}
	if k != 3 || len(scores) != 2 || scores[3] != 1 {
		t.Errorf("three distinct rows: got k=%d scores=%v, want k=3 scoring 1 over {2,3}", k, scores)
	}
}

func TestChooseK_BadInputs(t *testing.T) {
	good, _ := blobs(t, 40, 2, 2, 1)
	nan := mat.DenseCopyOf(good)
	nan.Set(3, 0, math.NaN())
	for _, tc := range []struct {
		name string
		data *mat.Dense
		opt  AutoOptions
		want error
	}{
		{"empty", &mat.Dense{}, AutoOptions{}, ErrEmptyData},
		{"NaN", nan, AutoOptions{}, ErrNonFinite},
		{"MaxK below MinK", good, AutoOptions{MinK: 5, MaxK: 3}, ErrBadOptions},
		{"negative", good, AutoOptions{SampleSize: -1}, ErrBadOptions},
		{"sample of one", good, AutoOptions{SampleSize: 1}, ErrBadOptions},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := ChooseK(tc.data, tc.opt); !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestSampleRows_Uniform(t *testing.T) {
	data := mat.NewDense(1000, 1, nil)
	for i := range 1000 {
		data.Set(i, 0, float64(i))
	}
	s := sampleRows(viewOf(data), 100, 7)
	prev, sum := -1.0, 0.0
	for i := range 100 {
		v := s.At(i, 0)
		if v <= prev {
			t.Fatalf("sample not in original order or repeats a row: %v after %v", v, prev)
		}
		prev = v
		sum += v
	}
	// Mean of a uniform sample of 0..999 is 499.5 ± ~29 (one sd).
	if mean := sum / 100; mean < 380 || mean > 620 {
		t.Errorf("sample mean %v, want about 500", mean)
	}
}
