package segment

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// hexVal is 1 for lowercase hex digits, 2 for uppercase ones, 0 otherwise.
var hexVal = func() (t [256]uint8) {
	for c := '0'; c <= '9'; c++ {
		t[c] = 1
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = 1
	}
	for c := 'A'; c <= 'F'; c++ {
		t[c] = 2
	}
	return
}()

// checkHex reports whether s is all hex digits and whether any is upper case.
func checkHex(s string) (ok, upper bool) {
	var or uint8
	for i := 0; i < len(s); i++ {
		v := hexVal[s[i]]
		if v == 0 {
			return false, false
		}
		or |= v
	}
	return true, or&2 != 0
}

// ValidID reports whether s is a 64-bit X-Ray id: 16 hex digits (either case).
func ValidID(s string) bool {
	ok, _ := checkHex(s)
	return ok && len(s) == 16
}

// normID validates a 16-hex id and returns it in lower case.
func normID(s string) (string, bool) {
	if len(s) != 16 {
		return s, false
	}
	ok, upper := checkHex(s)
	if !ok {
		return s, false
	}
	if upper {
		s = strings.ToLower(s)
	}
	return s, true
}

// ValidTraceID reports whether s is an X-Ray trace id: "1-" + 8 hex digits
// (epoch seconds) + "-" + 24 hex digits, either case.
func ValidTraceID(s string) bool {
	_, ok := normTraceID(s)
	return ok
}

// normTraceID validates a trace id and returns it in lower case.
func normTraceID(s string) (string, bool) {
	if len(s) != 35 || s[0] != '1' || s[1] != '-' || s[10] != '-' {
		return s, false
	}
	ok1, up1 := checkHex(s[2:10])
	ok2, up2 := checkHex(s[11:])
	if !ok1 || !ok2 {
		return s, false
	}
	if up1 || up2 {
		s = strings.ToLower(s)
	}
	return s, true
}

// Name character classes for ASCII: 1 = allowed in strict mode (X-Ray's
// documented set), 2 = allowed only in lenient mode.
var nameASCII = func() (t [128]uint8) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = 2
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = 1
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = 1
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = 1
	}
	for _, c := range " \t\n\v\f\r_.:/%&#=+\\-@" {
		t[c] = 1
	}
	return
}()

// validName checks a segment or subsegment name: non-empty, at most max
// characters, valid UTF-8 without control characters; in strict mode only
// letters, digits, whitespace and _ . : / % & # = + \ - @.
func validName(s string, max int, strict bool) (ok bool, why string) {
	if s == "" {
		return false, "empty name"
	}
	var limit uint8 = 2
	if strict {
		limit = 1
	}
	ascii := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			ascii = false
			continue
		}
		if v := nameASCII[c]; v == 0 || v > limit {
			return false, "forbidden character " + quoteRune(rune(c))
		}
	}
	if ascii {
		if len(s) > max {
			return false, "longer than the limit"
		}
		return true, ""
	}
	if !utf8.ValidString(s) {
		return false, "invalid UTF-8"
	}
	n := 0
	for _, r := range s {
		n++
		if r < utf8.RuneSelf {
			continue
		}
		if unicode.IsSpace(r) {
			continue
		}
		if strict {
			if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
				return false, "forbidden character " + quoteRune(r)
			}
		} else if unicode.IsControl(r) || r == utf8.RuneError {
			return false, "forbidden character " + quoteRune(r)
		}
	}
	if n > max {
		return false, "longer than the limit"
	}
	return true, ""
}

func quoteRune(r rune) string {
	return fmt.Sprintf("%U %q", r, r)
}

// validCauseID accepts the exception reference form of "cause": 16
// letters or digits (SDKs emit hex; some fixtures use other letters).
func validCauseID(s string) bool {
	if len(s) != 16 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}
