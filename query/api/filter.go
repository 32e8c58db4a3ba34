package api

import "strings"

// compileFilter turns a GetTraceSummaries FilterExpression into the
// trace-level HAVING condition of the storage query (query/filter's SQL
// back-end). Until that back-end is available every expression is
// rejected: a filter is never ignored.
func compileFilter(expr string) (having string, args []any, err error) {
	return "", nil, invalidRequest("FilterExpression %q is not supported by this Fluoro version yet; repeat the request without FilterExpression", strings.TrimSpace(expr))
}
