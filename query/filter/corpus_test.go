package filter

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"

	"github.com/fluoro/fluoro/collector/segment"
)

// The generated corpus: varied traces built as segment.Documents, the way
// the decoder flattens them (Spans[0] is the document, then its embedded
// subsegments depth first). Times are whole milliseconds so that every
// reasonable seconds→µs conversion gives the same microseconds.

const corpusBase = 1700000000 // epoch seconds of the first trace

type gen struct {
	r     *rand.Rand
	trace string
	n     int // id counter
	docs  []segment.Document
}

var (
	genServices = []struct{ name, origin string }{
		{"api", "AWS::EC2::Instance"}, {"auth", "AWS::ECS::Container"}, {"orders", ""},
		{"billing", "AWS::EC2::Instance"}, {"data-plane", "AWS::EKS::Container"}, {"api", "AWS::ECS::Container"},
	}
	genUsers     = []string{"", "", "alice", "bob", "carol", "Alice"}
	genURLs      = []string{"https://api.example.com/api/game/1", "http://api.example.com/v2/items", "https://shop.example.org/cart?x=1", "http://10.0.0.1:8080/health", ""}
	genMethods   = []string{"GET", "POST", "PUT", "DELETE"}
	genAgents    = []string{"Mozilla/5.0", "curl/8.0", "aws-sdk-go-v2/1.48", ""}
	genIPs       = []string{"1.2.3.4", "10.0.0.7", "205.255.255.183", ""}
	genStatuses  = []uint16{200, 200, 200, 201, 301, 400, 404, 429, 500, 503, 0}
	genStrKeys   = []string{"gameid", "country", "aws:api_id", "a.b", "Tier"}
	genStrVals   = []string{"817DL6VO", "United States", "abc123", "", "x\"y\\z", "Gold"}
	genNumKeys   = []string{"age", "account", "score"}
	genBoolKeys  = []string{"internal", "cached"}
	genNumVals   = []float64{-3, 0, 7, 12, 12.5, 29, 30, 45, 12345}
	genARNs      = []string{"arn:aws:lambda:us-east-1:123456789012:function:random-name", "arn:aws:apigateway:us-east-1::/restapis/abc/stages/prod", "chicken"}
	genAccounts  = []string{"", "", "123456789012", "210987654321"}
	genExcTypes  = []string{"dynamodb.ResourceNotFoundException", "net.OpError", "AccessDenied", "Timeout"}
	genExcMsgs   = []string{"Requested resource not found", "Access Denied for account_id: 1234567890", "connection refused", "deadline exceeded"}
	genLocalSubs = []string{"marshal", "deserialize", "handler", "compute", "cache"}
)

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

func (g *gen) id() string {
	g.n++
	return fmt.Sprintf("%016x", uint64(g.r.Uint32())<<20|uint64(g.n))
}

// secs turns a millisecond offset into epoch seconds.
func secs(base int64, ms int64) float64 { return float64(base) + float64(ms)/1000 }

// outcome gives a span flags and an HTTP status.
func (g *gen) outcome(s *segment.Span) {
	switch g.r.IntN(10) {
	case 0:
		s.Fault = true
	case 1:
		s.Error = true
	case 2:
		s.Error, s.Throttle = true, true
	}
	if g.r.IntN(3) > 0 {
		s.HTTPStatus = pick(g.r, genStatuses)
	}
	if s.Fault || s.Error {
		if g.r.IntN(2) == 0 {
			s.CauseType, s.CauseMessage = pick(g.r, genExcTypes), pick(g.r, genExcMsgs)
		}
		if g.r.IntN(3) == 0 {
			s.Remote = true
		}
	}
}

