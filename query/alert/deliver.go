package alert

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/fluoro/fluoro/schema/chstore"
)

// outboxJob is one notification for one receiver.
type outboxJob struct {
	ruleID, receiver string
	n                *Notification
}

// deliverer sends the notifications of one receiver, in order, retrying
// failures with exponential back-off. A slow or failing receiver delays
// only its own queue.
type deliverer struct {
	e      *Engine
	rc     *Receiver
	notify NotifyFunc
	jobs   chan *outboxJob
}

// enqueue hands j to its receiver's queue; a full queue drops it
// (recorded as outcome "dropped").
func (e *Engine) enqueue(j *outboxJob) {
	d := e.deliverers[j.receiver]
	if d == nil {
		e.deliveryDone(j)
		return
	}
	select {
	case d.jobs <- j:
	default:
		e.m.deliveryDropped.Inc()
		e.recordDelivery(chstore.AlertDelivery{Time: time.Now(), NotificationID: j.n.ID, RuleID: j.ruleID, EpisodeID: j.n.Alert.ID,
			Receiver: j.receiver, ReceiverType: d.rc.Type, State: j.n.State, Outcome: "dropped",
			Error: "the receiver's queue is full (it is slow or down); notification dropped"})
		e.deliveryDone(j)
	}
}

// run delivers until stop is done, then delivers what is queued (abort
// cuts that short; undelivered notifications stay in the outbox).
func (d *deliverer) run(stop, abort context.Context) {
	for {
		select {
		case j := <-d.jobs:
			d.deliver(abort, j)
		case <-stop.Done():
			for {
				select {
				case j := <-d.jobs:
					if abort.Err() != nil {
						return
					}
					d.deliver(abort, j)
				default:
					return
				}
			}
		}
	}
}

// deliver tries j up to MaxAttempts times and records every attempt.
func (d *deliverer) deliver(ctx context.Context, j *outboxJob) {
	e := d.e
	attempts := d.rc.MaxAttempts
	if attempts <= 0 {
		attempts = e.cfg.NotifyAttempts
	}
	timeout := d.rc.Timeout.D()
	if timeout <= 0 {
		timeout = e.cfg.NotifyTimeout
	}
	backoff := e.cfg.NotifyBackoff
	for a := 1; a <= attempts; a++ {
		actx, cancel := context.WithTimeout(ctx, timeout)
		start := time.Now()
		status, err := d.notify(actx, d.rc, j.n)
		took := time.Since(start)
		cancel()
		if err != nil && errors.Is(actx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
			err = errors.Join(err, errors.New("timed out after "+timeout.String()))
		}
		rec := chstore.AlertDelivery{Time: start, NotificationID: j.n.ID, RuleID: j.ruleID, EpisodeID: j.n.Alert.ID,
			Receiver: d.rc.Name, ReceiverType: d.rc.Type, State: j.n.State, Attempt: a, HTTPStatus: status, Duration: took}
		switch {
		case err == nil:
			rec.Outcome = "delivered"
			e.m.delivered.Inc()
		case ctx.Err() != nil:
			// Shutting down: the notification stays in the outbox and is
			// delivered after the next start.
			rec.Outcome, rec.Error = "failed", err.Error()+" (shutting down; delivered after restart)"
			e.m.deliveryFailed.Inc()
			e.recordDelivery(rec)
			return
		case a == attempts:
			rec.Outcome, rec.Error = "gave_up", err.Error()
			e.m.deliveryFailed.Inc()
		default:
			rec.Outcome, rec.Error = "failed", err.Error()
			e.m.deliveryFailed.Inc()
		}
		e.recordDelivery(rec)
		if err == nil || a == attempts {
			if err != nil {
				e.log.Warn("alert notification not delivered", "receiver", d.rc.Name, "rule", j.ruleID, "attempts", attempts, "err", err)
			}
			e.deliveryDone(j)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Minute)
	}
}

func (e *Engine) recordDelivery(d chstore.AlertDelivery) {
	e.mu.Lock()
	e.recordDeliveryLocked(d)
	e.mu.Unlock()
}

func (e *Engine) recordDeliveryLocked(d chstore.AlertDelivery) {
	if len(e.deliveries) < maxBuffered {
		e.deliveries = append(e.deliveries, d)
	} else {
		e.m.persistErrors.Inc()
	}
}

// deliveryDone removes j's receiver from the outbox of j's rule.
func (e *Engine) deliveryDone(j *outboxJob) {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := e.states[j.ruleID]
	if st == nil {
		return
	}
	for i, it := range st.Outbox {
		if it.N.ID != j.n.ID {
			continue
		}
		it.Pending = slices.DeleteFunc(it.Pending, func(r string) bool { return r == j.receiver })
		if len(it.Pending) == 0 {
			st.Outbox = slices.Delete(st.Outbox, i, i+1)
		}
		e.dirty[j.ruleID] = true
		return
	}
}
