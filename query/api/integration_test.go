package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/xray"
	"github.com/aws/aws-sdk-go-v2/service/xray/types"

	"github.com/fluoro/fluoro/collector/segment"
	"github.com/fluoro/fluoro/schema/chstore"
	"github.com/fluoro/fluoro/schema/chtest"
)

func TestMain(m *testing.M) { chtest.Main(m) }

var _ TraceReader = (*chstore.Store)(nil)

const (
	traceDDB      = "1-5f29ab21-d4ebf299219a65bd5c31d6da"
	traceLambda   = "1-654c0557-5611b044040fc7224c4790b6"
	traceStreamed = "1-6553f000-0123456789abcdef01234567"
	traceSQL      = "1-581cf771-a006649127e371903a2de979"
)

// goldenBatches are the test documents in the order they are written:
// in-progress and SDK subsegments before the documents they belong to.
var goldenBatches = [][]string{
	{"streamed-segment-inprogress.json", "lambda-sdk-handler.json", "lambda-sdk-remote.json", "streamed-sub-c.json"},
	{"streamed-segment.json", "streamed-sub-a.json", "streamed-array.json", "lambda-sdk-dynamodb.json", "ddbSample.txt"},
	{"streamed-sub-b.json", "lambda-function.json", "lambda-service.json", "indepSubsegmentWithSql.txt"},
}

