package detect

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/socx/sharkfin/record"
)

// TestNormalizePath checks golden cases worked out by hand from the doc
// comment of NormalizePath.
func TestNormalizePath(t *testing.T) {
	long := "/" + strings.Repeat("x", 300)
	cases := []struct{ in, want string }{
		// The query string and fragment are dropped.
		{"/search?q=1", "/search"},
		{"/search?q=/etc/passwd", "/search"},
		{"/page#top", "/page"},
		{"/a?b#c", "/a"},
		{"/a#b?c", "/a"},
		{"/?x=1", "/"},
		// Absolute form: the scheme and host are dropped.
		{"http://host/x?y", "/x"},
		{"https://Example.COM:8443/A/B/", "/a/b"},
		{"http://host/", "/"},
		{"http://host", "/"},
		// ASCII letters are lower-cased.
		{"/Index.PHP", "/index.php"},
		{"/ABOUT/Team", "/about/team"},
		// Digit runs become one '0' in non-identifier segments.
		{"/2019/05/post-12", "/0/0/post-0"},
		{"/x1y22z333", "/x0y0z0"},
		{"/a1b2", "/a0b0"}, // hex, but short
		{"/item/123", "/item/0"},
		{"/1234567", "/0"}, // 7 digits: too short for an identifier
		{"/a%20b", "/a%0b"},
		// Identifier segments become "*".
		{"/user/550e8400-e29b-41d4-a716-446655440000/profile", "/user/*/profile"}, // UUID
		{"/obj/d41d8cd98f00b204e9800998ecf8427e", "/obj/*"},                       // md5, 32 hex
		{"/obj/D41D8CD98F00B204E9800998ECF8427E", "/obj/*"},                       // upper-case hex
		{"/reset/AbCdEfGhIjKlMnOpQrStUv12", "/reset/*"},                           // 24-char token with digits
		{"/t/ab_cd-ef_gh-ij_kl-mn_0", "/t/*"},                                     // 20+ with '-', '_' and a digit
		{"/deadbee1", "/*"},                                                       // 8 hex with a digit
		{"/12345678", "/*"},                                                       // 8 digits are hex digits
		{"/2019/05/20190512", "/0/0/*"},
		{"/a1b22c333", "/*"}, // 10 hex digits with digits
		// ... but not these.
		{"/deadbeef", "/deadbeef"},                                         // 8 hex, no digit
		{"/abcdefab", "/abcdefab"},                                         // 8 hex, no digit
		{"/deadbe1", "/deadbe0"},                                           // 7 hex
		{"/abcdefghijklmnopqrstuvwx", "/abcdefghijklmnopqrstuvwx"},         // 24 letters, no digit
		{"/ghijklmnopqrstuvw12", "/ghijklmnopqrstuvw0"},                    // 19 chars, not hex
		{"/d41d8cd98f00b204e9800998ecf8427e.js", "/d0d0cd0f0b0e0ecf0e.js"}, // '.': not an identifier
		{"/index.php", "/index.php"},
		// A trailing '/' is dropped, except from "/" itself.
		{"/blog/", "/blog"},
		{"/", "/"},
		{"//", "/"},
		{"/a//b", "/a//b"},
		{"/a//", "/a/"}, // one trailing '/' is dropped
		// Empty and odd targets.
		{"", "/"},
		{"?x", "/"},
		{"*", "*"},
		{"foo/Bar", "foo/bar"},
		// At most 256 bytes.
		{long, long[:256]},
		{"/" + strings.Repeat("x", 254) + "/yy", "/" + strings.Repeat("x", 254)}, // cut at a '/': the '/' is dropped
	}
	for _, tc := range cases {
		got := NormalizePath(make([]byte, 0, 256), []byte(tc.in))
		if string(got) != tc.want {
			t.Errorf("NormalizePath(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if len(got) > 256 {
			t.Errorf("NormalizePath(%q): %d bytes, want <= 256", tc.in, len(got))
		}
	}

	// It appends to dst.
	if got := NormalizePath([]byte("pre"), []byte("/A/1")); string(got) != "pre/a/0" {
		t.Errorf("NormalizePath(\"pre\", \"/A/1\") = %q, want %q", got, "pre/a/0")
	}

	// No allocation with a dst of capacity 256.
	dst := make([]byte, 0, 256)
	targets := [][]byte{[]byte("/2019/05/post-12?x=1"), []byte(long), []byte("http://host/user/550e8400-e29b-41d4-a716-446655440000/")}
	if n := testing.AllocsPerRun(100, func() {
		for _, tg := range targets {
			dst = NormalizePath(dst[:0], tg)
		}
	}); n != 0 {
		t.Errorf("NormalizePath allocates %v times a run, want 0", n)
	}

	// Nor does Vocabulary.Known.
	b := NewVocabBuilder()
	for i := range 3 {
		b.Add(&record.Record{Client: fmt.Appendf(nil, "10.0.0.%d", i), Target: []byte("/a"), Status: 200})
	}
	v := b.Vocabulary()
	if n := testing.AllocsPerRun(100, func() {
		for _, tg := range targets {
			v.Known(tg)
		}
		v.Known([]byte("/a"))
	}); n != 0 {
		t.Errorf("Vocabulary.Known allocates %v times a run, want 0", n)
	}
}

// TestNormalizePath_AppendKeepsDst: NormalizePath "appends target's
// normalised path to dst"; the trailing-'/' rule must leave dst's own
// bytes alone.
func TestNormalizePath_AppendKeepsDst(t *testing.T) {
	for _, tc := range []struct{ dst, in, want string }{
		{"pre", "/", "pre/"},
		{"a/", "", "a//"},
		{"a/", "/x/", "a//x"},
	} {
		got := NormalizePath([]byte(tc.dst), []byte(tc.in))
		if string(got) != tc.want {
			t.Errorf("NormalizePath(%q, %q) = %q, want %q", tc.dst, tc.in, got, tc.want)
		}
	}
}

func vocabRec(client, target string, status int) *record.Record {
	return &record.Record{Client: []byte(client), Target: []byte(target), Status: status, Method: []byte("GET")}
}

func TestVocabBuilder(t *testing.T) {
	known := func(v *Vocabulary, target string) bool { return v.Known([]byte(target)) }

	t.Run("served", func(t *testing.T) {
		b := NewVocabBuilder()
		b.Add(vocabRec("10.0.0.1", "/two", 200))
		b.Add(vocabRec("10.0.0.2", "/two", 200))
		b.Add(vocabRec("10.0.0.1", "/one", 200))
		b.Add(vocabRec("10.0.0.3", "/same", 200))
		b.Add(vocabRec("10.0.0.3", "/same", 200))
		b.Add(vocabRec("10.0.0.4", "/moved", 301))
		b.Add(vocabRec("10.0.0.5", "/moved", 304))
		b.Add(vocabRec("10.0.0.6", "/half", 200))
		b.Add(vocabRec("10.0.0.7", "/half", 404)) // asked by 2, served to 1
		v := b.Vocabulary()
		for target, want := range map[string]bool{
			"/two":   true,  // served to 2 clients
			"/one":   false, // served to 1
			"/same":  false, // served twice to one client: clients count, not hits
			"/moved": true,  // 3xx is served
			"/half":  false,
			"/never": false,
		} {
			if got := known(v, target); got != want {
				t.Errorf("Known(%q) = %v, want %v", target, got, want)
			}
		}
		if v.MinClients != DefaultVocabularyMin || v.Normalize != VocabNormalize {
			t.Errorf("min_clients %d normalize %q", v.MinClients, v.Normalize)
		}
		if v.PathsSeen != 5 || v.Size != 2 {
			t.Errorf("paths seen %d size %d, want 5 and 2", v.PathsSeen, v.Size)
		}
	})

	t.Run("askers", func(t *testing.T) {
		b := NewVocabBuilder()
		for i := range 5 {
			b.Add(vocabRec(fmt.Sprintf("10.0.1.%d", i), "/asked-by-five", 404))
		}
		for i := range 4 {
			b.Add(vocabRec(fmt.Sprintf("10.0.1.%d", i), "/asked-by-four", 404))
			b.Add(vocabRec(fmt.Sprintf("10.0.1.%d", i), "/asked-by-four", 500))
		}
		v := b.Vocabulary()
		if !known(v, "/asked-by-five") {
			t.Error("a path asked by 5 clients (MinAskers default 5), always 404, is not known")
		}
		if known(v, "/asked-by-four") {
			t.Error("a path asked by 4 clients, never served, is known")
		}
		// MinAskers set: 4 is enough.
		b.MinAskers = 4
		if v := b.Vocabulary(); !known(v, "/asked-by-four") {
			t.Error("MinAskers 4: a path asked by 4 clients is not known")
		}
	})

	t.Run("folding", func(t *testing.T) {
		b := NewVocabBuilder()
		b.Add(vocabRec("10.0.2.1", "/item/123?x", 200))
		b.Add(vocabRec("10.0.2.2", "/item/456", 200))
		b.Add(vocabRec("10.0.2.3", "/doc/550e8400-e29b-41d4-a716-446655440000", 200))
		b.Add(vocabRec("10.0.2.4", "/DOC/6ba7b810-9dad-11d1-80b4-00c04fd430c8/", 200))
		v := b.Vocabulary()
		for _, target := range []string{"/item/789", "/item/1?y=2#f", "http://h/Item/42", "/doc/00000000-0000-0000-0000-000000000001"} {
			if !known(v, target) {
				t.Errorf("Known(%q) = false: the IDs fold into one path", target)
			}
		}
		if known(v, "/item") || known(v, "/items/1") {
			t.Error("other paths are known")
		}
		if v.Size != 2 || v.PathsSeen != 2 {
			t.Errorf("size %d paths seen %d, want 2 and 2", v.Size, v.PathsSeen)
		}
	})

	t.Run("max paths", func(t *testing.T) {
		b := NewVocabBuilder()
		b.MaxPaths = 2
		for p, n := range map[string]int{"/five": 5, "/four": 4, "/three": 3, "/two": 2} {
			for i := range n {
				b.Add(vocabRec(fmt.Sprintf("10.0.3.%d", i), p, 200))
			}
		}
		v := b.Vocabulary()
		for target, want := range map[string]bool{"/five": true, "/four": true, "/three": false, "/two": false} {
			if got := known(v, target); got != want {
				t.Errorf("MaxPaths 2: Known(%q) = %v, want %v", target, got, want)
			}
		}
		if v.Size != 2 || v.PathsSeen != 4 {
			t.Errorf("size %d paths seen %d, want 2 and 4", v.Size, v.PathsSeen)
		}
	})

	t.Run("prune", func(t *testing.T) {
		rare := func(i int) string { return fmt.Sprintf("/rare/%c%c", 'a'+i%26, 'a'+i/26) }
		feed := func(b *VocabBuilder) {
			for i := range 50 { // a heavily served path
				b.Add(vocabRec(fmt.Sprintf("10.0.4.%d", i), "/heavy", 200))
			}
			b.Add(vocabRec("10.0.5.1", "/mid", 200)) // served to 2 clients, far apart
			for i := range 40 {
				b.Add(vocabRec("10.0.6.1", rare(i), 404))
			}
			b.Add(vocabRec("10.0.5.2", "/mid", 200))
		}
		full := NewVocabBuilder()
		feed(full)
		if v := full.Vocabulary(); !known(v, "/heavy") || !known(v, "/mid") {
			t.Fatal("without a prune, /heavy and /mid are not both known")
		}
		b := NewVocabBuilder()
		b.MaxEntries = 8
		feed(b)
		if len(b.counts) > 8 {
			t.Errorf("%d paths counted, want at most MaxEntries 8", len(b.counts))
		}
		v := b.Vocabulary()
		if !known(v, "/heavy") {
			t.Error("the prune dropped a path served to 50 clients")
		}
		if known(v, "/mid") {
			t.Error("/mid was forgotten by the prune and counted again from 1: it should not be known")
		}
		for i := range 40 {
			if known(v, rare(i)) {
				t.Errorf("rare path %s known", rare(i))
			}
		}
		if v.Size != 1 {
			t.Errorf("size %d, want 1", v.Size)
		}
	})

	t.Run("keys differ", func(t *testing.T) {
		// Two builders have different random keys: the same paths hash
		// differently.
		a, b := NewVocabBuilder(), NewVocabBuilder()
		for _, x := range []*VocabBuilder{a, b} {
			x.Add(vocabRec("1.1.1.1", "/p", 200))
			x.Add(vocabRec("1.1.1.2", "/p", 200))
		}
		va, vb := a.Vocabulary(), b.Vocabulary()
		if va.Key == vb.Key || va.Hashes == vb.Hashes {
			t.Error("two builders share a key")
		}
		if !va.Known([]byte("/p")) || !vb.Known([]byte("/p")) {
			t.Error("/p not known")
		}
	})
}

// vocabModel trains a small web model with rare_errors, carrying v.
func vocabModel(t *testing.T, v *Vocabulary) *Model {
	t.Helper()
	rows := blobRows(300, 7)
	for i, r := range rows {
		rows[i] = append(r, float64(i%3)) // rare_errors
	}
	m, _ := mustTrain(t, rows, TrainConfig{K: 2, Name: "web", Version: "v", Window: time.Minute,
		Features:   []string{"hits_2xx", "hits_non2xx", "distinct_paths", "post", "error_ratio", "rare_errors"},
		Vocabulary: v})
	return m
}

func TestVocabulary_RoundTripAndValidate(t *testing.T) {
	b := NewVocabBuilder()
	served := []string{"/", "/index.php", "/blog/0", "/static/app.js", "/item/0", "/about"}
	for i := range 5 {
		for _, p := range served {
			b.Add(vocabRec(fmt.Sprintf("10.1.0.%d", i), strings.Replace(p, "0", fmt.Sprint(i*7+1), 1), 200))
		}
	}
	b.Add(vocabRec("10.1.1.1", "/only-one", 200))
	v := b.Vocabulary()
	if v.Size != len(served) {
		t.Fatalf("size %d, want %d", v.Size, len(served))
	}
	m := vocabModel(t, v)
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := DecodeModel(data)
	if err != nil {
		t.Fatalf("DecodeModel: %v", err)
	}
	if m2.Vocabulary == nil {
		t.Fatal("the vocabulary did not survive JSON")
	}
	for _, p := range append(served, "/blog/99?x", "/ITEM/5", "/only-one", "/wp-login.php", "/.env", "/blog") {
		if got, want := m2.Vocabulary.Known([]byte(p)), v.Known([]byte(p)); got != want {
			t.Errorf("Known(%q) after the round trip = %v, before %v", p, got, want)
		}
	}
	if !m2.Vocabulary.Known([]byte("/blog/42")) || m2.Vocabulary.Known([]byte("/.env")) {
		t.Error("decoded vocabulary does not know /blog/42 or knows /.env")
	}
	if m2.Vocabulary.String() != v.String() {
		t.Errorf("String %q, want %q", m2.Vocabulary.String(), v.String())
	}
	// The JSON holds no path.
	for _, p := range []string{"index.php", "blog", "static"} {
		if bytes.Contains(data, []byte(p)) {
			t.Errorf("model JSON holds %q", p)
		}
	}

	// One field corrupted at a time.
	raw, _ := base64.StdEncoding.DecodeString(v.Hashes)
	swapped := append([]byte(nil), raw...)
	copy(swapped[0:8], raw[8:16])
	copy(swapped[8:16], raw[0:8])
	dup := append([]byte(nil), raw...)
	copy(dup[8:16], raw[0:8])
	cases := []struct {
		name  string
		edit  func(m map[string]any, voc map[string]any)
		field string
	}{
		{"normalize", func(_, voc map[string]any) { voc["normalize"] = "path/v2" }, "vocabulary.normalize"},
		{"key not hex", func(_, voc map[string]any) { voc["key"] = strings.Repeat("zz", 16) }, "vocabulary.key"},
		{"key short", func(_, voc map[string]any) { voc["key"] = strings.Repeat("ab", 15) }, "vocabulary.key"},
		{"key long", func(_, voc map[string]any) { voc["key"] = strings.Repeat("ab", 17) }, "vocabulary.key"},
		{"hashes not base64", func(_, voc map[string]any) { voc["hashes"] = "!!not base64!!" }, "vocabulary.hashes"},
		{"hashes unsorted", func(_, voc map[string]any) { voc["hashes"] = base64.StdEncoding.EncodeToString(swapped) }, "vocabulary.hashes"},
		{"hashes repeated", func(_, voc map[string]any) { voc["hashes"] = base64.StdEncoding.EncodeToString(dup) }, "vocabulary.hashes"},
		{"size mismatch", func(_, voc map[string]any) { voc["size"] = v.Size + 1 }, "vocabulary.hashes"},
		{"size too large", func(_, voc map[string]any) { voc["size"] = MaxVocabularyPaths + 1 }, "vocabulary.size"},
		{"size negative", func(_, voc map[string]any) { voc["size"] = -1 }, "vocabulary.size"},
		{"min_clients 0", func(_, voc map[string]any) { voc["min_clients"] = 0 }, "vocabulary.min_clients"},
		{"unknown field", func(_, voc map[string]any) { voc["paths"] = []string{"/x"} }, `"paths"`},
		{"dns model", func(m, _ map[string]any) {
			m["kind"] = "dns"
			m["features"] = []string{"hits", "hits_2xx", "hits_non2xx", "queries", "distinct_subdomains", "max_qname_len"}
		}, "vocabulary"},
		{"rare_errors without vocabulary", func(m, _ map[string]any) { delete(m, "vocabulary") }, "features[5]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var doc map[string]any
			if err := json.Unmarshal(data, &doc); err != nil {
				t.Fatal(err)
			}
			tc.edit(doc, doc["vocabulary"].(map[string]any))
			bad, err := json.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			_, err = DecodeModel(bad)
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("DecodeModel: err %v, want a *FieldError", err)
			}
			if fe.Field != tc.field {
				t.Errorf("field %q, want %q (%v)", fe.Field, tc.field, err)
			}
			if !errors.Is(err, ErrInvalidModel) {
				t.Errorf("%v is not ErrInvalidModel", err)
			}
		})
	}

	// A model without rare_ features may carry a vocabulary, or not.
	var doc map[string]any
	_ = json.Unmarshal(data, &doc)
	doc["features"] = []string{"hits_2xx", "hits_non2xx", "distinct_paths", "post", "error_ratio", "rare_share"}
	ok, _ := json.Marshal(doc)
	if _, err := DecodeModel(ok); err != nil {
		t.Errorf("rare_share with a vocabulary: %v", err)
	}
	doc["features"] = []string{"hits_2xx", "hits_non2xx", "distinct_paths", "post", "error_ratio", "hits"}
	delete(doc, "vocabulary")
	ok, _ = json.Marshal(doc)
	if _, err := DecodeModel(ok); err != nil {
		t.Errorf("no rare_ feature, no vocabulary: %v", err)
	}
	// An empty vocabulary (size 0) is valid: every path is rare.
	empty := NewVocabBuilder().Vocabulary()
	m3 := vocabModel(t, empty)
	data3, _ := json.Marshal(m3)
	m4, err := DecodeModel(data3)
	if err != nil {
		t.Fatalf("empty vocabulary: %v", err)
	}
	if m4.Vocabulary.Size != 0 || m4.Vocabulary.Known([]byte("/")) {
		t.Error("an empty vocabulary knows /")
	}
}

