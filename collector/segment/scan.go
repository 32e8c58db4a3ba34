package segment

import (
	"math/bits"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// scanner is a strict RFC 8259 JSON scanner over a string. It never builds a
// tree: callers walk the members they know and skip the rest. Unescaped
// strings are returned as substrings of s (no copy); only strings with
// escape sequences allocate.
type scanner struct {
	s     string
	i     int
	stack []byte // open containers while skipping ('{' or '[')
}

// syntaxError is returned for input that is not JSON.
type syntaxError struct {
	off int
	msg string
}

func (e *syntaxError) Error() string { return "offset " + strconv.Itoa(e.off) + ": " + e.msg }

func (sc *scanner) errorf(msg string) error {
	return &syntaxError{off: sc.i, msg: msg}
}

func (sc *scanner) errEOF() error {
	return &syntaxError{off: sc.i, msg: "unexpected end of input"}
}

// strStop marks the bytes that end the fast scan of a string: the closing
// quote, a backslash and control characters.
var strStop = func() (t [256]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = true
	}
	t['"'] = true
	t['\\'] = true
	return
}()

// ws skips JSON whitespace.
func (sc *scanner) ws() {
	s, i := sc.s, sc.i
	for i < len(s) {
		c := s[i]
		if c > ' ' || (c != ' ' && c != '\n' && c != '\r' && c != '\t') {
			break
		}
		i++
	}
	sc.i = i
}

// peek returns the current byte or 0 at end of input.
func (sc *scanner) peek() byte {
	if sc.i < len(sc.s) {
		return sc.s[sc.i]
	}
	return 0
}

