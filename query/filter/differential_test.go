package filter

import (
	"slices"
	"sort"
	"testing"

	"github.com/fluoro/fluoro/collector/segment"
)

// sqlQuerier runs `SELECT trace_id FROM spans FINAL WHERE trace_id IN (…)
// GROUP BY trace_id HAVING <having>` over the stored corpus; with a where
// (a Prefilter) it keeps only the traces with a spans row satisfying it.
type sqlQuerier func(having string, args []any, where string, whereArgs []any) ([]string, error)

// checkDifferential requires that Match and the SQL back-end select the
// same traces for every expression (for NeedsMatch expressions: that SQL's
// candidates contain every match), and that SQL with the expression's
// Prefilter selects exactly what it selects without. It returns the matched
// sets by expression.
func checkDifferential(t *testing.T, corpus []corpusTrace, exprs []string, query sqlQuerier) map[string][]string {
	t.Helper()
	all := make(map[string]bool, len(corpus))
	for _, c := range corpus {
		all[c.id] = true
	}
	results := make(map[string][]string, len(exprs))
	nontrivial, prefiltered, looked, needy := 0, 0, 0, 0
	for _, s := range exprs {
		e, err := Parse(s)
		if err != nil {
			t.Errorf("Parse(%q): %v", s, err)
			continue
		}
		var want []string
		for _, c := range corpus {
			if e.Match(c.spans()) {
				want = append(want, c.id)
			}
		}
		sort.Strings(want)
		results[s] = want
		if vals, ok := e.AnnotationLookup(); ok {
			looked++
			for _, c := range corpus {
				if e.Match(c.spans()) && !carriesAny(c.spans(), vals) {
					t.Errorf("%q: Match selects %s, which carries none of its AnnotationLookup %v", s, c.id, vals)
				}
			}
		}
		if ns := e.SpanNeeds(); len(ns) > 0 {
			needy++
			for _, c := range corpus {
				if !e.Match(c.spans()) {
					continue
				}
				for _, n := range ns {
					if !meets(c.spans(), n) {
						t.Errorf("%q: Match selects %s, which does not meet its SpanNeeds condition %+v", s, c.id, n)
					}
				}
			}
		}
		if len(want) > 0 && len(want) < len(corpus) {
			nontrivial++
		}
		having, args, err := e.SQL()
		if err != nil {
			t.Errorf("SQL(%q): %v", s, err)
			continue
		}
		got, err := query(having, args, "", nil)
		if err != nil {
			t.Errorf("query for %q: %v\nHAVING %s\nargs %q", s, err, having, args)
			continue
		}
		sort.Strings(got)
		if where, wargs, ok := e.Prefilter(); ok {
			prefiltered++
			pre, err := query(having, args, where, wargs)
			if err != nil {
				t.Errorf("query for %q with its prefilter: %v\nWHERE %s\nargs %q", s, err, where, wargs)
				continue
			}
			sort.Strings(pre)
			if !slices.Equal(pre, got) {
				t.Errorf("%q: the prefilter changes the result: %d traces with it, %d without; lost: %v; gained: %v\nWHERE %s\nargs %q",
					s, len(pre), len(got), head(diff(got, pre)), head(diff(pre, got)), where, wargs)
			}
		}
		for _, id := range got {
			if !all[id] {
				t.Errorf("%q: SQL returned unknown trace %s", s, id)
			}
		}
		if e.NeedsMatch() {
			for _, id := range want {
				if _, found := slices.BinarySearch(got, id); !found {
					t.Errorf("%q: Match selects %s but the SQL candidates miss it\nHAVING %s", s, id, having)
				}
			}
			continue
		}
		if !slices.Equal(got, want) {
			onlySQL, onlyMatch := diff(got, want), diff(want, got)
			t.Errorf("%q: back-ends disagree: %d by SQL, %d by Match; only SQL: %v; only Match: %v\nHAVING %s\nargs %q",
				s, len(got), len(want), head(onlySQL), head(onlyMatch), having, args)
		}
	}
	if prefiltered*4 < len(exprs) {
		t.Errorf("only %d of %d expressions have a prefilter; the differential test hardly covers Prefilter", prefiltered, len(exprs))
	}
	if needy < 40 {
		t.Errorf("only %d of %d expressions have SpanNeeds; the differential test hardly covers it", needy, len(exprs))
	}
	if looked < 10 {
		t.Errorf("only %d of %d expressions have an AnnotationLookup; the differential test hardly covers it", looked, len(exprs))
	}
	if nontrivial*10 < len(exprs)*8 {
		t.Errorf("only %d of %d expressions select a proper, non-empty subset of the corpus; the corpus is too uniform", nontrivial, len(exprs))
	}
	return results
}

func diff(a, b []string) []string {
	var out []string
	for _, x := range a {
		if _, found := slices.BinarySearch(b, x); !found {
			out = append(out, x)
		}
	}
	return out
}

func head(xs []string) []string {
	if len(xs) > 5 {
		return xs[:5]
	}
	return xs
}

// testCorpus is the generated corpus plus the hand-built traces.
func testCorpus() (corpus []corpusTrace, hand map[string]corpusTrace) {
	corpus = genCorpus(1, 240)
	hand = handTraces()
	names := make([]string, 0, len(hand))
	for n := range hand {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		corpus = append(corpus, hand[n])
	}
	return corpus, hand
}

// testExprs is diffExprs plus the hand-checked expressions.
func testExprs() []string {
	out := slices.Clone(diffExprs)
	hand := make([]string, 0, len(handExpect))
	for s := range handExpect {
		hand = append(hand, s)
	}
	sort.Strings(hand)
	return append(out, hand...)
}

// checkHandExpect requires that results restricted to the hand traces equal handExpect.
func checkHandExpect(t *testing.T, hand map[string]corpusTrace, results map[string][]string) {
	t.Helper()
	handSet := map[string]bool{}
	for _, c := range hand {
		handSet[c.id] = true
	}
	for s, names := range handExpect {
		var got []string
		for _, id := range results[s] {
			if handSet[id] {
				got = append(got, id)
			}
		}
		if want := handIDs(hand, names); !slices.Equal(got, want) {
			t.Errorf("%s: selected %v among the hand traces, want %v (%v)", s, got, want, names)
		}
	}
}

// carriesAny reports whether a span carries one of the string annotations.
// meets reports whether some span of spans meets n.
func meets(spans []segment.Span, n Need) bool {
	for i := range spans {
		sp := &spans[i]
		has := func(v AnnotationValue) bool {
			for j, k := range sp.AnnStrKeys {
				if k == v.Key && sp.AnnStrValues[j] == v.Value {
					return true
				}
			}
			return false
		}
		if n.MetBy(ClassOf(sp), has) {
			return true
		}
	}
	return false
}

func carriesAny(spans []segment.Span, vals []AnnotationValue) bool {
	for _, sp := range spans {
		for i, k := range sp.AnnStrKeys {
			for _, v := range vals {
				if k == v.Key && sp.AnnStrValues[i] == v.Value {
					return true
				}
			}
		}
	}
	return false
}
