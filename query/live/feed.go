package live

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/fluoro/fluoro/collector/segment"
	"github.com/fluoro/fluoro/query/xraytrace"
)

// FeedConfig tunes the feed.
type FeedConfig struct {
	// Settle is how long a trace must be quiet before its summary is
	// published, so that late subsegments count.
	Settle time.Duration
	// MaxWait bounds how long a busy trace waits for quiet.
	MaxWait time.Duration
	// MaxPending bounds the traces held at once; more are dropped and counted.
	MaxPending int
	// Queue is how many batches may wait for the feed goroutine.
	Queue int
}

// DefaultFeedConfig returns the defaults: a trace is published 400 ms after
// its last stored document (at most 1 s after its first). With the
// collector's batch wait (1 s) that keeps segment-to-screen under the
// dashboard's 2-second promise; a subsegment arriving later publishes the
// trace again with a higher Revision.
func DefaultFeedConfig() FeedConfig {
	return FeedConfig{Settle: 400 * time.Millisecond, MaxWait: time.Second, MaxPending: 50000, Queue: 256}
}

// TraceUpdate is what the feed knows of one settled trace: its summary and
// the spans that arrived for it, for in-memory filter evaluation.
type TraceUpdate struct {
	Summary xraytrace.Summary
	Spans   []segment.Span
}

// GraphSink receives every settled trace (for example to build service-graph
// deltas or evaluate alert rules). It must not block.
type GraphSink func(u *TraceUpdate)

// Feed turns ingested documents into live trace summaries.
type Feed struct {
	cfg   FeedConfig
	hub   *Hub
	log   *slog.Logger
	extra []GraphSink
	in    chan []segment.Document

	dropped atomic.Int64
}

// NewFeed returns a feed publishing to hub; extra sinks also receive every
// settled trace.
func NewFeed(cfg FeedConfig, hub *Hub, log *slog.Logger, extra ...GraphSink) *Feed {
	d := DefaultFeedConfig()
	if cfg.Settle <= 0 {
		cfg.Settle = d.Settle
	}
	if cfg.MaxWait < cfg.Settle {
		cfg.MaxWait = cfg.Settle + d.MaxWait - d.Settle
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = d.MaxPending
	}
	if cfg.Queue <= 0 {
		cfg.Queue = d.Queue
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Feed{cfg: cfg, hub: hub, log: log.With("component", "live-feed"), extra: extra, in: make(chan []segment.Document, cfg.Queue)}
}

// Dropped is how many documents the feed dropped because it could not keep up.
func (f *Feed) Dropped() int64 { return f.dropped.Load() }

// active reports whether anyone wants the feed's output.
func (f *Feed) active() bool {
	if len(f.extra) > 0 {
		return true
	}
	f.hub.mu.RLock()
	n := len(f.hub.clients)
	f.hub.mu.RUnlock()
	return n > 0
}

// WriteDocuments takes a copy of docs for the live view. It never blocks and
// never fails: when the feed is behind, the batch is dropped and counted.
// It satisfies collector.Sink.
func (f *Feed) WriteDocuments(_ context.Context, docs []segment.Document) error {
	if len(docs) == 0 || !f.active() {
		return nil
	}
	cp := make([]segment.Document, len(docs))
	for i := range docs {
		cp[i] = copyDocument(&docs[i])
	}
	select {
	case f.in <- cp:
	default:
		f.dropped.Add(int64(len(docs)))
	}
	return nil
}

// copyDocument deep-copies what the feed keeps: the caller reuses its
// documents' buffers once WriteDocuments returns.
func copyDocument(d *segment.Document) segment.Document {
	c := *d
	c.Raw = append([]byte(nil), d.Raw...)
	c.Spans = make([]segment.Span, len(d.Spans))
	for i := range d.Spans {
		s := d.Spans[i]
		s.AnnStrKeys = append([]string(nil), s.AnnStrKeys...)
		s.AnnStrValues = append([]string(nil), s.AnnStrValues...)
		s.AnnNumKeys = append([]string(nil), s.AnnNumKeys...)
		s.AnnNumValues = append([]float64(nil), s.AnnNumValues...)
		s.AnnBoolKeys = append([]string(nil), s.AnnBoolKeys...)
		s.AnnBoolValues = append([]bool(nil), s.AnnBoolValues...)
		c.Spans[i] = s
	}
	return c
}

type pendingTrace struct {
	docs        []xraytrace.Doc
	spans       []segment.Span
	first, last time.Time
}

// Run assembles and publishes settled traces until ctx is done.
func (f *Feed) Run(ctx context.Context) error {
	tick := time.NewTicker(f.cfg.Settle / 4)
	defer tick.Stop()
	pending := map[string]*pendingTrace{}
	for {
		select {
		case <-ctx.Done():
			return nil
		case batch := <-f.in:
			now := time.Now()
			for i := range batch {
				d := &batch[i]
				p := pending[d.TraceID]
				if p == nil {
					if len(pending) >= f.cfg.MaxPending {
						f.dropped.Add(1)
						continue
					}
					p = &pendingTrace{first: now}
					pending[d.TraceID] = p
				}
				p.last = now
				p.docs = append(p.docs, xraytrace.Doc{ID: d.ID, ParentID: d.ParentID, Kind: d.Kind, InProgress: d.InProgress, StartTime: d.StartTime, EndTime: d.EndTime, Raw: d.Raw})
				p.spans = append(p.spans, d.Spans...)
			}
		case now := <-tick.C:
			for id, p := range pending {
				if now.Sub(p.last) < f.cfg.Settle && now.Sub(p.first) < f.cfg.MaxWait {
					continue
				}
				delete(pending, id)
				f.publish(id, p)
			}
		}
	}
}

func (f *Feed) publish(traceID string, p *pendingTrace) {
	u := &TraceUpdate{Summary: xraytrace.Assemble(traceID, p.docs).Summary(), Spans: p.spans}
	if err := f.hub.Publish(TypeTraceSummary, u.Summary, u, ""); err != nil {
		f.log.Warn("publish trace summary", "err", err)
	}
	for _, s := range f.extra {
		s(u)
	}
}
