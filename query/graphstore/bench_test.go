package graphstore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/xray"

	"github.com/fluoro/fluoro/collector/segment"
	"github.com/fluoro/fluoro/query/api"
	"github.com/fluoro/fluoro/query/graphstore"
	"github.com/fluoro/fluoro/schema/chstore"
	"github.com/fluoro/fluoro/schema/chtest"
)

// hourGen generates traces of a web shop over one hour: an entry segment
// (3 front services, EC2) calling one of 5 back-end services (a remote
// subsegment answered by the back end's segment, ECS) and a DynamoDB
// table; the back end runs a SQL query or calls a partner API (inferred
// nodes). 5 spans in 2 documents per trace; ~2 % faults, 1 % throttles,
// 3 % client errors; one customer annotation among 5,000 values.
type hourGen struct {
	rng   *rand.Rand
	start time.Time
	step  time.Duration
	n     int
	dec   *segment.Decoder
	buf   []byte
}

var (
	benchFronts   = []string{"web", "api", "mobile-bff"}
	benchBackends = []string{"orders", "users", "catalog", "payments", "inventory"}
	benchTables   = []string{"orders", "sessions", "products", "carts"}
)

func newHourGen(start time.Time, traces int) *hourGen {
	l := segment.DefaultLimits()
	l.Now = func() time.Time { return start.Add(2 * time.Hour) }
	return &hourGen{rng: rand.New(rand.NewPCG(3, 5)), start: start, step: time.Hour / time.Duration(traces), dec: segment.NewDecoder(l)}
}

// next appends the documents of the next trace to dst and returns its id.
func (g *hourGen) next(dst []segment.Document, received int64) ([]segment.Document, string, error) {
	at := g.start.Add(time.Duration(g.n) * g.step)
	n := g.n
	g.n++
	r := g.rng
	trace := fmt.Sprintf("1-%08x-%024x", at.Unix(), uint64(n)<<20|uint64(r.IntN(1<<20)))
	t0 := float64(at.UnixNano()) / 1e9
	front, back := benchFronts[n%3], benchBackends[r.IntN(5)]
	dur := 0.005 + r.ExpFloat64()*0.05
	status, backStatus := 200, 200
	switch x := r.IntN(100); {
	case x < 2:
		status, backStatus = 502, 500
	case x < 3:
		status, backStatus = 429, 429
	case x < 6:
		status, backStatus = 404, 404
	}
	id := func(k int) string { return fmt.Sprintf("%x%015x", k, n) }
	ts := func(x float64) string { return strconv.FormatFloat(t0+x, 'f', 6, 64) }
	g.buf = fmt.Appendf(g.buf[:0], `{"trace_id":%q,"id":%q,"name":%q,"origin":"AWS::EC2::Instance","start_time":%s,"end_time":%s,`+
		`"http":{"request":{"method":"GET","url":"https://%s.example.com/api/%s/%d","client_ip":"10.0.0.%d"},"response":{"status":%d}},`+
		`"annotations":{"customer_id":"c-%d"},"aws":{"xray":{"sdk":"X-Ray for Go","sdk_version":"1.8.5"}},"subsegments":[`+
		`{"id":%q,"name":%q,"namespace":"remote","start_time":%s,"end_time":%s,"http":{"request":{"method":"GET","url":"http://%s.internal/x","traced":true},"response":{"status":%d}}},`+
		`{"id":%q,"name":"DynamoDB","namespace":"aws","start_time":%s,"end_time":%s,"http":{"response":{"status":200}},"aws":{"operation":"GetItem","region":"us-east-1","table_name":%q}}]}`,
		trace, id(1), front, ts(0), ts(dur+0.004), front, back, r.IntN(10000), r.IntN(250), status, r.IntN(5000),
		id(2), back, ts(0.001), ts(0.001+dur), back, backStatus,
		id(3), ts(dur+0.0015), ts(dur+0.0035), benchTables[r.IntN(4)])
	var err error
	if dst, err = g.dec.Decode(g.buf, received, dst); err != nil {
		return dst, "", err
	}
	var sub string
	if r.IntN(2) == 0 {
		sub = fmt.Sprintf(`{"id":%q,"name":"%s@db.internal","namespace":"remote","start_time":%s,"end_time":%s,"sql":{"url":"postgres://db.internal/%s","database_type":"PostgreSQL"}}`,
			id(5), back, ts(0.002), ts(0.002+dur*0.6), back)
	} else {
		sub = fmt.Sprintf(`{"id":%q,"name":"partner.example.net","namespace":"remote","start_time":%s,"end_time":%s,"http":{"request":{"method":"POST","url":"https://partner.example.net/v1"},"response":{"status":200}}}`,
			id(5), ts(0.002), ts(0.002+dur*0.6))
	}
	fault := ""
	if backStatus >= 500 {
		fault = `"fault":true,`
	}
	g.buf = fmt.Appendf(g.buf[:0], `{"trace_id":%q,"id":%q,"parent_id":%q,"name":%q,"origin":"AWS::ECS::Container","start_time":%s,"end_time":%s,%s`+
		`"http":{"request":{"method":"GET","url":"http://%s.internal/x"},"response":{"status":%d}},"subsegments":[%s]}`,
		trace, id(4), id(2), back, ts(0.0015), ts(dur), fault, back, backStatus, sub)
	dst, err = g.dec.Decode(g.buf, received, dst)
	return dst, trace, err
}

