package detect

import (
	"fmt"
	"testing"

	"github.com/socx/sharkfin/record"
)

// letters spells i in base 26 (digits fold in NormalizePath, letters do not).
func letters(i int) string {
	b := []byte{}
	for {
		b = append(b, byte('a'+i%26))
		i /= 26
		if i == 0 {
			return string(b)
		}
	}
}

// BenchmarkPathVocab_Mark is the per-line cost on a parse worker of a web
// line under a model with a full-size vocabulary (50,000 paths): normalise,
// hash, look up. Half the targets are known.
func BenchmarkPathVocab_Mark(b *testing.B) {
	vb := NewVocabBuilder()
	for i := range DefaultVocabularyPaths {
		for c := range 2 {
			vb.Add(&record.Record{Client: []byte{byte(c)}, Target: []byte("/blog/" + letters(i) + "/index.html"), Status: 200})
		}
	}
	var pv PathVocab
	pv.Set(vb.Vocabulary())
	recs := make([]record.Record, 1024)
	for i := range recs {
		t := fmt.Sprintf("/blog/%s/index.html?utm_source=feed&id=%d", letters(i*37), i)
		if i%2 == 1 {
			t = fmt.Sprintf("/wp-content/plugins/%s/readme.txt", letters(i))
		}
		recs[i] = record.Record{Target: []byte(t)}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		pv.Mark(record.KindWeb, &recs[i%len(recs)])
	}
}
