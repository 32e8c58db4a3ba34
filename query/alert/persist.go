package alert

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/fluoro/fluoro/schema/chstore"
)

// logFlushEvery is how many flush intervals history and deliveries wait
// between writes (state is written every interval: it holds the outbox
// that makes a restart deliver nothing twice). Each write is an insert per
// table; during an incident they would otherwise come every interval.
const logFlushEvery = 4

// runFlusher writes state every FlushInterval, and history and deliveries
// every logFlushEvery intervals, until ctx is done (Run does the final
// flush of everything).
func (e *Engine) runFlusher(ctx context.Context) {
	t := time.NewTicker(e.cfg.FlushInterval)
	defer t.Stop()
	var (
		lastLog time.Time
		ticks   int
	)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			ticks++
			if err := e.flushSome(ctx, ticks%logFlushEvery == 0); err != nil && ctx.Err() == nil {
				e.m.persistErrors.Inc()
				if time.Since(lastLog) > 30*time.Second {
					lastLog = time.Now()
					e.log.Warn("alerting: cannot store alert state; retrying", "err", err)
				}
			}
		}
	}
}

// flush writes what changed since the last flush; on failure it is kept
// for the next one.
func (e *Engine) flush(ctx context.Context) error { return e.flushSome(ctx, true) }

// flushSome is flush, history and deliveries only when logs is true.
func (e *Engine) flushSome(ctx context.Context, logs bool) error {
	e.flushMu.Lock()
	defer e.flushMu.Unlock()
	e.mu.Lock()
	var recs []chstore.AlertStateRecord
	// Tombstones first: a rule deleted and re-created before this flush
	// gets its new state after the tombstone (higher version).
	for id := range e.deleted {
		recs = append(recs, chstore.AlertStateRecord{RuleID: id, Deleted: true})
	}
	for id := range e.dirty {
		st := e.states[id]
		if st == nil {
			continue
		}
		body, err := json.Marshal(st)
		if err != nil {
			e.mu.Unlock()
			return fmt.Errorf("BUG: encode alert state: %w", err)
		}
		recs = append(recs, chstore.AlertStateRecord{RuleID: id, EpisodeID: st.EpisodeID, State: st.State, Body: body})
	}
	dirty, deleted := e.dirty, e.deleted
	e.dirty, e.deleted = map[string]bool{}, map[string]bool{}
	var events []chstore.AlertEvent
	var ds []chstore.AlertDelivery
	if logs || len(e.events)+len(e.deliveries) >= maxBuffered/10 {
		events, ds = e.events, e.deliveries
		e.events, e.deliveries = nil, nil
	}
	e.mu.Unlock()

	var errs []error
	if err := e.store.PutAlertStates(ctx, recs); err != nil {
		errs = append(errs, err)
		e.mu.Lock()
		for id := range deleted {
			if e.rules[id] == nil {
				e.deleted[id] = true
			}
		}
		for id := range dirty {
			e.dirty[id] = true
		}
		e.mu.Unlock()
	}
	if err := e.store.AppendAlertEvents(ctx, events); err != nil {
		errs = append(errs, err)
		e.mu.Lock()
		e.events = append(events, e.events...)
		if over := len(e.events) - maxBuffered; over > 0 {
			e.events = e.events[over:]
		}
		e.mu.Unlock()
	}
	if err := e.store.AppendAlertDeliveries(ctx, ds); err != nil {
		errs = append(errs, err)
		e.mu.Lock()
		e.deliveries = append(ds, e.deliveries...)
		if over := len(e.deliveries) - maxBuffered; over > 0 {
			e.deliveries = e.deliveries[over:]
		}
		e.mu.Unlock()
	}
	return errors.Join(errs...)
}
