package segment

import (
	"errors"
	"strconv"
	"strings"
)

// ErrTraceHeader matches (errors.Is) every error of ParseTraceHeader.
var ErrTraceHeader = errors.New("segment: invalid trace header")

// TraceHeader is a parsed X-Amzn-Trace-Id value (also _X_AMZN_TRACE_ID,
// Lambda-Runtime-Trace-Id and the SQS AWSTraceHeader attribute):
//
//	Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=1:36680206:0
type TraceHeader struct {
	Root    string // trace id, "" when absent
	Parent  string // 16-hex id of the caller's (sub)segment, "" when absent
	Sampled byte   // '1', '0', '?' (the callee decides) or 0 when absent
	// Lineage is propagated as is (Lambda's recursion detection).
	Lineage string
	// Extra holds the other key=value pairs in their order, kept for
	// propagation. Self= (added by load balancers) is dropped.
	Extra [][2]string
}

type headerError struct{ msg string }

func (e *headerError) Error() string        { return "segment: invalid trace header: " + e.msg }
func (e *headerError) Is(target error) bool { return target == ErrTraceHeader }

// ParseTraceHeader parses a trace header: parts separated by ';', each
// key=value split at the first '=', spaces around parts, keys and values
// trimmed, empty parts ignored. Root, Parent and Sampled (keys matched
// case-insensitively) are validated; Self is dropped; Lineage and any other
// key are kept. A header without Root is not an error (h.Root is "").
func ParseTraceHeader(s string) (TraceHeader, error) {
	var h TraceHeader
	seen := 0
	const (
		seenRoot = 1 << iota
		seenParent
		seenSampled
		seenLineage
	)
	for rest := s; rest != ""; {
		part := rest
		if i := strings.IndexByte(rest, ';'); i >= 0 {
			part, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		eq := strings.IndexByte(part, '=')
		if eq < 0 {
			return TraceHeader{}, &headerError{"part " + strconv.Quote(clip(part)) + " has no '='"}
		}
		k, v := strings.TrimSpace(part[:eq]), strings.TrimSpace(part[eq+1:])
		if k == "" {
			return TraceHeader{}, &headerError{"part " + strconv.Quote(clip(part)) + " has an empty key"}
		}
		dup := func(bit int) error {
			if seen&bit != 0 {
				return &headerError{"duplicate " + k}
			}
			seen |= bit
			return nil
		}
		switch {
		case strings.EqualFold(k, "Root"):
			if err := dup(seenRoot); err != nil {
				return TraceHeader{}, err
			}
			id, ok := normTraceID(v)
			if !ok {
				return TraceHeader{}, &headerError{"Root " + strconv.Quote(clip(v)) + " is not a trace id (1-<8 hex>-<24 hex>)"}
			}
			h.Root = id
		case strings.EqualFold(k, "Parent"):
			if err := dup(seenParent); err != nil {
				return TraceHeader{}, err
			}
			id, ok := normID(v)
			if !ok {
				return TraceHeader{}, &headerError{"Parent " + strconv.Quote(clip(v)) + " is not 16 hex digits"}
			}
			h.Parent = id
		case strings.EqualFold(k, "Sampled"):
			if err := dup(seenSampled); err != nil {
				return TraceHeader{}, err
			}
			if len(v) != 1 || (v[0] != '0' && v[0] != '1' && v[0] != '?') {
				return TraceHeader{}, &headerError{"Sampled " + strconv.Quote(clip(v)) + " is not 1, 0 or ?"}
			}
			h.Sampled = v[0]
		case strings.EqualFold(k, "Self"):
		case strings.EqualFold(k, "Lineage"):
			if err := dup(seenLineage); err != nil {
				return TraceHeader{}, err
			}
			if v == "" {
				return TraceHeader{}, &headerError{"empty Lineage"}
			}
			h.Lineage = v
		default:
			h.Extra = append(h.Extra, [2]string{k, v})
		}
	}
	return h, nil
}

// String formats the header as Root=…;Parent=…;Sampled=…;Lineage=…;k=v…,
// leaving out absent parts. ParseTraceHeader(h.String()) returns h.
func (h TraceHeader) String() string {
	var b strings.Builder
	n := 0
	add := func(k, v string) {
		if n > 0 {
			b.WriteByte(';')
		}
		n++
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(v)
	}
	if h.Root != "" {
		add("Root", h.Root)
	}
	if h.Parent != "" {
		add("Parent", h.Parent)
	}
	if h.Sampled != 0 {
		add("Sampled", string(h.Sampled))
	}
	if h.Lineage != "" {
		add("Lineage", h.Lineage)
	}
	for _, kv := range h.Extra {
		add(kv[0], kv[1])
	}
	return b.String()
}
