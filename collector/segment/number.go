package segment

import (
	"math"
	"math/bits"
	"strconv"
)

// pow10u64[k] is 10^k for k ≤ 19 (the powers that fit in a uint64).
var pow10u64 = func() (t [20]uint64) {
	t[0] = 1
	for i := 1; i < len(t); i++ {
		t[i] = t[i-1] * 10
	}
	return
}()

// parseNumber converts a JSON number (already validated by the scanner) to
// the nearest float64, exactly as strconv.ParseFloat does. Plain decimals
// of up to 19 digits without an exponent — every X-Ray timestamp — take a
// fast path: m/10^k computed with one 128-by-64-bit division and rounded to
// nearest even from the quotient and remainder. Anything else goes to
// strconv.
func parseNumber(s string) (float64, error) {
	i := 0
	neg := false
	if i < len(s) && s[i] == '-' {
		neg = true
		i++
	}
	var m uint64
	digits, frac := 0, 0
	dot := false
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			m = m*10 + uint64(c-'0')
			digits++
			if dot {
				frac++
			}
		case c == '.' && !dot:
			dot = true
		default: // exponent
			return strconv.ParseFloat(s, 64)
		}
	}
	if digits == 0 || digits > 19 {
		return strconv.ParseFloat(s, 64)
	}
	f := divPow10(m, frac)
	if neg {
		f = -f
	}
	return f, nil
}

// divPow10 returns m/10^k rounded to the nearest float64 (ties to even), for
// m < 10^19 and k ≤ 19.
func divPow10(m uint64, k int) float64 {
	if m == 0 {
		return 0
	}
	if k == 0 && m <= 1<<53 {
		return float64(m)
	}
	d := pow10u64[k]
	// Scale m by 2^s so that q = floor(m·2^s / d) lies in [2^62, 2^64):
	// then q carries the 53 result bits plus the rounding bits, and the
	// remainder tells whether anything non-zero lies below them.
	lm, ld := bits.LeadingZeros64(m), bits.LeadingZeros64(d)
	s := 63 - ld + lm
	var hi, lo uint64
	if s >= 64 {
		hi = m << (s - 64)
	} else if s > 0 {
		hi, lo = m>>(64-s), m<<s
	} else {
		lo = m
	}
	q, rem := bits.Div64(hi, lo, d)
	drop := 11 - bits.LeadingZeros64(q) // q has 64 or 63 significant bits: keep 53
	mant := q >> drop
	dropped := q & (1<<drop - 1)
	half := uint64(1) << (drop - 1)
	if dropped > half || dropped == half && (rem != 0 || mant&1 == 1) {
		mant++
		if mant == 1<<53 {
			mant >>= 1
			drop++
		}
	}
	return math.Ldexp(float64(mant), drop-s)
}