func (g *gen) annotate(s *segment.Span) {
	for range g.r.IntN(3) {
		switch g.r.IntN(3) {
		case 0:
			s.AnnStrKeys = append(s.AnnStrKeys, pick(g.r, genStrKeys))
			s.AnnStrValues = append(s.AnnStrValues, pick(g.r, genStrVals))
		case 1:
			s.AnnNumKeys = append(s.AnnNumKeys, pick(g.r, genNumKeys))
			s.AnnNumValues = append(s.AnnNumValues, pick(g.r, genNumVals))
		case 2:
			s.AnnBoolKeys = append(s.AnnBoolKeys, pick(g.r, genBoolKeys))
			s.AnnBoolValues = append(s.AnnBoolValues, g.r.IntN(2) == 0)
		}
	}
}

// segment builds a segment document for service svc starting at startMS
// (relative to base) lasting up to budget ms, and recursively its callees.
func (g *gen) segment(base int64, svcIdx int, parent string, startMS, budget int64, depth int) {
	svc := genServices[svcIdx]
	seg := segment.Span{
		TraceID: g.trace, ID: g.id(), ParentID: parent, Service: svc.name, Origin: svc.origin,
		Name: svc.name, IsSegment: true,
	}
	seg.SegmentID = seg.ID
	dur := 5 + g.r.Int64N(max(budget, 6))
	seg.StartTime, seg.EndTime = secs(base, startMS), secs(base, startMS+dur)
	g.outcome(&seg)
	g.annotate(&seg)
	if g.r.IntN(2) == 0 {
		seg.User = pick(g.r, genUsers)
	}
	if g.r.IntN(5) > 0 {
		seg.HTTPURL, seg.HTTPMethod = pick(g.r, genURLs), pick(g.r, genMethods)
		seg.HTTPUserAgent, seg.HTTPClientIP = pick(g.r, genAgents), pick(g.r, genIPs)
	}
	if g.r.IntN(4) == 0 {
		seg.ResourceARN = pick(g.r, genARNs)
	}
	seg.AWSAccountID = pick(g.r, genAccounts)
	spans := []segment.Span{seg}
	var independent []segment.Document
	nsub := g.r.IntN(4)
	if depth > 2 {
		nsub = g.r.IntN(2)
	}
	for k := 0; k < nsub; k++ {
		off := g.r.Int64N(dur)
		subDur := 1 + g.r.Int64N(max(dur-off, 1))
		sub := g.subsegment(base, &seg, seg.ID, 1, startMS+off, subDur, depth)
		if g.r.IntN(6) == 0 {
			// sent as an independent subsegment document
			for i := range sub {
				sub[i].Depth--
				sub[i].SegmentID = sub[0].ID
			}
			if g.r.IntN(2) == 0 {
				for i := range sub {
					sub[i].Service, sub[i].Origin = "", ""
				}
			}
			independent = append(independent, g.doc(segment.KindSubsegment, sub))
			continue
		}
		spans = append(spans, sub...)
	}
	d := g.doc(segment.KindSegment, spans)
	g.docs = append(g.docs, d)
	if g.r.IntN(12) == 0 {
		// an in-progress version of the segment arrives too
		ip := d
		ip.InProgress, ip.EndTime = true, 0
		ip.Spans = []segment.Span{spans[0]}
		ip.Spans[0].InProgress, ip.Spans[0].EndTime = true, 0
		ip.Spans[0].Fault, ip.Spans[0].Error, ip.Spans[0].Throttle, ip.Spans[0].HTTPStatus = false, false, false, 0
		ip.ReceivedNanos--
		g.docs = append(g.docs, ip)
	}
	g.docs = append(g.docs, independent...)
}

