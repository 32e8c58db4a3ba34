package segment

import "time"

// Limits bound what a Decoder accepts. The zero value of a field means "use
// the default" (see DefaultLimits).
type Limits struct {
	// MaxDocumentBytes bounds a body (and therefore each document in it).
	// X-Ray's limit is 64 KiB.
	MaxDocumentBytes int
	// MaxDepth bounds JSON nesting (objects and arrays) inside a document;
	// one level of embedded subsegments costs two (the array and the object).
	MaxDepth int
	// MaxAnnotations bounds the annotations of one document, all spans
	// together.
	MaxAnnotations int
	// MaxSubsegments bounds the embedded subsegments of one document.
	MaxSubsegments int
	// MaxNameLength bounds a name in characters (X-Ray: 200).
	MaxNameLength int
	// StrictNames restricts names to X-Ray's documented character set
	// (letters, digits, whitespace and _ . : / % & # = + \ - @). By default
	// any printable character is accepted; control characters and invalid
	// UTF-8 are always rejected.
	StrictNames bool
	// MaxFutureSkew is how far after Now a start or end time may lie.
	MaxFutureSkew time.Duration
	// Now returns the current time for the future-skew check (time.Now when
	// nil).
	Now func() time.Time
}

// Default limits.
const (
	DefaultMaxDocumentBytes = 64 << 10
	DefaultMaxDepth         = 128
	DefaultMaxAnnotations   = 1000
	DefaultMaxSubsegments   = 5000
	DefaultMaxNameLength    = 200
	DefaultMaxFutureSkew    = time.Hour
)

// minTime is the earliest start or end time accepted: 2010-01-01T00:00:00Z.
// X-Ray was launched in 2016; anything older is a unit or clock bug.
const minTime = 1262304000

// DefaultLimits returns X-Ray's limits (64 KiB documents, 200-character
// names) plus Fluoro's safety bounds.
func DefaultLimits() Limits {
	return Limits{
		MaxDocumentBytes: DefaultMaxDocumentBytes,
		MaxDepth:         DefaultMaxDepth,
		MaxAnnotations:   DefaultMaxAnnotations,
		MaxSubsegments:   DefaultMaxSubsegments,
		MaxNameLength:    DefaultMaxNameLength,
		MaxFutureSkew:    DefaultMaxFutureSkew,
		Now:              time.Now,
	}
}

// withDefaults fills zero fields from DefaultLimits.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxDocumentBytes <= 0 {
		l.MaxDocumentBytes = d.MaxDocumentBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = d.MaxDepth
	}
	if l.MaxAnnotations <= 0 {
		l.MaxAnnotations = d.MaxAnnotations
	}
	if l.MaxSubsegments <= 0 {
		l.MaxSubsegments = d.MaxSubsegments
	}
	if l.MaxNameLength <= 0 {
		l.MaxNameLength = d.MaxNameLength
	}
	if l.MaxFutureSkew <= 0 {
		l.MaxFutureSkew = d.MaxFutureSkew
	}
	if l.Now == nil {
		l.Now = d.Now
	}
	return l
}
