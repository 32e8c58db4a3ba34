package xrayemit

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Header is a parsed X-Ray trace header:
// Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=…
type Header struct {
	Root   string // trace id, "" when absent
	Parent string // 16 hex digits, "" when absent
	// Sampled is '1', '0', '?' or 0 when absent.
	Sampled byte
	// Lineage is propagated unchanged (recursive-loop detection).
	Lineage string
	// Extra holds unknown key=value pairs in order; they are propagated.
	Extra [][2]string
}

// ErrInvalidHeader is returned by ParseHeader for a header it cannot use.
var ErrInvalidHeader = errors.New("invalid X-Ray trace header")

// maxHeaderLen bounds what ParseHeader accepts; real headers are < 256 bytes.
const maxHeaderLen = 2048

// ParseHeader parses an X-Amzn-Trace-Id value. Parts are separated by ';',
// keys are case-insensitive, spaces around parts are ignored, "Self=" (added
// by load balancers) is dropped and unknown keys are kept in Extra. A Root
// that is not a well-formed trace id, a Parent that is not 16 hex digits or
// a Sampled flag other than 0, 1 or ? is an error.
func ParseHeader(s string) (Header, error) {
	var h Header
	if len(s) > maxHeaderLen {
		return h, fmt.Errorf("%w: longer than %d bytes", ErrInvalidHeader, maxHeaderLen)
	}
	for part := range strings.SplitSeq(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return Header{}, fmt.Errorf("%w: part %q has no '='", ErrInvalidHeader, part)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch {
		case strings.EqualFold(k, "Root"):
			if !ValidTraceID(v) {
				return Header{}, fmt.Errorf("%w: bad Root %q", ErrInvalidHeader, v)
			}
			h.Root = v
		case strings.EqualFold(k, "Parent"):
			if !ValidID(v) {
				return Header{}, fmt.Errorf("%w: bad Parent %q", ErrInvalidHeader, v)
			}
			h.Parent = v
		case strings.EqualFold(k, "Sampled"):
			if len(v) != 1 || (v[0] != '0' && v[0] != '1' && v[0] != '?') {
				return Header{}, fmt.Errorf("%w: bad Sampled %q", ErrInvalidHeader, v)
			}
			h.Sampled = v[0]
		case strings.EqualFold(k, "Lineage"):
			h.Lineage = v
		case strings.EqualFold(k, "Self"):
		default:
			h.Extra = append(h.Extra, [2]string{k, v})
		}
	}
	return h, nil
}

// String formats the header as Root=…;Parent=…;Sampled=…[;Lineage=…][;k=v…],
// omitting empty parts.
func (h Header) String() string {
	var b strings.Builder
	b.Grow(96)
	sep := func() {
		if b.Len() > 0 {
			b.WriteByte(';')
		}
	}
	if h.Root != "" {
		b.WriteString("Root=")
		b.WriteString(h.Root)
	}
	if h.Parent != "" {
		sep()
		b.WriteString("Parent=")
		b.WriteString(h.Parent)
	}
	if h.Sampled != 0 {
		sep()
		b.WriteString("Sampled=")
		b.WriteByte(h.Sampled)
	}
	if h.Lineage != "" {
		sep()
		b.WriteString("Lineage=")
		b.WriteString(h.Lineage)
	}
	for _, kv := range h.Extra {
		sep()
		b.WriteString(kv[0])
		b.WriteByte('=')
		b.WriteString(kv[1])
	}
	return b.String()
}

const hexDigits = "0123456789abcdef"

// NewID returns a random 16-hex-digit segment id.
func NewID() string {
	var b [16]byte
	putHex(b[:], rand.Uint64())
	return string(b[:])
}

// NewTraceID returns a new trace id 1-<8 hex epoch seconds>-<24 hex random>.
func NewTraceID(now time.Time) string {
	var b [35]byte
	b[0], b[1], b[10] = '1', '-', '-'
	putHex(b[2:10], uint64(now.Unix())<<32)
	putHex(b[11:27], rand.Uint64())
	putHex(b[27:35], rand.Uint64())
	return string(b[:])
}

// putHex writes the most significant len(dst) nibbles of v into dst.
func putHex(dst []byte, v uint64) {
	for i := range dst {
		dst[i] = hexDigits[v>>60]
		v <<= 4
	}
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// ValidID reports whether s is a 16-hex-digit segment id.
func ValidID(s string) bool { return len(s) == 16 && isHex(s) }

// ValidTraceID reports whether s has the form 1-<8 hex>-<24 hex>.
func ValidTraceID(s string) bool {
	return len(s) == 35 && s[0] == '1' && s[1] == '-' && s[10] == '-' && isHex(s[2:10]) && isHex(s[11:])
}