// subsegment returns the subsegment and its embedded descendants, depth first.
func (g *gen) subsegment(base int64, seg *segment.Span, parent string, depth uint16, startMS, dur int64, segDepth int) []segment.Span {
	s := segment.Span{
		TraceID: g.trace, ID: g.id(), ParentID: parent, SegmentID: seg.ID, Service: seg.Name, Origin: seg.Origin,
		Depth: depth, StartTime: secs(base, startMS), EndTime: secs(base, startMS+dur),
	}
	var callee = -1
	switch g.r.IntN(8) {
	case 0, 1: // local work, maybe nested
		s.Name = pick(g.r, genLocalSubs)
		if g.r.IntN(4) == 0 {
			s.Namespace = "local"
		}
		if g.r.IntN(5) == 0 {
			s.Fault = true
			s.CauseType, s.CauseMessage = pick(g.r, genExcTypes), pick(g.r, genExcMsgs)
		}
		out := []segment.Span{s}
		if depth < 4 && g.r.IntN(2) == 0 {
			out = append(out, g.subsegment(base, seg, s.ID, depth+1, startMS, max(dur/2, 1), segDepth)...)
		}
		g.annotate(&out[0])
		return out
	case 2: // remote HTTP call, maybe instrumented
		s.Name, s.Namespace = pick(g.r, []string{"backend.example.com", "api.example.com", "10.0.0.1"}), "remote"
		s.HTTPURL, s.HTTPMethod = "http://"+s.Name+"/x", pick(g.r, genMethods)
		g.outcome(&s)
		if segDepth < 3 && g.r.IntN(2) == 0 {
			callee = g.r.IntN(len(genServices))
		}
		s.HTTPTraced = g.r.IntN(4) == 0
	case 3: // DynamoDB
		s.Name, s.Namespace, s.AWSOperation = "DynamoDB", "aws", pick(g.r, []string{"PutItem", "GetItem", "Query"})
		if g.r.IntN(3) > 0 {
			s.AWSResource = pick(g.r, []string{"scorekeep-user", "orders-table"})
		}
		s.AWSAccountID = pick(g.r, genAccounts)
		g.outcome(&s)
	case 4: // SQS / S3 / SNS
		switch g.r.IntN(3) {
		case 0:
			s.Name, s.AWSOperation = "SQS", "SendMessage"
			if g.r.IntN(2) == 0 {
				s.AWSResource = "https://sqs.us-east-1.amazonaws.com/123456789012/jobs-queue"
			}
		case 1:
			s.Name, s.AWSOperation = "S3", "PutObject"
			if g.r.IntN(2) == 0 {
				s.AWSResource = "my-bucket"
			}
		default:
			s.Name, s.AWSOperation = "SNS", "Publish"
		}
		s.Namespace = "aws"
		g.outcome(&s)
	case 5: // Lambda invoke, usually answered by the Lambda service segment
		s.Name, s.Namespace, s.AWSOperation, s.AWSResource = "Lambda", "aws", "Invoke", "random-name"
		g.outcome(&s)
		if g.r.IntN(3) > 0 {
			g.lambda(base, s.ID, startMS+1, max(dur-2, 1))
		}
	case 6: // SQL
		s.Name, s.Namespace = "ebdb@db.example.com", "remote"
		s.SQLURL, s.SQLDatabaseType = "jdbc:postgresql://db.example.com:5432/ebdb", "PostgreSQL"
		g.outcome(&s)
	default: // call to an instrumented service
		s.Name, s.Namespace = "downstream", "remote"
		s.HTTPURL = "http://svc.internal/call"
		g.outcome(&s)
		callee = g.r.IntN(len(genServices))
		if segDepth >= 3 {
			callee = -1
		}
	}
	if g.r.IntN(15) == 0 {
		s.User = pick(g.r, genUsers)
	}
	g.annotate(&s)
	if callee >= 0 {
		g.segment(base, callee, s.ID, startMS+1, max(dur-2, 1), segDepth+1)
	}
	return []segment.Span{s}
}

