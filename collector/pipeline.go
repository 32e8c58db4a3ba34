package collector

import (
	"context"
	"errors"
	"time"

	"github.com/fluoro/fluoro/collector/segment"
	"github.com/fluoro/fluoro/collector/spool"
)

// batch is a run of documents in arrival order.
type batch struct {
	docs []segment.Document
	mem  int64 // sum of docMem
}

const (
	// Retry delays after a failed sink write (doubling).
	minBackoff = 250 * time.Millisecond
	maxBackoff = 5 * time.Second
	// maxMergeBatches bounds how many batches the pending slot absorbs
	// while the writer is busy.
	maxMergeBatches = 4
	// replayBytes bounds the raw bytes of one replayed chunk.
	replayBytes = 32 << 20
)

func (c *Collector) newBatch() *batch {
	if b, ok := c.batchPool.Get().(*batch); ok {
		return b
	}
	return &batch{docs: make([]segment.Document, 0, min(c.cfg.BatchSize, 1<<16))}
}

// release returns a batch that was stored, spooled or dropped: its
// documents no longer count against the memory budget.
func (c *Collector) release(b *batch) {
	c.memUsed.Add(-b.mem)
	c.queued.Add(-int64(len(b.docs)))
	clear(b.docs)
	b.docs, b.mem = b.docs[:0], 0
	c.batchPool.Put(b)
}

// batcher moves documents from the queue into batches, flushed when
// BatchSize documents (or a quarter of QueueBytes) are in, or BatchWait
// after the first arrived. When stop
// is closed it drains the queue, pushes the last batch and returns.
func (c *Collector) batcher(stop <-chan struct{}) {
	defer close(c.batcherDone)
	cur := c.newBatch()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	flush := func() {
		timer.Stop()
		if len(cur.docs) == 0 {
			return
		}
		for _, o := range c.observers {
			o.ObserveDocuments(cur.docs)
		}
		c.push(cur)
		cur = c.newBatch()
	}
	add := func(d segment.Document) {
		if len(cur.docs) == 0 {
			timer.Reset(c.cfg.BatchWait)
		}
		cur.docs = append(cur.docs, d)
		cur.mem += docMem(&d)
		if len(cur.docs) >= c.cfg.BatchSize || cur.mem >= c.cfg.QueueBytes/4 {
			flush()
		}
	}
	for {
		select {
		case d := <-c.queue:
			add(d)
		case <-timer.C:
			flush()
		case <-stop:
			for {
				select {
				case d := <-c.queue:
					add(d)
				default:
					flush()
					return
				}
			}
		}
	}
}

// push hands a full batch on, keeping the global order: the in-memory
// pending slot is used only while the spool is empty, and a batch waiting
// there absorbs newer ones up to maxMergeBatches×BatchSize documents while
// the collector holds less than half of QueueBytes (so readers never hit
// the budget while the spool has room); beyond that, or while the spool
// holds data, the pending batch (older) and then b go to the spool's tail.
func (c *Collector) push(b *batch) {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	if c.spool.Len() == 0 {
		if c.pending == nil {
			c.pending = b
			select {
			case c.writerWake <- struct{}{}:
			default:
			}
			return
		}
		// The writer is busy (slow sink): grow the waiting batch instead
		// of spilling, up to a bound. Larger inserts also suit ClickHouse.
		if p := c.pending; len(p.docs)+len(b.docs) <= maxMergeBatches*c.cfg.BatchSize && c.memUsed.Load() <= c.cfg.QueueBytes/2 {
			p.docs = append(p.docs, b.docs...)
			p.mem += b.mem
			clear(b.docs)
			b.docs, b.mem = b.docs[:0], 0
			c.batchPool.Put(b)
			return
		}
	}
	if p := c.pending; p != nil {
		c.pending = nil
		c.toSpool(p, false)
	}
	c.toSpool(b, false)
}

// toSpool writes b to the spool (at the head when front) and releases it.
// Called with pmu held.
func (c *Collector) toSpool(b *batch, front bool) {
	recs := make([]spool.Record, len(b.docs))
	for i := range b.docs {
		recs[i] = spool.Record{ReceivedNanos: b.docs[i].ReceivedNanos, Data: b.docs[i].Raw}
	}
	var err error
	if front {
		err = c.spool.Prepend(recs)
	} else {
		err = c.spool.Append(recs)
	}
	switch {
	case err == nil:
		c.m.spooled.Add(len(recs))
	case errors.Is(err, spool.ErrFull):
		c.m.drop(dropSpoolFull, len(recs))
		c.warn(dropSpoolFull, "spool full while the sink fails: dropping batches", "spool_max_bytes", c.cfg.SpoolMaxBytes)
	default:
		c.m.drop(dropSpoolError, len(recs))
		c.warn(dropSpoolError, "cannot write the spool: dropping batches", "err", err)
	}
	c.release(b)
}