// BenchmarkHour loads an hour of traffic (FLUORO_BENCH_TRACES traces,
// default 1,000,000, ≈ 5 spans each, written in batches of 100,000 spans
// like a busy collector) and measures, through the X-Ray API and the AWS
// SDK client, the latency of GetServiceGraph for the hour,
// GetTimeSeriesServiceStatistics of one service, GetTraceSummaries with a
// selective filter and BatchGetTraces of 5 ids: p50 and p95 over the
// iterations of each sub-benchmark. It also reports the load rate and the
// time to compute the hour's rollups once (what the background refresh
// spreads over the hour).
func BenchmarkHour(b *testing.B) {
	traces := 1_000_000
	if v := os.Getenv("FLUORO_BENCH_TRACES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1000 {
			b.Fatalf("FLUORO_BENCH_TRACES=%q: want a number ≥ 1000", v)
		}
		traces = n
	}
	ctx := context.Background()
	db := chtest.New(b)
	store, err := chstore.Open(ctx, db.DSN, chstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	hourStart := time.Now().Add(-3 * time.Hour).Truncate(time.Hour)
	gen := newHourGen(hourStart, traces)

	// Load.
	loadStart := time.Now()
	var (
		docs     []segment.Document
		ids      []string
		spans    int
		received = time.Now().UnixNano()
	)
	flush := func() {
		if err := store.WriteDocuments(ctx, docs); err != nil {
			b.Fatal(err)
		}
		docs = docs[:0]
	}
	for i := range traces {
		var id string
		before := len(docs)
		if docs, id, err = gen.next(docs, received); err != nil {
			b.Fatal(err)
		}
		for _, d := range docs[before:] {
			spans += len(d.Spans)
		}
		if i%(traces/1000+1) == 0 {
			ids = append(ids, id)
		}
		if len(docs) >= 40000 {
			flush()
		}
	}
	flush()
	load := time.Since(loadStart)
	b.Logf("loaded %d traces, %d spans in %v (%.0f spans/s, generation included)", traces, spans, load.Round(time.Millisecond), float64(spans)/load.Seconds())

	cfg := graphstore.DefaultConfig()
	cfg.RefreshInterval = 0
	graph, err := graphstore.New(cfg, graphstore.Settings{Store: store})
	if err != nil {
		b.Fatal(err)
	}
	refreshStart := time.Now()
	nb, err := graph.Refresh(ctx, hourStart.Add(-time.Hour), hourStart.Add(2*time.Hour))
	if err != nil {
		b.Fatal(err)
	}
	refresh := time.Since(refreshStart)
	b.Logf("computed %d bucket rollups in %v (%.0f ms per minute of traffic)", nb, refresh.Round(time.Millisecond), float64(refresh.Milliseconds())/float64(max(nb, 1)))

	srv, err := api.New(api.DefaultConfig(), api.Settings{Reader: store, Graph: graph})
	if err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	client := xray.New(xray.Options{Region: "us-east-1", BaseEndpoint: aws.String(hs.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")})
	hourEnd := hourStart.Add(time.Hour)
	rng := rand.New(rand.NewPCG(9, 9))

	measure := func(name string, call func() error) {
		b.Run(name, func(b *testing.B) {
			var lat []time.Duration
			for b.Loop() {
				t := time.Now()
				if err := call(); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t))
			}
			slices.Sort(lat)
			q := func(p float64) float64 {
				return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
			}
			b.ReportMetric(q(0.5), "p50-ms")
			b.ReportMetric(q(0.95), "p95-ms")
		})
	}
	measure("GetServiceGraph", func() error {
		out, err := client.GetServiceGraph(ctx, &xray.GetServiceGraphInput{StartTime: aws.Time(hourStart), EndTime: aws.Time(hourEnd)})
		if err == nil && len(out.Services) < 10 {
			err = fmt.Errorf("only %d services", len(out.Services))
		}
		return err
	})
	measure("GetTimeSeriesServiceStatistics", func() error {
		out, err := client.GetTimeSeriesServiceStatistics(ctx, &xray.GetTimeSeriesServiceStatisticsInput{StartTime: aws.Time(hourStart),
			EndTime: aws.Time(hourEnd), EntitySelectorExpression: aws.String(`service("orders")`), Period: aws.Int32(60)})
		if err == nil && len(out.TimeSeriesServiceStatistics) < 50 {
			err = fmt.Errorf("only %d points", len(out.TimeSeriesServiceStatistics))
		}
		return err
	})
	measure("GetTraceSummaries", func() error {
		c := rng.IntN(5000)
		out, err := client.GetTraceSummaries(ctx, &xray.GetTraceSummariesInput{StartTime: aws.Time(hourStart), EndTime: aws.Time(hourEnd),
			FilterExpression: aws.String(fmt.Sprintf(`annotation.customer_id = "c-%d"`, c))})
		if err == nil && len(out.TraceSummaries) == 0 && traces >= 100_000 {
			err = fmt.Errorf("no trace of customer c-%d", c)
		}
		return err
	})
	measure("BatchGetTraces", func() error {
		pick := make([]string, 5)
		for i := range pick {
			pick[i] = ids[rng.IntN(len(ids))]
		}
		out, err := client.BatchGetTraces(ctx, &xray.BatchGetTracesInput{TraceIds: pick})
		if err == nil && len(out.Traces) == 0 {
			err = fmt.Errorf("no traces for %v", pick)
		}
		return err
	})
}
