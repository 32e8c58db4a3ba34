package xrayemit

import (
	"encoding/json"
	"time"
)

// Origins of the two segments Lambda emits per traced invocation.
const (
	OriginLambda         = "AWS::Lambda"
	OriginLambdaFunction = "AWS::Lambda::Function"
)

// Document is one X-Ray segment or subsegment, reduced to the fields the
// invoker emits. Zero-valued optional fields are omitted on the wire.
type Document struct {
	Name        string      `json:"name"`
	ID          string      `json:"id"`
	TraceID     string      `json:"trace_id,omitempty"` // required on top-level documents
	ParentID    string      `json:"parent_id,omitempty"`
	Type        string      `json:"type,omitempty"` // "subsegment" for independent subsegments
	StartTime   Time        `json:"start_time"`
	EndTime     Time        `json:"end_time,omitzero"`
	InProgress  bool        `json:"in_progress,omitempty"`
	Origin      string      `json:"origin,omitempty"`
	ResourceARN string      `json:"resource_arn,omitempty"`
	Error       bool        `json:"error,omitempty"`
	Fault       bool        `json:"fault,omitempty"`
	Throttle    bool        `json:"throttle,omitempty"`
	Cause       *Cause      `json:"cause,omitempty"`
	HTTP        *HTTP       `json:"http,omitempty"`
	AWS         *AWS        `json:"aws,omitempty"`
	Subsegments []*Document `json:"subsegments,omitempty"`
}

// Time is a point in time encoded as fractional epoch seconds with
// microsecond precision, as X-Ray expects.
type Time time.Time

// MarshalJSON encodes t as epoch seconds with 6 decimals.
func (t Time) MarshalJSON() ([]byte, error) {
	us := time.Time(t).UnixMicro()
	var b [24]byte
	buf := appendFixed6(b[:0], us)
	return buf, nil
}

// IsZero reports whether t is the zero time (used by omitempty).
func (t Time) IsZero() bool { return time.Time(t).IsZero() }

// appendFixed6 appends us/1e6 as a decimal with exactly six fraction digits.
func appendFixed6(dst []byte, us int64) []byte {
	if us < 0 {
		dst = append(dst, '-')
		us = -us
	}
	sec, frac := us/1e6, us%1e6
	dst = appendUint(dst, uint64(sec))
	dst = append(dst, '.')
	var f [6]byte
	for i := 5; i >= 0; i-- {
		f[i] = byte('0' + frac%10)
		frac /= 10
	}
	return append(dst, f[:]...)
}

func appendUint(dst []byte, v uint64) []byte {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	return append(dst, b[i:]...)
}

// HTTP is the http object of a segment (response status only).
type HTTP struct {
	Response *HTTPResponse `json:"response,omitempty"`
}

// HTTPResponse carries the status returned to the caller.
type HTTPResponse struct {
	Status int `json:"status,omitempty"`
}

// AWS is the aws object of the Lambda segments.
type AWS struct {
	RequestID     string   `json:"request_id,omitempty"`
	FunctionARN   string   `json:"function_arn,omitempty"`
	ResourceNames []string `json:"resource_names,omitempty"`
	AccountID     string   `json:"account_id,omitempty"`
}

// Cause is the X-Ray error cause of a failed invocation. It is kept as the
// raw JSON object the runtime supplied when there is one
// (Lambda-Runtime-Function-XRay-Error-Cause), or built from an error type and
// message for platform errors.
type Cause struct {
	Raw json.RawMessage // a validated JSON object; takes precedence
	// Used when Raw is empty:
	WorkingDirectory string
	Exceptions       []Exception
}

// Exception is one entry of a cause's exceptions list.
type Exception struct {
	ID      string `json:"id,omitempty"`
	Type    string `json:"type,omitempty"`
	Message string `json:"message,omitempty"`
}

// MarshalJSON returns Raw when set, else the structured form.
func (c *Cause) MarshalJSON() ([]byte, error) {
	if len(c.Raw) > 0 {
		return c.Raw, nil
	}
	return json.Marshal(struct {
		WorkingDirectory string      `json:"working_directory,omitempty"`
		Exceptions       []Exception `json:"exceptions"`
	}{c.WorkingDirectory, c.Exceptions})
}

// MaxCauseBytes bounds a runtime-supplied cause, as Lambda crops causes to
// 64 KiB.
const MaxCauseBytes = 64 << 10

// RawCause validates a runtime-supplied X-Ray cause (a JSON object such as
// aws-lambda-go's Lambda-Runtime-Function-Xray-Error-Cause header) and
// returns it as a Cause, or nil when it is empty, not a JSON object or larger
// than MaxCauseBytes. The bytes are copied.
func RawCause(b []byte) *Cause {
	if len(b) == 0 || len(b) > MaxCauseBytes {
		return nil
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(b, &probe); err != nil {
		return nil
	}
	return &Cause{Raw: append(json.RawMessage(nil), b...)}
}
