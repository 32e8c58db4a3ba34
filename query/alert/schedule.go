package alert

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/fluoro/fluoro/query/filter"
	"github.com/fluoro/fluoro/schema/chstore"
)

// runScheduler evaluates threshold rules when due and runs the
// notification tick. Evaluation times are aligned to multiples of each
// rule's interval, so rules with the same interval and window are
// evaluated together and share one scan of ClickHouse (see
// chstore.EvaluateAlerts); at most MaxConcurrentQueries batches run at
// once.
func (e *Engine) runScheduler(ctx context.Context) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	sem := make(chan struct{}, e.cfg.MaxConcurrentQueries)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			e.mu.Lock()
			var due []Rule
			for _, ent := range e.rules {
				r := &ent.rule
				if r.Condition.Kind == KindTrace || r.Disabled || ent.running || now.Before(ent.nextEval) {
					continue
				}
				ent.running, ent.nextEval = true, now.Truncate(r.Interval.D()).Add(r.Interval.D())
				due = append(due, *r)
			}
			e.mu.Unlock()
			if len(due) > 0 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					select {
					case sem <- struct{}{}:
					case <-ctx.Done():
						for _, r := range due {
							e.applyResult(r.ID, chstore.AlertResult{}, ctx.Err(), time.Now(), 0)
						}
						return
					}
					defer func() { <-sem }()
					e.evaluate(ctx, due, now)
				}()
			}
			e.reconcileAll(now)
		}
	}
}

// evaluate runs threshold rules in ClickHouse over [now-window, now).
func (e *Engine) evaluate(ctx context.Context, rules []Rule, now time.Time) {
	start := time.Now()
	qs := make([]chstore.AlertQuery, 0, len(rules))
	var idx []int
	errs := make([]error, len(rules))
	timeout := time.Minute
	for i := range rules {
		q, err := e.buildQuery(ctx, &rules[i], now)
		if err != nil {
			errs[i] = err
			continue
		}
		qs, idx = append(qs, q), append(idx, i)
		timeout = min(timeout, max(rules[i].Interval.D(), 5*time.Second))
	}
	results := make([]chstore.AlertResult, len(rules))
	if len(qs) > 0 {
		qctx, cancel := context.WithTimeout(ctx, timeout)
		rs, qerrs := e.query(qctx, qs)
		cancel()
		for j, i := range idx {
			if j < len(rs) {
				results[i] = rs[j]
			}
			if j < len(qerrs) {
				errs[i] = qerrs[j]
			}
		}
	}
	took := time.Since(start)
	e.m.evalSeconds.Update(took.Seconds())
	for i, r := range rules {
		e.m.evaluations.Inc()
		err := errs[i]
		if err != nil {
			e.m.evalErrors.Inc()
			err = fmt.Errorf("evaluate: %w", err)
		}
		e.applyResult(r.ID, results[i], err, now, took)
	}
}

// buildQuery translates a threshold rule into a ClickHouse query (every
// value from the rule is a bound argument of query/filter's SQL).
func (e *Engine) buildQuery(ctx context.Context, r *Rule, now time.Time) (chstore.AlertQuery, error) {
	c := &r.Condition
	q := chstore.AlertQuery{Kind: c.Kind, Start: now.Add(-c.Window.D()), End: now, Samples: e.cfg.Samples}
	groups := map[string]string{}
	expr, err := e.effectiveExpr(ctx, r, groups)
	if err != nil {
		return q, err
	}
	var fx *filter.Expr
	having := func(x string) (string, []any, error) {
		fx = nil
		if x == "" {
			return "", nil, nil
		}
		var err error
		if fx, err = e.compile(ctx, x, groups); err != nil || fx == nil {
			return "", nil, err
		}
		h, args, err := fx.SQL()
		if err != nil {
			return "", nil, fmt.Errorf("filter expression %q: %w", x, err)
		}
		return h, args, nil
	}
	// prefilter sets the row-level necessary condition of the Having just
	// compiled, when it has one.
	prefilter := func() {
		if fx == nil {
			return
		}
		q.Where, q.WhereArgs, _ = fx.Prefilter()
		if vals, ok := fx.AnnotationLookup(); ok {
			for _, v := range vals {
				q.Annotations = append(q.Annotations, chstore.Annotation{Key: v.Key, Value: v.Value})
			}
		}
	}
	switch c.Kind {
	case KindCount:
		if q.Having, q.HavingArgs, err = having(expr); err == nil {
			prefilter()
		}
	case KindRatio:
		if q.Having, q.HavingArgs, err = having(andExpr(expr, c.nodeExpr(false))); err == nil {
			prefilter()
			q.BadHaving, q.BadHavingArgs, err = having(c.nodeExpr(true))
		}
	case KindLatency:
		q.Having, q.HavingArgs, err = having(expr)
		q.Service = c.Service
		q.Quantile = c.Percentile / 100
		q.ThresholdUS = uint64(c.Threshold * 1e6)
	default:
		err = fmt.Errorf("BUG: rule kind %q scheduled", c.Kind)
	}
	return q, err
}

// andExpr joins two filter expressions with AND ("" is true).
func andExpr(a, b string) string {
	if a == "" {
		return b
	}
	return "(" + a + ") AND " + b
}