// writer is the only goroutine that calls the sink. It writes the pending
// batch, or else replays the spool's head; after a failure it backs off
// while new batches queue up behind the failed one in the spool.
//
// ctx must not be cancelled before the final flush; the writer returns once
// the batcher is done and the last pending batch is stored or spooled.
func (c *Collector) writer(ctx context.Context) {
	dec := segment.NewDecoder(c.limits)
	var (
		recs      []spool.Record
		rbuf      []byte
		docs      []segment.Document
		backoff   time.Duration
		retryAt   time.Time
		failing   bool
		finishing bool
		timer     = time.NewTimer(time.Hour)
	)
	timer.Stop()
	fail := func(err error, n int) {
		if !failing {
			c.log.Warn("sink write failed; spooling batches until it recovers", "documents", n, "err", err)
		}
		failing = true
		backoff = min(max(2*backoff, c.backoff[0]), c.backoff[1])
		retryAt = time.Now().Add(backoff)
	}
	ok := func() {
		if failing {
			c.log.Info("sink recovered", "spool_records", c.spool.Len())
		}
		failing, backoff, retryAt = false, 0, time.Time{}
	}
	for {
		c.pmu.Lock()
		b := c.pending
		c.pending = nil
		c.pmu.Unlock()
		if b != nil {
			if err := c.write(ctx, b.docs); err != nil {
				fail(err, len(b.docs))
				// b is older than everything spooled since it was taken.
				c.pmu.Lock()
				c.toSpool(b, true)
				if p := c.pending; p != nil {
					c.pending = nil
					c.toSpool(p, false)
				}
				c.pmu.Unlock()
				continue
			}
			c.m.inserted.Add(len(b.docs))
			c.release(b)
			ok()
			continue
		}
		if finishing {
			return
		}
		if c.spool.Len() > 0 && !time.Now().Before(retryAt) {
			var pos spool.Position
			var err error
			recs, rbuf, pos, err = c.spool.Peek(recs, rbuf, c.cfg.BatchSize, replayBytes)
			if err != nil {
				c.warn("spool_read", "cannot read the spool", "err", err)
				fail(err, 0)
				continue
			}
			if len(recs) > 0 {
				docs = c.decodeRecords(dec, recs, docs[:0])
				if err := c.write(ctx, docs); err != nil {
					fail(err, len(docs))
					continue
				}
				if err := c.spool.Commit(pos); err != nil {
					c.warn("spool_commit", "cannot commit the spool; records may be replayed twice", "err", err)
				}
				c.m.inserted.Add(len(docs))
				c.m.replayed.Add(len(docs))
				ok()
				if c.spool.Len() == 0 {
					c.log.Info("spool replayed")
				}
				continue
			}
		}
		var retry <-chan time.Time
		if c.spool.Len() > 0 {
			timer.Reset(max(time.Until(retryAt), time.Millisecond))
			retry = timer.C
		}
		select {
		case <-c.writerWake:
		case <-c.spool.Notify():
		case <-retry:
		case <-c.batcherDone:
			finishing = true
		}
		timer.Stop()
	}
}

// decodeRecords decodes spooled documents; ones that no longer decode are
// dropped and counted.
func (c *Collector) decodeRecords(dec *segment.Decoder, recs []spool.Record, docs []segment.Document) []segment.Document {
	for _, r := range recs {
		var err error
		n := len(docs)
		docs, err = dec.Decode(r.Data, r.ReceivedNanos, docs)
		if err != nil || len(docs) != n+1 {
			c.m.drop(dropReplayInvalid, 1)
			c.warn(dropReplayInvalid, "spooled document no longer decodes", "err", err)
			docs = docs[:n]
		}
	}
	return docs
}

// write calls the sink once with the write timeout.
func (c *Collector) write(ctx context.Context, docs []segment.Document) error {
	if len(docs) == 0 {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, c.cfg.WriteTimeout)
	defer cancel()
	start := time.Now()
	if err := c.sink.WriteDocuments(wctx, docs); err != nil {
		c.m.sinkErrors.Inc()
		return err
	}
	c.m.batchInsert.UpdateDuration(start)
	c.m.batchDocs.Update(float64(len(docs)))
	return nil
}