// lambda adds the AWS::Lambda service segment and the function segment.
func (g *gen) lambda(base int64, parent string, startMS, dur int64) {
	svc := segment.Span{TraceID: g.trace, ID: g.id(), ParentID: parent, Name: "random-name", Service: "random-name",
		Origin: "AWS::Lambda", IsSegment: true, StartTime: secs(base, startMS), EndTime: secs(base, startMS+dur),
		ResourceARN: genARNs[0]}
	svc.SegmentID = svc.ID
	g.outcome(&svc)
	fn := segment.Span{TraceID: g.trace, ID: g.id(), ParentID: svc.ID, Name: "random-name", Service: "random-name",
		Origin: "AWS::Lambda::Function", IsSegment: true, StartTime: secs(base, startMS+1), EndTime: secs(base, startMS+max(dur-1, 2)),
		AWSAccountID: "123456789012"}
	fn.SegmentID = fn.ID
	if g.r.IntN(4) == 0 {
		fn.Error = true
	}
	g.docs = append(g.docs, g.doc(segment.KindSegment, []segment.Span{svc}), g.doc(segment.KindSegment, []segment.Span{fn}))
	// the function's SDK sends its subsegments as independent documents
	inv := segment.Span{TraceID: g.trace, ID: g.id(), ParentID: fn.ID, SegmentID: "", Name: "Invocation",
		StartTime: fn.StartTime, EndTime: fn.EndTime}
	inv.SegmentID = inv.ID
	if g.r.IntN(2) == 0 {
		inv.Service, inv.Origin = fn.Name, fn.Origin
	}
	ddb := segment.Span{TraceID: g.trace, ID: g.id(), ParentID: inv.ID, SegmentID: inv.ID, Service: inv.Service, Origin: inv.Origin,
		Name: "DynamoDB", Namespace: "aws", AWSOperation: "GetItem", AWSResource: "orders-table", Depth: 1,
		StartTime: fn.StartTime, EndTime: fn.StartTime + 0.001}
	g.outcome(&ddb)
	g.docs = append(g.docs, g.doc(segment.KindSubsegment, []segment.Span{inv, ddb}))
}

// doc wraps spans (the document first) into a Document with a Raw JSON form.
func (g *gen) doc(kind segment.Kind, spans []segment.Span) segment.Document {
	s := spans[0]
	d := segment.Document{TraceID: s.TraceID, ID: s.ID, ParentID: s.ParentID, Kind: kind, Name: s.Name,
		StartTime: s.StartTime, EndTime: s.EndTime, InProgress: s.InProgress, ReceivedNanos: int64(len(g.docs)+1) * 1000, Spans: spans}
	raw := map[string]any{"trace_id": s.TraceID, "id": s.ID, "name": s.Name, "start_time": s.StartTime}
	if s.ParentID != "" {
		raw["parent_id"] = s.ParentID
	}
	if kind == segment.KindSubsegment {
		raw["type"] = "subsegment"
	}
	if s.InProgress {
		raw["in_progress"] = true
	} else {
		raw["end_time"] = s.EndTime
	}
	d.Raw, _ = json.Marshal(raw)
	return d
}

// corpusTrace is one generated trace.
type corpusTrace struct {
	id   string
	docs []segment.Document
}

func (c corpusTrace) spans() []segment.Span {
	var out []segment.Span
	for _, d := range c.docs {
		out = append(out, d.Spans...)
	}
	return out
}

// genCorpus builds n traces deterministically from seed.
func genCorpus(seed uint64, n int) []corpusTrace {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	out := make([]corpusTrace, 0, n)
	for i := range n {
		base := int64(corpusBase + i*7)
		g := &gen{r: r, trace: fmt.Sprintf("1-%08x-%024x", base, uint64(i)+seed<<32)}
		switch {
		case i%40 == 7:
			// the root segment has not arrived: only a downstream segment
			g.segment(base, r.IntN(len(genServices)), g.id(), 3, 400, 1)
		case i%25 == 3:
			// root in progress only
			g.segment(base, r.IntN(len(genServices)), "", 0, 2000, 0)
			for j := range g.docs {
				if g.docs[j].ParentID == "" {
					g.docs[j].InProgress, g.docs[j].EndTime = true, 0
					for k := range g.docs[j].Spans {
						if k == 0 {
							g.docs[j].Spans[k].InProgress, g.docs[j].Spans[k].EndTime = true, 0
						}
					}
				}
			}
		default:
			g.segment(base, r.IntN(len(genServices)), "", 0, 50+r.Int64N(6000), 0)
			if i%30 == 11 {
				// a second parentless segment (two roots)
				g.segment(base, r.IntN(len(genServices)), "", 2, 100, 0)
			}
		}
		out = append(out, corpusTrace{id: g.trace, docs: g.docs})
	}
	return out
}