// closeAll closes every window of a, returning the results by key.
func closeAll(a *Aggregator) map[string][]float64 {
	out := map[string][]float64{}
	emit := func(r *Result) {
		out[fmt.Sprintf("%d %s", r.Start, r.Key)] = append([]float64(nil), r.Vector...)
	}
	a.CloseThrough(maxInt64, emit)
	for a.Closing() {
		a.ContinueClose(emit)
	}
	return out
}

// rareRecords: web records of 20 clients over 3 minutes, a third of them
// rare, some of those failing.
func rareRecords() []record.Record {
	rng := rand.New(rand.NewPCG(3, 9))
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	recs := make([]record.Record, 600)
	for i := range recs {
		r := &recs[i]
		r.Time = base + int64(i)*int64(300*time.Millisecond)
		r.Client = fmt.Appendf(nil, "10.2.0.%d", rng.IntN(20))
		r.Method = []byte("GET")
		r.Target = fmt.Appendf(nil, "/p%d", rng.IntN(30))
		r.Status = []int{200, 200, 304, 404, 500}[rng.IntN(5)]
		r.Rare = rng.IntN(3) == 0
	}
	return recs
}

var rareFeatures = []int{WebRareHits, WebRareErrors, WebRareShare, WebRareErrorRatio}

// rareCommitFeatures is how many web features there were when the rare_
// ones came: the snapshot tests compare those.
const rareCommitFeatures = WebRareErrorRatio + 1

