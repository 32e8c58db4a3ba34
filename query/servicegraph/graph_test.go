package servicegraph

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// t0 is 2024-01-01T00:00:10Z in µs.
const t0 = uint64(1704067210) * 1_000_000

const ms = uint64(1000)

// tb builds the spans of one trace.
type tb struct {
	trace string
	spans []Span
}

func newTB(n int) *tb { return &tb{trace: fmt.Sprintf("1-65920080-%024x", n)} }

// seg adds a segment document.
func (b *tb) seg(id, parent, name, origin string, start, dur uint64, mod ...func(*Span)) *tb {
	s := Span{TraceID: b.trace, ID: id, ParentID: parent, SegmentID: id, Service: name, Origin: origin, Name: name,
		IsSegment: true, StartUS: t0 + start*ms, EndUS: t0 + (start+dur)*ms, Version: 1 << 62}
	for _, m := range mod {
		m(&s)
	}
	b.spans = append(b.spans, s)
	return b
}

// sub adds a subsegment embedded in document doc (whose segment is
// service/origin; "" for an independent subsegment document).
func (b *tb) sub(id, parent, doc, service, origin, name, ns string, start, dur uint64, mod ...func(*Span)) *tb {
	s := Span{TraceID: b.trace, ID: id, ParentID: parent, SegmentID: doc, Service: service, Origin: origin, Name: name,
		Namespace: ns, StartUS: t0 + start*ms, EndUS: t0 + (start+dur)*ms, Version: 1 << 62}
	for _, m := range mod {
		m(&s)
	}
	b.spans = append(b.spans, s)
	return b
}

func status(c uint16) func(*Span) { return func(s *Span) { s.HTTPStatus = c } }
func fault(s *Span)               { s.Fault = true }
func throttle(s *Span)            { s.Throttle = true }
func errorFlag(s *Span)           { s.Error = true }
func sql(s *Span)                 { s.SQL = true }
func account(a string) func(*Span) {
	return func(s *Span) { s.AccountID = a }
}
func awsCall(op, res string) func(*Span) {
	return func(s *Span) { s.AWSOperation, s.AWSResource = op, res }
}
func inProgress(s *Span) { s.InProgress, s.EndUS, s.Version = true, 0, 1 }

// shop is the reference topology: web (EC2, entry) calls orders (ECS,
// instrumented: a real segment answers the subsegment), a partner API
// (remote, uninstrumented), and a Lambda function; orders calls a
// DynamoDB table and a SQL database; the function (AWS::Lambda →
// AWS::Lambda::Function) writes to an S3 bucket from an independent
// subsegment.
func shop(n int, webMod, ordersCallMod, ddbMod []func(*Span)) []Span {
	b := newTB(n)
	b.seg("a000000000000001", "", "web", "AWS::EC2::Instance", 0, 200, webMod...)
	b.sub("a000000000000002", "a000000000000001", "a000000000000001", "web", "AWS::EC2::Instance", "orders", "remote", 10, 100, ordersCallMod...)
	b.seg("b000000000000001", "a000000000000002", "orders", "AWS::ECS::Container", 12, 90)
	b.sub("b000000000000002", "b000000000000001", "b000000000000001", "orders", "AWS::ECS::Container", "DynamoDB", "aws", 20, 30,
		append([]func(*Span){awsCall("GetItem", "orders-table")}, ddbMod...)...)
	b.sub("b000000000000003", "b000000000000001", "b000000000000001", "orders", "AWS::ECS::Container", "orders@db", "remote", 60, 20, sql)
	b.sub("a000000000000003", "a000000000000001", "a000000000000001", "web", "AWS::EC2::Instance", "partner.example.com", "remote", 120, 40, status(404))
	b.sub("a000000000000004", "a000000000000001", "a000000000000001", "web", "AWS::EC2::Instance", "Lambda", "aws", 165, 30, awsCall("Invoke", "resize"))
	b.seg("c000000000000001", "a000000000000004", "resize", "AWS::Lambda", 166, 28, account("111122223333"))
	b.seg("c000000000000002", "c000000000000001", "resize", "AWS::Lambda::Function", 170, 20, account("111122223333"))
	b.sub("c000000000000003", "c000000000000002", "c000000000000003", "", "", "S3", "aws", 172, 10, awsCall("PutObject", "thumbs"))
	return b.spans
}

