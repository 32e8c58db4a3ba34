package api

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/xray"
	"github.com/aws/aws-sdk-go-v2/service/xray/types"

	"github.com/fluoro/fluoro/schema/chstore"
	"github.com/fluoro/fluoro/schema/chtest"
)

// TestIntegrationAnnotationIndex: GetTraceSummaries answered from the
// annotation index returns, page by page, exactly what the span scan
// returns, for filters the index can serve and filters it cannot, with
// and without sampling; and the scan takes over when the index finds too
// many traces.
func TestIntegrationAnnotationIndex(t *testing.T) {
	db := chtest.New(t)
	ctx := context.Background()
	store, err := chstore.Open(ctx, db.DSN, chstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	serve := func(candidates int) (*Server, *xray.Client) {
		return serveAPI(t, store, func(c *Config) { c.PageSize, c.IndexCandidates = 4, candidates })
	}
	indexed, withIndex := serve(5000)
	_, scanOnly := serve(0)
	limited, fewCandidates := serve(5)

	// 90 traces over an hour: customer c-(i%6) on the segment or, for odd
	// i, on a subsegment only; every fifth one faults; several traces per
	// second share an epoch.
	const epoch = 0x6553f000
	var bodies [][]byte
	for i := range 90 {
		id := fmt.Sprintf("1-%08x-%024x", epoch+40*(i/3), i)
		st := float64(epoch + 40*(i/3))
		segAnn, subAnn := fmt.Sprintf(`"customer":"c-%d","tier":"t%d"`, i%6, i%2), fmt.Sprintf(`"step":"s%d"`, i%4)
		if i%2 == 1 {
			segAnn, subAnn = fmt.Sprintf(`"tier":"t%d"`, i%2), fmt.Sprintf(`"customer":"c-%d","step":"s%d"`, i%6, i%4)
		}
		status := 200
		if i%5 == 0 {
			status = 500
		}
		bodies = append(bodies, fmt.Appendf(nil, `{"trace_id":%q,"id":"%016x","name":"shop","start_time":%v,"end_time":%v,`+
			`"http":{"request":{"method":"GET","url":"http://shop/%d"},"response":{"status":%d}},"annotations":{%s},`+
			`"subsegments":[{"id":"%016x","name":"db","start_time":%v,"end_time":%v,"annotations":{%s}}]}`,
			id, 0x1000+i, st, st+0.5, i, status, segAnn, 0x5000+i, st+0.1, st+0.2, subAnn))
	}
	write(t, store, 1e9, bodies...)

	pages := func(t *testing.T, c *xray.Client, expr string, sampling bool) ([]string, []string) {
		t.Helper()
		in := &xray.GetTraceSummariesInput{StartTime: aws.Time(time.Unix(epoch, 0)), EndTime: aws.Time(time.Unix(epoch+3600, 0)),
			FilterExpression: aws.String(expr)}
		if sampling {
			in.Sampling = aws.Bool(true)
			in.SamplingStrategy = &types.SamplingStrategy{Name: types.SamplingStrategyNameFixedRate, Value: aws.Float64(0.5)}
		}
		p := xray.NewGetTraceSummariesPaginator(c, in)
		var ids, sums []string
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatalf("%s: %v", expr, err)
			}
			for _, s := range page.TraceSummaries {
				ids = append(ids, aws.ToString(s.Id))
				b, _ := json.Marshal(s)
				sums = append(sums, string(b))
			}
		}
		return ids, sums
	}
	for _, tc := range []struct {
		expr  string
		count int // traces the filter selects
	}{
		{`annotation.customer = "c-1"`, 15},
		{`annotation.customer = "c-2"`, 15},
		{`annotation.customer = "c-0" AND fault`, 3},
		{`annotation.customer = "c-3" AND annotation.step = "s1"`, 7},
		{`annotation.customer = "c-1" OR annotation.customer = "c-4"`, 30},
		{`annotation.customer = "c-4" AND NOT annotation.tier = "t0"`, 0},
		{`annotation.customer = "c-5" AND responsetime > 1`, 0},
		{`annotation.customer = "c-9"`, 0},
		{`annotation.customer = "C-1"`, 0},
		{`annotation.step = "s2"`, 22},
		{`annotation.tier = "t1"`, 45}, // more than 5 candidates: the limited server scans
	} {
		for _, sampling := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s sampling %v", tc.expr, sampling), func(t *testing.T) {
				wantIDs, want := pages(t, scanOnly, tc.expr, sampling)
				if !sampling && len(wantIDs) != tc.count {
					t.Fatalf("the scan selects %d traces, want %d: the test data is not what the test expects", len(wantIDs), tc.count)
				}
				for name, c := range map[string]*xray.Client{"index": withIndex, "index, 5 candidates": fewCandidates} {
					gotIDs, got := pages(t, c, tc.expr, sampling)
					if !slices.Equal(gotIDs, wantIDs) {
						t.Errorf("%s: %v\nscan: %v", name, gotIDs, wantIDs)
					} else if !slices.Equal(got, want) {
						t.Errorf("%s: the summaries differ from the scan's", name)
					}
				}
			})
		}
	}
	if n := indexed.metrics.indexSearches.Get(); n < 20 {
		t.Errorf("the index answered %d searches", n)
	}
	if n := limited.metrics.indexFallbacks.Get(); n == 0 {
		t.Error("the server limited to 5 candidates never fell back to the scan")
	}
}
