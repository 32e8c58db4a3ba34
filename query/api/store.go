package api

import (
	"time"

	"github.com/fluoro/fluoro/collector/segment"
)

// The types below mirror the schema/chstore contract of the helper brief
// until schema/chstore lands; they then become aliases of chstore's types
// (storedDocument = chstore.StoredDocument, …) so that *chstore.Store
// satisfies TraceReader.

// storedDocument is the newest stored version of one top-level document.
type storedDocument struct {
	TraceID, ID, ParentID string
	Kind                  segment.Kind
	InProgress            bool
	StartTime, EndTime    float64
	Raw                   []byte
}

// traceQuery selects traces for GetTraceSummaries.
type traceQuery struct {
	Start, End time.Time
	RangeType  string
	Having     string
	HavingArgs []any
	Limit      int
	Cursor     string
}

// traceRef is one trace selected by a traceQuery.
type traceRef struct {
	TraceID string
	Time    time.Time
}
