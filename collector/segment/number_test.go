package segment

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

func checkParseNumber(t testing.TB, s string) {
	t.Helper()
	want, werr := strconv.ParseFloat(s, 64)
	got, err := parseNumber(s)
	if (err == nil) != (werr == nil) || math.Float64bits(got) != math.Float64bits(want) {
		t.Fatalf("parseNumber(%q) = %v (%v), strconv gives %v (%v)", s, got, err, want, werr)
	}
}

func TestParseNumber(t *testing.T) {
	for _, s := range []string{
		"0", "-0", "1", "-1", "0.5", "1795774018.9526005", "1795774019.0571117", "1484789387.126",
		"1795774100.123", "9007199254740993", "9007199254740992", "18014398509481985", "9999999999999999999",
		"1000000000000000000", "0.1", "0.2", "0.3", "0.0000000000000000001", "0.9999999999999999999",
		"123456789.0123456789", "1e3", "1.5E-3", "-2.5e+10", "12345678901234567890", "1.79577401895E9",
		"4503599627370497.5", "4503599627370496.5", "2.2250738585072011e-308", "1e400",
	} {
		checkParseNumber(t, s)
	}
	// Random decimals in the shapes SDKs write: seconds with 0–9 decimals,
	// and values straddling rounding boundaries.
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200000; i++ {
		sec := 1262304000 + r.Uint64N(1<<31)
		dec := r.IntN(10)
		s := strconv.FormatUint(sec, 10)
		if dec > 0 {
			f := strconv.FormatUint(r.Uint64N(pow10u64[dec]), 10)
			for len(f) < dec {
				f = "0" + f
			}
			s += "." + f
		}
		checkParseNumber(t, s)
		m := r.Uint64N(pow10u64[19])
		k := r.IntN(20)
		checkParseNumber(t, strconv.FormatFloat(float64(m)/math.Pow10(k), 'f', -1, 64))
		ms := strconv.FormatUint(m, 10)
		if k < len(ms) {
			checkParseNumber(t, ms[:len(ms)-k]+"."+ms[len(ms)-k:])
		}
	}
}

func FuzzParseNumber(f *testing.F) {
	for _, s := range []string{"1795774018.9526005", "-0.5", "9007199254740993", "1e3", "0.0000000000000000001"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sc := scanner{s: s}
		if n, err := sc.num(); err != nil || n != s {
			return // only JSON numbers reach parseNumber
		}
		checkParseNumber(t, s)
	})
}