func TestSnapshot_RareCountsSurvive(t *testing.T) {
	cfg := WindowConfig{Kind: record.KindWeb, CloseBatch: 3}
	recs := rareRecords()
	feed := func() *Aggregator {
		a, err := NewAggregator(cfg)
		if err != nil {
			t.Fatal(err)
		}
		for i := range recs {
			a.Add(&recs[i])
		}
		return a
	}

	orig := feed()
	snap := orig.Snapshot()
	if snap.Main[0] != snapshotVersion || snapshotVersion != 7 {
		t.Fatalf("snapshot version %d, want 7", snap.Main[0])
	}
	want := closeAll(orig)
	nonzero, repeats := 0, 0
	for k, vec := range want {
		if vec[WebHourNewRareErrors] < vec[WebRareErrors] {
			repeats++ // a rare-error path twice in the window
		}
		if vec[WebRareErrors] > vec[WebRareHits] || vec[WebRareHits] > vec[WebHits] {
			t.Errorf("%s: rare_errors %v rare_hits %v hits %v", k, vec[WebRareErrors], vec[WebRareHits], vec[WebHits])
		}
		if vec[WebRareErrors] > 0 {
			nonzero++
		}
	}
	if nonzero == 0 || repeats == 0 {
		t.Fatalf("%d windows have rare errors, %d a path twice: the test counts nothing", nonzero, repeats)
	}

	restored, _ := NewAggregator(cfg)
	if err := restored.Restore(snap.Main, snap.Frozen); err != nil {
		t.Fatal(err)
	}
	got := closeAll(restored)
	for k, w := range want {
		if !slices.Equal(got[k], w) {
			t.Errorf("restored %s: %v, want %v", k, got[k], w)
		}
	}

	// Part way through closing (frozen windows' keys stored apart).
	a := feed()
	n := 0
	a.CloseThrough(maxInt64, func(*Result) { n++ })
	s1 := a.Snapshot()
	if len(s1.Frozen) == 0 {
		t.Fatal("no frozen window")
	}
	b, _ := NewAggregator(cfg)
	if err := b.Restore(s1.Main, s1.Frozen); err != nil {
		t.Fatal(err)
	}
	rest := closeAll(b)
	if n+len(rest) != len(want) {
		t.Errorf("%d keys emitted before and %d after the restore, want %d", n, len(rest), len(want))
	}
	for k, vec := range rest {
		if w, ok := want[k]; !ok {
			t.Errorf("%s: not in the original", k)
		} else {
			for _, i := range rareFeatures {
				if vec[i] != w[i] {
					t.Errorf("%s feature %d: %v, want %v", k, i, vec[i], w[i])
				}
			}
		}
	}

	// Versions 6 and 5: the same snapshot without the rare-error paths,
	// and without the rare counts too. Everything else restores the same;
	// version 5's rare counts as 0; every rare error of a window restored
	// from either counts as new (version 5: none).
	for _, c := range []struct {
		ver      byte
		zeroRare bool
	}{{snapshotV6, false}, {snapshotV5, true}} {
		old, _ := NewAggregator(cfg)
		if err := old.Restore(webSnapshotAs(t, snap.Main, c.ver), nil); err != nil {
			t.Fatalf("v%d snapshot: %v", c.ver, err)
		}
		got := closeAll(old)
		compareRare(t, fmt.Sprintf("v%d", c.ver), got, want, c.zeroRare)
		for k, vec := range got {
			if vec[WebHourNewRareErrors] != vec[WebRareErrors] {
				t.Errorf("v%d %s: hour_new_rare_errors %v, want rare_errors %v", c.ver, k, vec[WebHourNewRareErrors], vec[WebRareErrors])
			}
		}
	}
}