// integrationAPI opens a fresh migrated database, writes docs with
// chstore and serves the API over it; it returns the store and a client.
func integrationAPI(t *testing.T, mut func(*Config)) (*chstore.Store, *xray.Client) {
	t.Helper()
	db := chtest.New(t)
	store, err := chstore.Open(context.Background(), db.DSN, chstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	_, client := serveAPI(t, store, mut)
	return store, client
}

// serveAPI serves the API over store (DefaultConfig changed by mut) until
// the test ends and returns the server and an AWS SDK client of it.
func serveAPI(t *testing.T, store *chstore.Store, mut func(*Config)) (*Server, *xray.Client) {
	t.Helper()
	cfg := DefaultConfig()
	if mut != nil {
		mut(&cfg)
	}
	s, err := New(cfg, Settings{Reader: store, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	client := xray.New(xray.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(hs.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDFLUOROTEST", "secret", ""),
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		}),
	})
	return s, client
}

// write decodes bodies with the collector's decoder and stores them.
func write(t *testing.T, store *chstore.Store, received int64, bodies ...[]byte) {
	t.Helper()
	lim := segment.DefaultLimits()
	dec := segment.NewDecoder(lim)
	var docs []segment.Document
	for _, b := range bodies {
		var err error
		if docs, err = dec.Decode(b, received, docs); err != nil {
			t.Fatalf("decode %.80s: %v", b, err)
		}
	}
	if err := store.WriteDocuments(context.Background(), docs); err != nil {
		t.Fatal(err)
	}
}

func readGolden(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestIntegrationBatchGetTraces writes the golden documents through chstore
// into a real ClickHouse and reads them back with the SDK: every document
// sent must come back once, unchanged, at the right place of the compiled
// trees.
func TestIntegrationBatchGetTraces(t *testing.T) {
	store, client := integrationAPI(t, nil)
	var sent []json.RawMessage
	for i, batch := range goldenBatches {
		var bodies [][]byte
		for _, f := range batch {
			b := readGolden(t, f)
			bodies = append(bodies, b)
			sent = append(sent, splitBody(t, b)...)
		}
		write(t, store, int64(i+1)*1e9, bodies...)
		if i == 1 {
			write(t, store, int64(i+1)*1e9, bodies...) // a replayed batch
		}
	}

	out, err := client.BatchGetTraces(context.Background(), &xray.BatchGetTracesInput{
		TraceIds: []string{traceStreamed, traceLambda, traceDDB, traceSQL, "1-6553f000-000000000000000000000000"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(out.UnprocessedTraceIds, []string{"1-6553f000-000000000000000000000000"}) {
		t.Errorf("UnprocessedTraceIds %v", out.UnprocessedTraceIds)
	}
	if len(out.Traces) != 4 {
		t.Fatalf("%d traces, want 4", len(out.Traces))
	}
	want := flattenSent(t, sent)
	got := map[string]flatNode{}
	tops := map[string][]string{}
	for _, tr := range out.Traces {
		for _, s := range tr.Segments {
			flattenReturned(t, aws.ToString(tr.Id), aws.ToString(s.Document), got)
			tops[aws.ToString(tr.Id)] = append(tops[aws.ToString(tr.Id)], aws.ToString(s.Id))
		}
	}
	for id, w := range want {
		g, ok := got[id]
		if !ok {
			t.Errorf("%s (%s) not returned", id, w.trace)
			continue
		}
		if g.parent != w.parent || g.trace != w.trace {
			t.Errorf("%s returned under %q in %s, want under %q in %s", id, g.parent, g.trace, w.parent, w.trace)
		}
		if !reflect.DeepEqual(g.obj, w.obj) {
			gj, _ := json.Marshal(g.obj)
			wj, _ := json.Marshal(w.obj)
			t.Errorf("%s differs\n got %s\nwant %s", id, gj, wj)
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			t.Errorf("%s returned but never sent", id)
		}
	}
	wantTops := map[string][]string{
		traceStreamed: {"70de5b6f19ff9a0b"},
		traceLambda:   {"0285bf1261be05ff", "17e84e76450d1777"},
		traceDDB:      {"88ad1df59cd7a7be"},
		traceSQL:      {"3fd8634e78ca9560"},
	}
	for tr, w := range wantTops {
		if g := tops[tr]; !slices.Equal(g, w) {
			t.Errorf("%s top-level documents %v, want %v", tr, g, w)
		}
	}
	// Untouched documents come back byte for byte.
	for _, tr := range out.Traces {
		if aws.ToString(tr.Id) == traceDDB {
			if doc := aws.ToString(tr.Segments[0].Document); doc != string(readGolden(t, "ddbSample.txt")) {
				t.Error("ddbSample not returned verbatim")
			}
		}
	}
}

// splitBody returns the documents of a body: the body itself, or the
// elements of an array of subsegments.
func splitBody(t *testing.T, b []byte) []json.RawMessage {
	t.Helper()
	if b = bytes.TrimSpace(b); len(b) > 0 && b[0] == '[' {
		var arr []json.RawMessage
		if err := json.Unmarshal(b, &arr); err != nil {
			t.Fatal(err)
		}
		return arr
	}
	return []json.RawMessage{b}
}

// flatNode is one segment or subsegment: where it sits and its members
// other than "subsegments".
type flatNode struct {
	trace, parent string // parent "" for a top-level document
	obj           map[string]any
}

func decodeObj(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	v := canonJSON(t, raw)
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("not an object: %.80s", raw)
	}
	return m
}

func canonJSON(t *testing.T, raw []byte) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("invalid JSON: %v: %.120s", err, raw)
	}
	return v
}

// flattenSent computes where every sent (sub)segment must be found: the
// newest complete version of each document; independent subsegments whose
// parent is in the trace sit under it without type/trace_id/parent_id, the
// others stay top-level as sent.
func flattenSent(t *testing.T, docs []json.RawMessage) map[string]flatNode {
	t.Helper()
	latest := map[string]map[string]any{} // trace/id → document
	var order []string
	for _, raw := range docs {
		m := decodeObj(t, raw)
		key := m["trace_id"].(string) + "/" + m["id"].(string)
		if old, ok := latest[key]; ok && old["in_progress"] != true && m["in_progress"] == true {
			continue
		}
		if _, ok := latest[key]; !ok {
			order = append(order, key)
		}
		latest[key] = m
	}
	ids := map[string]bool{}
	var collect func(trace string, m map[string]any)
	collect = func(trace string, m map[string]any) {
		ids[trace+"/"+m["id"].(string)] = true
		for _, s := range subsOf(m) {
			collect(trace, s)
		}
	}
	for _, key := range order {
		m := latest[key]
		collect(m["trace_id"].(string), m)
	}
	out := map[string]flatNode{}
	var add func(trace, parent string, m map[string]any)
	add = func(trace, parent string, m map[string]any) {
		obj := map[string]any{}
		for k, v := range m {
			if k != "subsegments" {
				obj[k] = v
			}
		}
		out[m["id"].(string)] = flatNode{trace: trace, parent: parent, obj: obj}
		for _, s := range subsOf(m) {
			add(trace, m["id"].(string), s)
		}
	}
	for _, key := range order {
		m := latest[key]
		trace := m["trace_id"].(string)
		parent := ""
		if p, _ := m["parent_id"].(string); m["type"] == "subsegment" && ids[trace+"/"+p] {
			parent = p
			delete(m, "type")
			delete(m, "trace_id")
			delete(m, "parent_id")
		}
		add(trace, parent, m)
	}
	return out
}

func subsOf(m map[string]any) []map[string]any {
	arr, _ := m["subsegments"].([]any)
	var out []map[string]any
	for _, s := range arr {
		if sm, ok := s.(map[string]any); ok {
			out = append(out, sm)
		}
	}
	return out
}

func flattenReturned(t *testing.T, trace, doc string, out map[string]flatNode) {
	t.Helper()
	var add func(parent string, m map[string]any)
	add = func(parent string, m map[string]any) {
		id := m["id"].(string)
		if _, dup := out[id]; dup {
			t.Errorf("%s returned twice", id)
		}
		obj := map[string]any{}
		for k, v := range m {
			if k != "subsegments" {
				obj[k] = v
			}
		}
		out[id] = flatNode{trace: trace, parent: parent, obj: obj}
		for _, s := range subsOf(m) {
			add(id, s)
		}
	}
	add("", decodeObj(t, []byte(doc)))
}

// TestIntegrationGetTraceSummaries reads summaries of the golden documents
// and of generated traces back from ClickHouse through the SDK, with every
// time range type, paging and filter expressions evaluated by ClickHouse.
func TestIntegrationGetTraceSummaries(t *testing.T) {
	store, client := integrationAPI(t, func(c *Config) { c.PageSize = 3 })
	for i, batch := range goldenBatches {
		var bodies [][]byte
		for _, f := range batch {
			bodies = append(bodies, readGolden(t, f))
		}
		write(t, store, int64(i+1)*1e9, bodies...)
	}
	// Seven more traces in the streamed trace's hour, one per minute.
	const epoch = 0x6553f000
	var generated []string
	var bodies [][]byte
	for i := 1; i <= 7; i++ {
		id := fmt.Sprintf("1-%08x-%024x", epoch+60*i, i)
		generated = append(generated, id)
		st := float64(epoch + 60*i)
		status := 200
		if i == 3 {
			status = 503
		}
		bodies = append(bodies, fmt.Appendf(nil, `{"trace_id":%q,"id":"%016x","name":"gen","start_time":%v,"end_time":%v,"http":{"request":{"method":"GET","url":"http://gen/%d"},"response":{"status":%d}},"annotations":{"n":%d}}`,
			id, 0xabc0+i, st, st+0.5, i, status, i))
	}
	write(t, store, 9e9, bodies...)
	ctx := context.Background()
	window := func(rt types.TimeRangeType, expr string) *xray.GetTraceSummariesInput {
		in := &xray.GetTraceSummariesInput{
			StartTime: aws.Time(time.Unix(epoch, 0)), EndTime: aws.Time(time.Unix(epoch+3600, 0)), TimeRangeType: rt,
		}
		if expr != "" {
			in.FilterExpression = aws.String(expr)
		}
		return in
	}
	all := func(t *testing.T, in *xray.GetTraceSummariesInput) ([]types.TraceSummary, int) {
		t.Helper()
		p := xray.NewGetTraceSummariesPaginator(client, in)
		var out []types.TraceSummary
		pages := 0
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			out = append(out, page.TraceSummaries...)
		}
		return out, pages
	}
	ids := func(s []types.TraceSummary) []string {
		var out []string
		for _, x := range s {
			out = append(out, aws.ToString(x.Id))
		}
		return out
	}

	t.Run("paging by trace id", func(t *testing.T) {
		sums, pages := all(t, window("", ""))
		want := append([]string{}, generated...)
		slices.Reverse(want) // most recent first
		want = append(want, traceStreamed)
		if pages != 3 || !slices.Equal(ids(sums), want) {
			t.Errorf("%d pages %v\nwant 3 pages %v", pages, ids(sums), want)
		}
	})

	t.Run("summary of the streamed trace", func(t *testing.T) {
		sums, _ := all(t, window(types.TimeRangeTypeTraceId, `user = "u-42"`))
		if len(sums) != 1 {
			t.Fatalf("summaries %v", ids(sums))
		}
		s := sums[0]
		checkout := types.ServiceId{Name: aws.String("checkout"), Names: []string{"checkout"}, AccountId: aws.String("111122223333"), Type: aws.String("AWS::ECS::Container")}
		if aws.ToString(s.Id) != traceStreamed || aws.ToFloat64(s.Duration) != 1.25 || aws.ToFloat64(s.ResponseTime) != 1.25 ||
			aws.ToBool(s.HasFault) || aws.ToBool(s.HasError) || aws.ToBool(s.IsPartial) {
			t.Errorf("summary %s duration %v response %v fault %v error %v partial %v", aws.ToString(s.Id), aws.ToFloat64(s.Duration),
				aws.ToFloat64(s.ResponseTime), aws.ToBool(s.HasFault), aws.ToBool(s.HasError), aws.ToBool(s.IsPartial))
		}
		if !reflect.DeepEqual(s.EntryPoint, &checkout) {
			t.Errorf("EntryPoint %+v", s.EntryPoint)
		}
		if h := s.Http; h == nil || aws.ToString(h.HttpURL) != "https://shop.example/checkout" || aws.ToInt32(h.HttpStatus) != 200 || aws.ToString(h.ClientIp) != "203.0.113.9" {
			t.Errorf("Http %+v", s.Http)
		}
		var svcs []string
		for _, id := range s.ServiceIds {
			svcs = append(svcs, aws.ToString(id.Name)+"|"+aws.ToString(id.Type))
		}
		sort.Strings(svcs)
		wantSvcs := []string{"api.acme-pay.example|remote", "cache|Database::SQL", "checkout|AWS::ECS::Container", "inventory|remote", "stock|AWS::DynamoDB::Table"}
		if !slices.Equal(svcs, wantSvcs) {
			t.Errorf("ServiceIds %v\nwant %v", svcs, wantSvcs)
		}
		if len(s.Annotations["provider"]) != 1 || len(s.Annotations["cart_items"]) != 1 || len(s.Users) != 1 {
			t.Errorf("annotations %v users %v", s.Annotations, s.Users)
		}
		if len(s.AvailabilityZones) != 1 || aws.ToString(s.AvailabilityZones[0].Name) != "eu-west-1c" {
			t.Errorf("AvailabilityZones %v", s.AvailabilityZones)
		}
	})

	t.Run("filters evaluated by ClickHouse", func(t *testing.T) {
		cases := []struct {
			expr string
			want []string
		}{
			{`annotation.currency = "EUR"`, []string{traceStreamed}},
			{`fault`, []string{generated[2]}},
			{`http.url CONTAINS "gen/5" OR annotation.n = 7`, []string{generated[6], generated[4]}},
			{`service("checkout") { error }`, nil},
			{`service("api.acme-pay.example") { error }`, []string{traceStreamed}},
			{`annotation.n >= 6`, []string{generated[6], generated[5]}},
			{`rootcause.error.service { name = "api.acme-pay.example" }`, []string{traceStreamed}},
		}
		for _, tc := range cases {
			sums, _ := all(t, window("", tc.expr))
			if got := ids(sums); !slices.Equal(got, tc.want) {
				t.Errorf("%s: %v, want %v", tc.expr, got, tc.want)
			}
		}
	})

	t.Run("event and service time ranges", func(t *testing.T) {
		for _, rt := range []types.TimeRangeType{types.TimeRangeTypeEvent, types.TimeRangeTypeService} {
			sums, _ := all(t, window(rt, `annotation.currency = "EUR"`))
			if len(sums) != 1 || aws.ToString(sums[0].Id) != traceStreamed {
				t.Errorf("%s: %v", rt, ids(sums))
				continue
			}
			if (rt == types.TimeRangeTypeEvent) != (sums[0].MatchedEventTime != nil) {
				t.Errorf("%s: MatchedEventTime %v", rt, sums[0].MatchedEventTime)
			}
		}
		// The Lambda trace (2023-11-08) lies outside this window.
		sums, _ := all(t, window(types.TimeRangeTypeEvent, ""))
		if slices.Contains(ids(sums), traceLambda) {
			t.Error("trace outside the window returned")
		}
	})

	t.Run("forged cursor", func(t *testing.T) {
		q := summaryQuery{start: time.Unix(epoch, 0), end: time.Unix(epoch+3600, 0), rangeType: "TraceId", rate: 1}
		in := window("", "")
		in.NextToken = aws.String(encodeToken(q, "bm90IGEgY3Vyc29y"))
		_, err := client.GetTraceSummaries(ctx, in)
		if ae := apiError(t, err); ae.ErrorCode() != "InvalidRequestException" || !strings.Contains(ae.ErrorMessage(), "NextToken") {
			t.Errorf("%s: %s", ae.ErrorCode(), ae.ErrorMessage())
		}
	})
}