// describe renders services as sorted lines for comparison.
func describe(svcs []Service) []string {
	name := map[int]string{}
	for _, s := range svcs {
		name[s.ReferenceID] = s.Name + "|" + s.Type + "|" + s.AccountID
	}
	st := func(s *Statistics) string {
		if s == nil {
			return "-"
		}
		return fmt.Sprintf("ok=%d err=%d thr=%d fault=%d total=%d rt=%.3f", s.OkCount, s.ErrorStatistics.OtherCount,
			s.ErrorStatistics.ThrottleCount, s.FaultStatistics.TotalCount, s.TotalCount, s.TotalResponseTime)
	}
	var out []string
	for _, s := range svcs {
		line := fmt.Sprintf("node %s %s root=%v %s", name[s.ReferenceID], s.State, s.Root, st(s.SummaryStatistics))
		out = append(out, line)
		for _, e := range s.Edges {
			out = append(out, fmt.Sprintf("edge %s -> %s %s", name[s.ReferenceID], name[e.ReferenceID], st(e.SummaryStatistics)))
		}
	}
	slices.Sort(out)
	return out
}

func diff(t *testing.T, got, want []string) {
	t.Helper()
	slices.Sort(want)
	if slices.Equal(got, want) {
		return
	}
	t.Errorf("graph differs\n got:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
}

func TestShopGraph(t *testing.T) {
	var spans []Span
	// 1: all fine. 2: web faults (503), DynamoDB faults although its
	// status says 400 (flags win). 3: the orders call is throttled.
	spans = append(spans, shop(1, nil, nil, nil)...)
	spans = append(spans, shop(2, []func(*Span){status(503)}, nil, []func(*Span){status(400), fault})...)
	spans = append(spans, shop(3, nil, []func(*Span){status(429)}, nil)...)
	a := NewAggregator(Options{})
	a.AddSpans(spans)
	want := []string{
		"node web|AWS::EC2::Instance| active root=true ok=2 err=0 thr=0 fault=1 total=3 rt=0.600",
		"node web|client| unknown root=false -",
		"edge web|client| -> web|AWS::EC2::Instance| ok=2 err=0 thr=0 fault=1 total=3 rt=0.600",
		"node orders|AWS::ECS::Container| active root=false ok=3 err=0 thr=0 fault=0 total=3 rt=0.270",
		"edge web|AWS::EC2::Instance| -> orders|AWS::ECS::Container| ok=2 err=0 thr=1 fault=0 total=3 rt=0.300",
		"node partner.example.com|remote| unknown root=false ok=0 err=3 thr=0 fault=0 total=3 rt=0.120",
		"edge web|AWS::EC2::Instance| -> partner.example.com|remote| ok=0 err=3 thr=0 fault=0 total=3 rt=0.120",
		"node resize|AWS::Lambda|111122223333 active root=false ok=3 err=0 thr=0 fault=0 total=3 rt=0.084",
		"edge web|AWS::EC2::Instance| -> resize|AWS::Lambda|111122223333 ok=3 err=0 thr=0 fault=0 total=3 rt=0.090",
		"node resize|AWS::Lambda::Function|111122223333 active root=false ok=3 err=0 thr=0 fault=0 total=3 rt=0.060",
		"edge resize|AWS::Lambda|111122223333 -> resize|AWS::Lambda::Function|111122223333 ok=3 err=0 thr=0 fault=0 total=3 rt=0.060",
		"node thumbs|AWS::S3::Bucket| unknown root=false ok=3 err=0 thr=0 fault=0 total=3 rt=0.030",
		"edge resize|AWS::Lambda::Function|111122223333 -> thumbs|AWS::S3::Bucket| ok=3 err=0 thr=0 fault=0 total=3 rt=0.030",
		"node orders-table|AWS::DynamoDB::Table| unknown root=false ok=2 err=0 thr=0 fault=1 total=3 rt=0.090",
		"edge orders|AWS::ECS::Container| -> orders-table|AWS::DynamoDB::Table| ok=2 err=0 thr=0 fault=1 total=3 rt=0.090",
		"node orders@db|Database::SQL| unknown root=false ok=3 err=0 thr=0 fault=0 total=3 rt=0.060",
		"edge orders|AWS::ECS::Container| -> orders@db|Database::SQL| ok=3 err=0 thr=0 fault=0 total=3 rt=0.060",
	}
	diff(t, describe(a.Graph()), want)

	// Histograms: the web node's response times are 3 × 200 ms, its
	// durations the trace durations (the root segment spans the trace).
	for _, s := range a.Graph() {
		if s.Name == "web" && s.Type == "AWS::EC2::Instance" {
			if len(s.ResponseTimeHistogram) != 1 || s.ResponseTimeHistogram[0] != (HistogramEntry{Value: 0.2, Count: 3}) {
				t.Errorf("web ResponseTimeHistogram = %+v", s.ResponseTimeHistogram)
			}
			if len(s.DurationHistogram) != 1 || s.DurationHistogram[0] != (HistogramEntry{Value: 0.2, Count: 3}) {
				t.Errorf("web DurationHistogram = %+v", s.DurationHistogram)
			}
			if s.StartTime == nil || *s.StartTime != float64(t0)/1e6 || s.EndTime == nil || *s.EndTime != float64(t0+200*ms)/1e6 {
				t.Errorf("web StartTime/EndTime = %v/%v", s.StartTime, s.EndTime)
			}
			if !s.Root {
				t.Error("web is not Root")
			}
		}
	}
}

// TestOrderIndependence checks that the graph does not depend on how the
// spans of traces are split or ordered (documents arriving in any order).
func TestOrderIndependence(t *testing.T) {
	var spans []Span
	for i := range 20 {
		var web []func(*Span)
		if i%4 == 1 {
			web = append(web, status(500))
		}
		spans = append(spans, shop(i, web, nil, nil)...)
	}
	a := NewAggregator(Options{})
	a.AddSpans(spans)
	want := describe(a.Graph())
	rng := rand.New(rand.NewPCG(1, 2))
	for range 10 {
		shuffled := slices.Clone(spans)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		b := NewAggregator(Options{})
		b.AddSpans(shuffled)
		diff(t, describe(b.Graph()), want)
	}
	// Per minute, then merged through AddRow (how storage rows add up).
	c := NewAggregator(Options{ByMinute: true})
	c.AddSpans(spans)
	m := NewAggregator(Options{})
	for _, r := range c.Rows() {
		m.AddRow(r)
	}
	diff(t, describe(Render(m.Rows())), want)
}

func TestVersionsAndInProgress(t *testing.T) {
	b := newTB(1)
	b.seg("a000000000000001", "", "web", "", 0, 100, inProgress)
	b.seg("a000000000000001", "", "web", "", 0, 100, status(500)) // complete version wins
	b.seg("a000000000000001", "", "web", "", 0, 100, inProgress)  // older in-progress after it
	b.sub("a000000000000002", "a000000000000001", "a000000000000001", "web", "", "api.example.com", "remote", 10, 50, inProgress)
	// The callee answered, but the caller's subsegment is still in
	// progress: the edge gets the callee's view.
	b.seg("b000000000000001", "a000000000000002", "api", "", 12, 40)
	a := NewAggregator(Options{})
	a.AddTrace(b.spans)
	diff(t, describe(a.Graph()), []string{
		"node web|| active root=true ok=0 err=0 thr=0 fault=1 total=1 rt=0.100",
		"node web|client| unknown root=false -",
		"edge web|client| -> web|| ok=0 err=0 thr=0 fault=1 total=1 rt=0.100",
		"node api|| active root=false ok=1 err=0 thr=0 fault=0 total=1 rt=0.040",
		"edge web|| -> api|| ok=1 err=0 thr=0 fault=0 total=1 rt=0.040",
	})

	// A segment naming itself as parent is an entry point, not a loop.
	self := newTB(3)
	self.seg("e000000000000001", "e000000000000001", "loop", "", 0, 10)
	a = NewAggregator(Options{})
	a.AddTrace(self.spans)
	diff(t, describe(a.Graph()), []string{
		"node loop|| active root=true ok=1 err=0 thr=0 fault=0 total=1 rt=0.010",
		"node loop|client| unknown root=false -",
		"edge loop|client| -> loop|| ok=1 err=0 thr=0 fault=0 total=1 rt=0.010",
	})

	// Only in progress: the node is known (GetTraceGraph shows it) but has
	// no statistics.
	c := newTB(2)
	c.seg("d000000000000001", "", "batch", "", 0, 100, inProgress)
	a = NewAggregator(Options{})
	a.AddTrace(c.spans)
	diff(t, describe(a.Graph()), []string{"node batch|| active root=false -"})
}

func TestClassification(t *testing.T) {
	cases := []struct {
		mod  []func(*Span)
		want class
	}{
		{nil, classOK},
		{[]func(*Span){status(200)}, classOK},
		{[]func(*Span){status(302)}, classOK},
		{[]func(*Span){status(404)}, classError},
		{[]func(*Span){status(429)}, classThrottle},
		{[]func(*Span){status(500)}, classFault},
		{[]func(*Span){status(599)}, classFault},
		{[]func(*Span){status(400), fault}, classFault},         // flags win
		{[]func(*Span){status(200), errorFlag}, classError},     // flags win
		{[]func(*Span){status(500), throttle}, classThrottle},   // flags win
		{[]func(*Span){errorFlag, throttle}, classThrottle},     // throttle > error
		{[]func(*Span){errorFlag, throttle, fault}, classFault}, // fault > all
		{[]func(*Span){status(429), errorFlag}, classError},     // an explicit flag beats the status
		{[]func(*Span){status(600)}, classOK},                   // not an HTTP error status
	}
	for i, c := range cases {
		s := Span{}
		for _, m := range c.mod {
			m(&s)
		}
		if got := classify(&s); got != c.want {
			t.Errorf("case %d: class %d, want %d", i, got, c.want)
		}
	}
}

func TestInferredNames(t *testing.T) {
	cases := []struct {
		s    Span
		want NodeKey
	}{
		{Span{Name: "DynamoDB", Namespace: "aws", AWSResource: "t1", AccountID: "1"}, NodeKey{"t1", "AWS::DynamoDB::Table", "1"}},
		{Span{Name: "DynamoDB", Namespace: "aws"}, NodeKey{"DynamoDB", "AWS::DynamoDB", ""}},
		{Span{Name: "SQS", Namespace: "aws", AWSResource: "https://sqs.us-east-1.amazonaws.com/123/jobs"}, NodeKey{"jobs", "AWS::SQS::Queue", ""}},
		{Span{Name: "S3", Namespace: "aws", AWSResource: "bucket"}, NodeKey{"bucket", "AWS::S3::Bucket", ""}},
		{Span{Name: "Lambda", Namespace: "aws", AWSOperation: "Invoke", AWSResource: "arn:aws:lambda:us-east-1:1:function:fn:prod"}, NodeKey{"fn", "AWS::Lambda", ""}},
		{Span{Name: "SNS", Namespace: "aws", AWSResource: "arn:aws:sns:topic"}, NodeKey{"SNS", "AWS::SNS", ""}},
		{Span{Name: "db@host", Namespace: "remote", SQL: true}, NodeKey{"db@host", "Database::SQL", ""}},
		{Span{Name: "db@host", SQL: true}, NodeKey{"db@host", "Database::SQL", ""}},
		{Span{Name: "api.example.com", Namespace: "remote"}, NodeKey{"api.example.com", "remote", ""}},
	}
	for _, c := range cases {
		if !inferrable(&c.s) {
			t.Errorf("%+v not inferrable", c.s)
		}
		if got := inferredNode(&c.s); got != c.want {
			t.Errorf("inferredNode(%+v) = %+v, want %+v", c.s, got, c.want)
		}
	}
	if inferrable(&Span{Name: "local", Namespace: "local"}) || inferrable(&Span{Name: "x"}) {
		t.Error("local subsegments are not inferrable")
	}
}

func TestWindowAndMinutes(t *testing.T) {
	// Three single-segment traces ending at t0+1s, t0+61s, t0+121s.
	var spans []Span
	for i := range 3 {
		b := newTB(i)
		b.seg(fmt.Sprintf("a%015d", i), "", "web", "", uint64(i)*60_000, 1000)
		spans = append(spans, b.spans...)
	}
	from := time.UnixMicro(int64(t0 + 60_000*ms))
	a := NewAggregator(Options{From: from, To: from.Add(time.Minute)})
	a.AddSpans(spans)
	got := describe(Render(a.Rows()))
	diff(t, got, []string{
		"node web|| active root=true ok=1 err=0 thr=0 fault=0 total=1 rt=1.000",
		"node web|client| unknown root=false -",
		"edge web|client| -> web|| ok=1 err=0 thr=0 fault=0 total=1 rt=1.000",
	})
	m := NewAggregator(Options{ByMinute: true})
	m.AddSpans(spans)
	var minutes []int64
	for _, r := range m.Rows() {
		if !r.Edge {
			minutes = append(minutes, r.Minute)
		}
	}
	base := int64(t0/1_000_000) / 60 * 60
	if !slices.Equal(minutes, []int64{base, base + 60, base + 120}) {
		t.Errorf("minutes %v, want %d, +60, +120", minutes, base)
	}
}

func TestBin(t *testing.T) {
	cases := []struct{ us, want uint64 }{
		{0, 0}, {499, 0}, {500, 1000}, {4_600, 5000}, {99_400, 99_000}, {99_600, 100_000},
		{157_000, 160_000}, {154_499, 150_000}, {154_500, 160_000}, {999_000, 1_000_000}, {1_234_000, 1_200_000}, {12_345_000, 12_000_000},
	}
	for _, c := range cases {
		if got := Bin(c.us); got != c.want {
			t.Errorf("Bin(%d) = %d, want %d", c.us, got, c.want)
		}
	}
}

func TestRenderJSON(t *testing.T) {
	a := NewAggregator(Options{})
	a.AddSpans(shop(1, nil, nil, nil))
	b, err := json.Marshal(a.Graph())
	if err != nil {
		t.Fatal(err)
	}
	var back []map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	for _, s := range back {
		for _, k := range []string{"ReferenceId", "Name", "Names", "Root", "State", "Edges", "DurationHistogram", "ResponseTimeHistogram"} {
			if _, ok := s[k]; !ok {
				t.Errorf("service %v lacks %s", s["Name"], k)
			}
		}
		if s["Type"] == "client" {
			if _, ok := s["SummaryStatistics"]; ok {
				t.Error("client node has SummaryStatistics")
			}
		}
	}
	if !strings.Contains(string(b), `"TotalResponseTime":0.2`) || !strings.Contains(string(b), `"Aliases":[]`) {
		t.Errorf("unexpected JSON %s", b)
	}
}

// FuzzAggregate builds traces with arbitrary parent links (cycles, self
// references, missing parents, independent subsegments) and checks that
// the aggregator terminates and counts every completed segment once in
// its node.
func FuzzAggregate(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add([]byte{7, 7, 7, 7, 1, 200, 3, 99, 0, 0, 250, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 300 {
			return
		}
		var spans []Span
		n := len(data) / 3
		id := func(b byte) string { return fmt.Sprintf("%016x", int(b)%(n+2)) }
		for i := range n {
			a, p, flags := data[3*i], data[3*i+1], data[3*i+2]
			s := Span{TraceID: "1-65920080-000000000000000000000001", ID: id(byte(i)), ParentID: id(p), SegmentID: id(a),
				Name: fmt.Sprintf("n%d", flags%4), IsSegment: flags&4 != 0, StartUS: t0, EndUS: t0 + uint64(flags)*ms, Version: uint64(a)}
			if flags&8 != 0 {
				s.Namespace = "remote"
			}
			if flags&16 != 0 {
				s.ParentID = ""
			}
			if flags&32 != 0 {
				s.InProgress, s.EndUS = true, 0
			}
			s.HTTPStatus = uint16(flags) * 4
			spans = append(spans, s)
		}
		a := NewAggregator(Options{})
		a.AddSpans(spans)
		best := map[string]*Span{}
		for i := range spans {
			if old, ok := best[spans[i].ID]; !ok || better(&spans[i], old) {
				best[spans[i].ID] = &spans[i]
			}
		}
		var want uint64
		for _, s := range best {
			if s.IsSegment && s.complete() {
				want++
			}
		}
		var got uint64
		for _, r := range a.Rows() {
			if !r.Edge && r.Active {
				got += r.Total()
			}
		}
		if got != want {
			t.Fatalf("%d requests on segment nodes, %d completed segments", got, want)
		}
		_ = a.Graph()
	})
}
