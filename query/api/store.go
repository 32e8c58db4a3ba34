package api

import "github.com/fluoro/fluoro/schema/chstore"

// The storage types of TraceReader are schema/chstore's, so that
// *chstore.Store satisfies it; the short names keep the API code readable.
type (
	storedDocument = chstore.StoredDocument
	traceQuery     = chstore.TraceQuery
	traceRef       = chstore.TraceRef
)