// str scans the string starting at s[i] (which must be '"') and returns its
// value.
func (sc *scanner) str() (string, error) {
	s := sc.s
	i := sc.i + 1
	start := i
	// Eight bytes at a time while none of them ends the fast scan.
	for i+8 <= len(s) {
		t := s[i : i+8]
		x := uint64(t[0]) | uint64(t[1])<<8 | uint64(t[2])<<16 | uint64(t[3])<<24 |
			uint64(t[4])<<32 | uint64(t[5])<<40 | uint64(t[6])<<48 | uint64(t[7])<<56
		if m := stopMask(x); m != 0 {
			// The lowest flagged byte is exact (borrows only run upwards).
			i += bits.TrailingZeros64(m) >> 3
			if s[i] == '"' {
				sc.i = i + 1
				return s[start:i], nil
			}
			return sc.strSlow(start, i)
		}
		i += 8
	}
	for i < len(s) && !strStop[s[i]] {
		i++
	}
	if i < len(s) && s[i] == '"' {
		sc.i = i + 1
		return s[start:i], nil
	}
	return sc.strSlow(start, i)
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// stopMask flags (high bit of the byte) the bytes of x (8 string bytes,
// little endian) that are a quote, a backslash or a control character. SWAR:
// each term sets a byte's high bit when that byte is zero after the xor, or
// below 0x20; a flag can be spurious only above a real one.
func stopMask(x uint64) uint64 {
	q := x ^ (lsb * '"')
	b := x ^ (lsb * '\\')
	return ((q-lsb)&^q | (b-lsb)&^b | (x-lsb*0x20)&^x) & msb
}

// strSlow continues a string scan at s[i], a backslash, control character or
// the end of input.
func (sc *scanner) strSlow(start, i int) (string, error) {
	s := sc.s
	// Validate and find the end first.
	j := i
	for {
		for j < len(s) && !strStop[s[j]] {
			j++
		}
		if j >= len(s) {
			sc.i = j
			return "", sc.errEOF()
		}
		c := s[j]
		if c == '"' {
			break
		}
		if c < 0x20 {
			sc.i = j
			return "", sc.errorf("control character in string")
		}
		// backslash
		if j+1 >= len(s) {
			sc.i = j
			return "", sc.errEOF()
		}
		switch s[j+1] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			j += 2
		case 'u':
			if j+6 > len(s) {
				sc.i = j
				return "", sc.errEOF()
			}
			for k := j + 2; k < j+6; k++ {
				if unhex(s[k]) < 0 {
					sc.i = k
					return "", sc.errorf("invalid \\u escape")
				}
			}
			j += 6
		default:
			sc.i = j
			return "", sc.errorf("invalid escape")
		}
	}
	sc.i = j + 1
	if i == j {
		return s[start:j], nil
	}
	return unescape(s[start:j]), nil
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

func hex4(s string) rune {
	return rune(unhex(s[0])<<12 | unhex(s[1])<<8 | unhex(s[2])<<4 | unhex(s[3]))
}

// unescape decodes the escape sequences of a validated JSON string body.
// Lone surrogates become U+FFFD, as encoding/json does.
func unescape(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			b = append(b, c)
			i++
			continue
		}
		switch s[i+1] {
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r := hex4(s[i+2:])
			i += 6
			if utf16.IsSurrogate(r) {
				if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
					if r2 := utf16.DecodeRune(r, hex4(s[i+2:])); r2 != utf8.RuneError {
						b = utf8.AppendRune(b, r2)
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			b = utf8.AppendRune(b, r)
			continue
		default: // '"', '\\', '/'
			b = append(b, s[i+1])
		}
		i += 2
	}
	return string(b)
}

// num scans a number starting at s[i] and returns its text.
func (sc *scanner) num() (string, error) {
	s := sc.s
	start := sc.i
	i := start
	if i < len(s) && s[i] == '-' {
		i++
	}
	if i >= len(s) {
		sc.i = i
		return "", sc.errEOF()
	}
	switch c := s[i]; {
	case c == '0':
		i++
	case c >= '1' && c <= '9':
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		sc.i = i
		return "", sc.errorf("invalid value")
	}
	if i < len(s) && s[i] == '.' {
		i++
		d := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == d {
			sc.i = i
			return "", sc.errorf("missing digits after decimal point")
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		d := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == d {
			sc.i = i
			return "", sc.errorf("missing exponent digits")
		}
	}
	sc.i = i
	return s[start:i], nil
}

// lit scans true, false or null at s[i].
func (sc *scanner) lit() (byte, error) {
	s := sc.s[sc.i:]
	switch {
	case len(s) >= 4 && s[:4] == "true":
		sc.i += 4
		return 't', nil
	case len(s) >= 5 && s[:5] == "false":
		sc.i += 5
		return 'f', nil
	case len(s) >= 4 && s[:4] == "null":
		sc.i += 4
		return 'n', nil
	}
	return 0, sc.errorf("invalid value")
}

// key scans an object member name and the colon after it; the scanner is
// left at the member's value.
func (sc *scanner) key() (string, error) {
	sc.ws()
	if sc.peek() != '"' {
		if sc.i >= len(sc.s) {
			return "", sc.errEOF()
		}
		return "", sc.errorf("expected member name")
	}
	k, err := sc.str()
	if err != nil {
		return "", err
	}
	sc.ws()
	if sc.peek() != ':' {
		if sc.i >= len(sc.s) {
			return "", sc.errEOF()
		}
		return "", sc.errorf("expected ':' after member name")
	}
	sc.i++
	sc.ws()
	return k, nil
}

// next consumes the ',' or the closing bracket after a member or element.
// It returns true when the container is closed.
func (sc *scanner) next(closer byte) (bool, error) {
	sc.ws()
	if sc.i >= len(sc.s) {
		return false, sc.errEOF()
	}
	switch sc.s[sc.i] {
	case ',':
		sc.i++
		return false, nil
	case closer:
		sc.i++
		return true, nil
	}
	if closer == '}' {
		return false, sc.errorf("expected ',' or '}'")
	}
	return false, sc.errorf("expected ',' or ']'")
}

// open consumes '{' or '[' (at s[i]) and reports whether the container is
// empty (its closer has been consumed too).
func (sc *scanner) open(closer byte) bool {
	sc.i++
	sc.ws()
	if sc.i < len(sc.s) && sc.s[sc.i] == closer {
		sc.i++
		return true
	}
	return false
}

// skip validates and skips one value starting at s[i] without recursion.
// It returns the deepest nesting reached below the value (0 for a scalar,
// 1 for a flat object or array).
func (sc *scanner) skip() (maxNest int, err error) {
	stack := sc.stack[:0]
	defer func() { sc.stack = stack[:0] }()
	s := sc.s
	for {
		// A value is expected at s[i].
		if sc.i >= len(s) {
			return 0, sc.errEOF()
		}
		switch c := s[sc.i]; c {
		case '{', '[':
			closer := byte('}')
			if c == '[' {
				closer = ']'
			}
			stack = append(stack, c)
			if len(stack) > maxNest {
				maxNest = len(stack)
			}
			if sc.open(closer) {
				stack = stack[:len(stack)-1]
				break
			}
			if c == '{' {
				if _, err := sc.key(); err != nil {
					return 0, err
				}
			}
			continue
		case '"':
			if _, err := sc.str(); err != nil {
				return 0, err
			}
		case 't', 'f', 'n':
			if _, err := sc.lit(); err != nil {
				return 0, err
			}
		default:
			if _, err := sc.num(); err != nil {
				return 0, err
			}
		}
		// After a value: close containers or move to the next member.
		for {
			if len(stack) == 0 {
				return maxNest, nil
			}
			top := stack[len(stack)-1]
			closer := byte('}')
			if top == '[' {
				closer = ']'
			}
			closed, err := sc.next(closer)
			if err != nil {
				return 0, err
			}
			if !closed {
				if top == '{' {
					if _, err := sc.key(); err != nil {
						return 0, err
					}
				} else {
					sc.ws()
				}
				break
			}
			stack = stack[:len(stack)-1]
		}
	}
}
