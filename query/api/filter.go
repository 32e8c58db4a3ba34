package api

import (
	"math"
	"strings"
	"time"

	"github.com/fluoro/fluoro/collector/segment"
	"github.com/fluoro/fluoro/query/filter"
	"github.com/fluoro/fluoro/schema/chstore"
)

// compiledFilter is a FilterExpression ready for the storage query.
type compiledFilter struct {
	having string
	args   []any
	// where is the row-level prefilter of having (filter.Expr.Prefilter),
	// "" when the expression has none.
	where     string
	whereArgs []any
	// confirm, when set, must accept each candidate trace: the HAVING
	// condition is only a necessary one (root-cause predicates).
	confirm *filter.Expr
	// expr is the whole expression (Match), lookup its annotation values
	// for the annotation index (filter.Expr.AnnotationLookup), nil when
	// it has none.
	expr   *filter.Expr
	lookup []chstore.Annotation
}

// compileFilter turns a GetTraceSummaries FilterExpression into the
// trace-level HAVING condition of the storage query (query/filter's SQL
// back-end). group.name / group.arn predicates are bound to the groups'
// expressions through groups (Server.groupLookup). Expressions it cannot
// parse, resolve or translate are rejected with InvalidRequestException: a
// filter is never ignored.
func compileFilter(expr string, groups func(filter.GroupRef) (string, error)) (compiledFilter, error) {
	e, err := filter.Parse(expr)
	if err != nil {
		return compiledFilter{}, filterError("FilterExpression", expr, err)
	}
	if len(e.Groups()) > 0 {
		if e, err = e.ResolveGroups(groups); err != nil {
			return compiledFilter{}, filterError("FilterExpression", expr, err)
		}
	}
	having, args, err := e.SQL()
	if err != nil {
		return compiledFilter{}, invalidRequest("FilterExpression %q is not supported: %v", expr, err)
	}
	c := compiledFilter{having: having, args: args, expr: e}
	if vals, ok := e.AnnotationLookup(); ok {
		for _, v := range vals {
			c.lookup = append(c.lookup, chstore.Annotation{Key: v.Key, Value: v.Value})
		}
	}
	if w, wargs, ok := e.Prefilter(); ok {
		c.where, c.whereArgs = w, wargs
	}
	if e.NeedsMatch() {
		c.confirm = e
	}
	return c, nil
}

// pointAt shows expr with a marker at byte offset pos, e.g.
// `service("a") {{ fault` → `service("a") {⟨here⟩{ fault`.
func pointAt(expr string, pos int) string {
	pos = max(0, min(pos, len(expr)))
	return "`" + expr[:pos] + "⟨here⟩" + expr[pos:] + "`"
}

// spanDecoder re-decodes stored documents into spans for filter.Match. The
// documents passed validation at ingest; the limits here only keep the
// decoder from rejecting them now (old times, documents near the size cap).
type spanDecoder struct {
	dec  *segment.Decoder
	docs []segment.Document
}

func newSpanDecoder() *spanDecoder {
	l := segment.DefaultLimits()
	l.MaxDocumentBytes = math.MaxInt32
	l.MaxFutureSkew = 100 * 365 * 24 * time.Hour
	return &spanDecoder{dec: segment.NewDecoder(l)}
}

// spans returns the spans of one trace's stored documents and how many
// documents no longer decode (they are left out).
func (d *spanDecoder) spans(docs []storedDocument) (spans []segment.Span, failed int) {
	d.docs = d.docs[:0]
	for _, sd := range docs {
		var err error
		if d.docs, err = d.dec.Decode(sd.Raw, 0, d.docs); err != nil {
			failed++
		}
	}
	for _, doc := range d.docs {
		for _, sp := range doc.Spans {
			if sp.TraceID == "" {
				sp.TraceID = strings.ToLower(doc.TraceID)
			}
			spans = append(spans, sp)
		}
	}
	return spans, failed
}
