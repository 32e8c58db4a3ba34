package asyncq

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
)

// BenchmarkEnqueue measures durable (fsynced) enqueues of 1 KiB events by
// one caller and by parallel callers, which share fsyncs.
func BenchmarkEnqueue(b *testing.B) {
	payload := make([]byte, 1024)
	for _, parallel := range []bool{false, true} {
		b.Run(fmt.Sprintf("parallel=%v", parallel), func(b *testing.B) {
			q, err := Open(b.TempDir(), DefaultConfig(), Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer q.Close()
			var n atomic.Int64
			b.ReportAllocs()
			b.SetBytes(int64(len(payload)))
			if !parallel {
				for b.Loop() {
					if err := q.Enqueue(context.Background(), Event{ID: fmt.Sprint(n.Add(1)), Function: "fn", Payload: payload}); err != nil {
						b.Fatal(err)
					}
				}
			} else {
				b.SetParallelism(16)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := q.Enqueue(context.Background(), Event{ID: fmt.Sprint(n.Add(1)), Function: "fn", Payload: payload}); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			b.ReportMetric(float64(q.Stats().Fsyncs)/float64(n.Load()), "fsyncs/event")
		})
	}
}