// compareRare compares results key by key: every feature (of the first
// rareCommitFeatures) equal, except the rare ones, which are 0 when
// zeroRare.
func compareRare(t *testing.T, what string, got, want map[string][]float64, zeroRare bool) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d results, want %d", what, len(got), len(want))
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("%s: %s missing", what, k)
			continue
		}
		for i := range rareCommitFeatures {
			exp := w[i]
			if zeroRare && slices.Contains(rareFeatures, i) {
				exp = 0
			}
			if g[i] != exp {
				t.Errorf("%s: %s feature %s: %v, want %v", what, k, FeatureNames(record.KindWeb)[i], g[i], exp)
			}
		}
	}
}

// webSnapshotAs rewrites a web aggregator's version 7 Main (no frozen
// window, no overflow) as version ver (6 or 5): the same bytes without
// each key's rare-error paths (errOther and errPathsKept uvarints, there
// when it has rare errors), and for 5 without its two rare-count uvarints
// either.
func webSnapshotAs(t testing.TB, b []byte, ver byte) []byte {
	t.Helper()
	if b[0] != snapshotVersion || ver != snapshotV6 && ver != snapshotV5 {
		t.Fatalf("version %d to %d", b[0], ver)
	}
	out := []byte{ver}
	p := 1
	fail := func() { t.Fatalf("v7 blob: cannot parse at byte %d", p) }
	varint := func() {
		_, n := binary.Varint(b[p:])
		if n <= 0 {
			fail()
		}
		out = append(out, b[p:p+n]...)
		p += n
	}
	uvarint := func(keep bool) uint64 {
		v, n := binary.Uvarint(b[p:])
		if n <= 0 {
			fail()
		}
		if keep {
			out = append(out, b[p:p+n]...)
		}
		p += n
		return v
	}
	raw := func(n int) {
		if p+n > len(b) {
			fail()
		}
		out = append(out, b[p:p+n]...)
		p += n
	}
	for range 3 + 5 { // width, watermark, horizon, stats
		varint()
	}
	nw := uvarint(true)
	for range nw {
		varint() // start
		varint() // lines
		varint() // overflowed
		if b[p]&flagFrozen != 0 {
			t.Fatal("frozen window")
		}
		raw(1) // flags
		nk := uvarint(true)
		for range nk {
			raw(int(uvarint(true))) // key
			for range 7 {
				varint()
			}
			uvarint(true)                       // allowed
			uvarint(ver == snapshotV6)          // rare
			if uvarint(ver == snapshotV6) > 0 { // rareErr
				for range 1 + errPathsKept {
					uvarint(false) // errOther, errPaths
				}
			}
			raw(8 * int(uvarint(true)))
		}
		if b[p] != 0 {
			t.Fatal("overflow accumulator")
		}
		raw(1)
	}
	if p != len(b) {
		fail()
	}
	return out
}

