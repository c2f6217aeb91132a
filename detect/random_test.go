package detect

import "testing"

// looksRandom tells generated registrable labels from chosen ones: what a
// DGA makes (random letters, few vowels, long consonant runs) against
// brands and words, including the abbreviations that fool it (counted,
// as the feature is a count per client, not a verdict).
func TestLooksRandom(t *testing.T) {
	for _, c := range []struct {
		label string
		want  bool
	}{
		{"xkqjvbtrwpz", true},     // no vowel
		{"qzvtkmbxwnlr", true},    // no vowel
		{"hjtkrwpaxq", true},      // one vowel in ten letters
		{"abcdfghjkl", true},      // a run of 8 consonants
		{"mxbrtlaqsywzg", true},   // 2 of 13 are vowels
		{"google", false},         // too short to tell
		{"facebook", false},       // 4 of 8 vowels
		{"windowsupdate", false},  // 5 of 13
		{"microsoft", false},      // 3 of 9
		{"wikipedia", false},      // 4 of 9
		{"trafficmanager", false}, // 5 of 14
		{"localhost", false},      // 3 of 9, runs of 2
		{"cloudflare", false},     // 4 of 10
		{"msftconnecttest", true}, // an abbreviation: 3 of 15, "msftc"
		{"whatsapp", false},       // 2 of 8: a quarter is enough
		{"12345678", false},       // no letters
		{"XKQJVBTRWPZ", true},     // case does not matter
		{"ab-cd-ef-gh", false},    // hyphens break runs: 2 of 8 letters are vowels
	} {
		if got := looksRandom([]byte(c.label)); got != c.want {
			t.Errorf("looksRandom(%q) = %v, want %v", c.label, got, c.want)
		}
	}
}
