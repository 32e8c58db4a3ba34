package segment

import (
	"errors"
	"strconv"
	"strings"
)

// ErrMalformed matches (errors.Is) every *DecodeError: the input was rejected.
var ErrMalformed = errors.New("segment: malformed document")

// Reasons a datagram or document is rejected. They are stable snake_case
// strings, safe to use as metric labels.
const (
	ReasonNotJSON            = "not_json"             // body is not valid JSON (NaN/Infinity included)
	ReasonNotObject          = "not_object"           // body (or an array element) is valid JSON but not an object
	ReasonInvalidHeader      = "invalid_header"       // daemon header line missing or not {"format":"json","version":1}
	ReasonEmptyBody          = "empty_body"           // nothing after the header line, or an empty array
	ReasonTooLarge           = "too_large"            // document above Limits.MaxDocumentBytes, or a possibly truncated datagram
	ReasonTooDeep            = "too_deep"             // JSON nesting above Limits.MaxDepth
	ReasonMissingID          = "missing_id"           // id (or an independent subsegment's parent_id) missing
	ReasonInvalidID          = "invalid_id"           // id or parent_id not 16 hex digits
	ReasonInvalidTraceID     = "invalid_trace_id"     // trace_id missing (top level) or not 1-8hex-24hex
	ReasonInvalidName        = "invalid_name"         // name missing, too long or with forbidden characters
	ReasonInvalidTime        = "invalid_time"         // start/end time missing, not finite, absurd, or end before start
	ReasonInvalidType        = "invalid_type"         // "type" other than "subsegment" (or "segment")
	ReasonInvalidNamespace   = "invalid_namespace"    // namespace other than aws, remote or local
	ReasonInvalidAnnotation  = "invalid_annotation"   // annotations not an object, or a value not string/number/bool
	ReasonTooManyAnnotations = "too_many_annotations" // above Limits.MaxAnnotations in one document
	ReasonTooManySubsegments = "too_many_subsegments" // above Limits.MaxSubsegments in one document
	ReasonInvalidCause       = "invalid_cause"        // cause neither an object nor an exception id string
	ReasonInvalidField       = "invalid_field"        // a known member has the wrong JSON type
)

// Reasons lists every Reason a *DecodeError can carry, for pre-registering
// metrics.
var Reasons = []string{
	ReasonNotJSON, ReasonNotObject, ReasonInvalidHeader, ReasonEmptyBody, ReasonTooLarge, ReasonTooDeep,
	ReasonMissingID, ReasonInvalidID, ReasonInvalidTraceID, ReasonInvalidName, ReasonInvalidTime,
	ReasonInvalidType, ReasonInvalidNamespace, ReasonInvalidAnnotation, ReasonTooManyAnnotations,
	ReasonTooManySubsegments, ReasonInvalidCause, ReasonInvalidField,
}

// codes maps a Reason to the ErrorCode X-Ray puts in UnprocessedTraceSegments.
// MissingId, InvalidName and InvalidTraceId are the codes observed from AWS;
// the others follow the same style.
var codes = map[string]string{
	ReasonNotJSON:            "InvalidJson",
	ReasonNotObject:          "InvalidSegment",
	ReasonInvalidHeader:      "InvalidHeader",
	ReasonEmptyBody:          "MissingSegment",
	ReasonTooLarge:           "SegmentTooLarge",
	ReasonTooDeep:            "SegmentTooDeep",
	ReasonMissingID:          "MissingId",
	ReasonInvalidID:          "InvalidId",
	ReasonInvalidTraceID:     "InvalidTraceId",
	ReasonInvalidName:        "InvalidName",
	ReasonInvalidTime:        "InvalidTime",
	ReasonInvalidType:        "InvalidType",
	ReasonInvalidNamespace:   "InvalidNamespace",
	ReasonInvalidAnnotation:  "InvalidAnnotation",
	ReasonTooManyAnnotations: "TooManyAnnotations",
	ReasonTooManySubsegments: "TooManySubsegments",
	ReasonInvalidCause:       "InvalidCause",
	ReasonInvalidField:       "InvalidSegment",
}

// CodeFor returns the X-Ray ErrorCode for a Reason ("InvalidSegment" for an
// unknown one).
func CodeFor(reason string) string {
	if c, ok := codes[reason]; ok {
		return c
	}
	return "InvalidSegment"
}

// DecodeError describes why a datagram or one document was rejected.
// Every *DecodeError matches errors.Is(err, ErrMalformed).
type DecodeError struct {
	// Reason is a stable snake_case label (the Reason* constants).
	Reason string
	// Code is the X-Ray UnprocessedTraceSegments ErrorCode (MissingId,
	// InvalidName, InvalidTraceId, …).
	Code string
	// ID and TraceID identify the rejected document when they could be read
	// (they may be "" or, for invalid_id/invalid_trace_id, the bad value).
	ID, TraceID string
	// Msg is a human-readable detail.
	Msg string
	// Index is the position of the rejected element when the body is a JSON
	// array, else 0.
	Index int
}

func newError(reason, msg string) *DecodeError {
	return &DecodeError{Reason: reason, Code: CodeFor(reason), Msg: msg}
}

// Error implements error.
func (e *DecodeError) Error() string {
	var b strings.Builder
	b.WriteString("segment: ")
	b.WriteString(e.Reason)
	if e.Msg != "" {
		b.WriteString(": ")
		b.WriteString(e.Msg)
	}
	if e.ID != "" || e.TraceID != "" || e.Index > 0 {
		b.WriteString(" (")
		sep := ""
		if e.Index > 0 {
			b.WriteString("element ")
			b.WriteString(strconv.Itoa(e.Index))
			sep = ", "
		}
		if e.ID != "" {
			b.WriteString(sep + "id " + strconv.Quote(e.ID))
			sep = ", "
		}
		if e.TraceID != "" {
			b.WriteString(sep + "trace " + strconv.Quote(e.TraceID))
		}
		b.WriteString(")")
	}
	return b.String()
}

// Is reports whether target is ErrMalformed.
func (e *DecodeError) Is(target error) bool { return target == ErrMalformed }

// DecodeErrors returns the *DecodeErrors inside err (one, or the elements of
// an errors.Join from an array body), for counting rejections by Reason. It
// returns nil for nil and ignores errors of other types.
func DecodeErrors(err error) []*DecodeError {
	switch e := err.(type) {
	case nil:
		return nil
	case *DecodeError:
		return []*DecodeError{e}
	case interface{ Unwrap() []error }:
		var out []*DecodeError
		for _, x := range e.Unwrap() {
			out = append(out, DecodeErrors(x)...)
		}
		return out
	}
	var de *DecodeError
	if errors.As(err, &de) {
		return []*DecodeError{de}
	}
	return nil
}