func FuzzNormalizePath(f *testing.F) {
	for _, s := range []string{"", "/", "/a/b?c#d", "http://host/x?y", "/2019/05/post-12",
		"/user/550e8400-e29b-41d4-a716-446655440000/", "/" + strings.Repeat("ab/", 120), "*", "//", "x://", "/\xff\x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, target []byte) {
		got := NormalizePath(make([]byte, 0, 256), target)
		if len(got) > 256 {
			t.Fatalf("NormalizePath(%q): %d bytes", target, len(got))
		}
		if bytes.IndexByte(got, '?') >= 0 || bytes.IndexByte(got, '#') >= 0 {
			t.Fatalf("NormalizePath(%q) = %q holds '?' or '#'", target, got)
		}
		if len(target) > 0 && target[0] == '/' && (len(got) == 0 || got[0] != '/') {
			t.Fatalf("NormalizePath(%q) = %q does not start with '/'", target, got)
		}
		for _, c := range got {
			if c >= 'A' && c <= 'Z' {
				t.Fatalf("NormalizePath(%q) = %q holds an upper-case letter", target, got)
			}
		}
		// One trailing '/' is dropped ("a trailing '/'"): "/a//" is "/a/".
		// So the output ends with '/' only if the path held "//".
		path := target
		if i := bytes.IndexAny(path, "?#"); i >= 0 {
			path = path[:i]
		}
		if n := len(got); n > 1 && got[n-1] == '/' && !bytes.Contains(path, []byte("//")) {
			t.Fatalf("NormalizePath(%q) = %q ends with '/'", target, got)
		}
		// With a prefix, the same bytes follow it (when the trailing '/'
		// rule does not reach into the prefix).
		pre := NormalizePath([]byte("pfx:"), target)
		if len(got) > 0 && string(got) != "/" && string(pre) != "pfx:"+string(got) {
			t.Fatalf("NormalizePath(\"pfx:\", %q) = %q, want %q", target, pre, "pfx:"+string(got))
		}
	})
}
