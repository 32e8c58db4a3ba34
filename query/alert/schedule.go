package alert

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/fluoro/fluoro/schema/chstore"
)

// runScheduler evaluates threshold rules when due (at most
// MaxConcurrentQueries at once) and runs the notification tick.
func (e *Engine) runScheduler(ctx context.Context) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	sem := make(chan struct{}, e.cfg.MaxConcurrentQueries)
	var wg sync.WaitGroup
	defer wg.Wait()
	var lastReconcile time.Time
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
				ent.running, ent.nextEval = true, now.Add(r.Interval.D())
				due = append(due, *r)
			}
			e.mu.Unlock()
			for _, r := range due {
				wg.Add(1)
				go func() {
					defer wg.Done()
					select {
					case sem <- struct{}{}:
					case <-ctx.Done():
						e.applyResult(r.ID, chstore.AlertResult{}, ctx.Err(), time.Now(), 0)
						return
					}
					defer func() { <-sem }()
					e.evaluate(ctx, r)
				}()
			}
			if now.Sub(lastReconcile) >= 250*time.Millisecond {
				lastReconcile = now
				e.reconcileAll(now)
			}
		}
	}
}

// evaluate runs one threshold rule in ClickHouse over [now-window, now).
func (e *Engine) evaluate(ctx context.Context, r Rule) {
	start := time.Now()
	q, err := e.buildQuery(ctx, &r, start)
	var res chstore.AlertResult
	if err == nil {
		timeout := min(max(r.Interval.D(), 5*time.Second), time.Minute)
		qctx, cancel := context.WithTimeout(ctx, timeout)
		res, err = e.query(qctx, q)
		cancel()
	}
	took := time.Since(start)
	e.m.evaluations.Inc()
	e.m.evalSeconds.Update(took.Seconds())
	if err != nil {
		e.m.evalErrors.Inc()
		err = fmt.Errorf("evaluate: %w", err)
	}
	e.applyResult(r.ID, res, err, start, took)
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
	having := func(x string) (string, []any, error) {
		if x == "" {
			return "", nil, nil
		}
		fx, err := e.compile(ctx, x, groups)
		if err != nil || fx == nil {
			return "", nil, err
		}
		h, args, err := fx.SQL()
		if err != nil {
			return "", nil, fmt.Errorf("filter expression %q: %w", x, err)
		}
		return h, args, nil
	}
	switch c.Kind {
	case KindCount:
		q.Having, q.HavingArgs, err = having(expr)
	case KindRatio:
		if q.Having, q.HavingArgs, err = having(andExpr(expr, c.nodeExpr(false))); err == nil {
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
