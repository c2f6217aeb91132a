package detect

import "math"

// registeredDomain returns the suffix of a query name that a registrant
// controls: the last two labels, or the last three when the second-level
// label is a common public second level under a two-letter country code
// (example.co.uk, example.com.au). This heuristic avoids a public-suffix
// table on the hot path; it is right for the names that matter for
// tunnelling (many distinct subdomains under one registered domain).
// A trailing dot is ignored.
func registeredDomain(q []byte) (reg []byte, sub []byte) {
	if n := len(q); n > 0 && q[n-1] == '.' {
		q = q[:n-1]
	}
	dots := [3]int{-1, -1, -1} // positions of the last three dots, nearest first
	found := 0
	for i := len(q) - 1; i >= 0 && found < 3; i-- {
		if q[i] == '.' {
			dots[found] = i
			found++
		}
	}
	if found < 1 {
		return q, nil
	}
	labels := 2
	if found >= 2 {
		tld := q[dots[0]+1:]
		sld := q[dots[1]+1 : dots[0]]
		if len(tld) == 2 && isPublicSLD(sld) {
			labels = 3
		}
	}
	if found < labels {
		return q, nil
	}
	cut := dots[labels-1]
	return q[cut+1:], q[:cut]
}

func isPublicSLD(b []byte) bool {
	switch string(b) { // no allocation: compiler optimises string(b) in switch
	case "co", "com", "net", "org", "gov", "ac", "edu", "or", "ne", "go", "gob", "nic", "mil":
		return true
	}
	return false
}

// maxLabelEntropy is the largest Shannon entropy (bits per character) of
// any label in sub. Encoded payloads (base32/base64/hex) score 4–5 bits;
// words score 2.5–3.5.
func maxLabelEntropy(sub []byte) float64 {
	best := 0.0
	start := 0
	for i := 0; i <= len(sub); i++ {
		if i == len(sub) || sub[i] == '.' {
			if e := entropy(sub[start:i]); e > best {
				best = e
			}
			start = i + 1
		}
	}
	return best
}

func entropy(label []byte) float64 {
	n := len(label)
	if n < 2 {
		return 0
	}
	var counts [256]uint32 // uint16 would wrap on labels over 64 KiB (lines reach 1 MiB)
	for _, c := range label {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		counts[c]++
	}
	e := 0.0
	fn := float64(n)
	for _, c := range counts {
		if c != 0 {
			p := float64(c) / fn
			e -= p * math.Log2(p)
		}
	}
	return e
}
