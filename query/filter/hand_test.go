package filter

import (
	"slices"
	"sort"
	"testing"

	"github.com/fluoro/fluoro/collector/segment"
)

// Hand-built traces whose expected matches are worked out by hand.

const handBase = 1700100000

func handSpan(trace, id, parent, seg string, isSeg bool, name string, startMS, endMS int64) segment.Span {
	return segment.Span{TraceID: trace, ID: id, ParentID: parent, SegmentID: seg, IsSegment: isSeg, Name: name,
		StartTime: secs(handBase, startMS), EndTime: secs(handBase, endMS)}
}

func handDoc(kind segment.Kind, spans ...segment.Span) segment.Document {
	g := &gen{}
	return g.doc(kind, spans)
}

// handTraces returns the traces keyed by a short name.
func handTraces() map[string]corpusTrace {
	out := map[string]corpusTrace{}

	// H1: api (EC2) answers 200 in 1.2 s for alice; its DynamoDB PutItem on
	// scorekeep-user faults (inferred node); its call to auth gets a 404 from
	// the instrumented auth service.
	{
		tr := "1-6555a1a0-000000000000000000000001"
		root := handSpan(tr, "a000000000000001", "", "a000000000000001", true, "api", 0, 1200)
		root.Service, root.Origin = "api", "AWS::EC2::Instance"
		root.HTTPStatus, root.HTTPMethod, root.HTTPURL = 200, "GET", "https://api.example.com/api/game/7"
		root.User = "alice"
		root.AnnStrKeys, root.AnnStrValues = []string{"gameid"}, []string{"817DL6VO"}
		root.AnnNumKeys, root.AnnNumValues = []string{"age"}, []float64{30}
		ddb := handSpan(tr, "a000000000000002", root.ID, root.ID, false, "DynamoDB", 100, 400)
		ddb.Service, ddb.Origin, ddb.Depth = "api", "AWS::EC2::Instance", 1
		ddb.Namespace, ddb.AWSOperation, ddb.AWSResource = "aws", "PutItem", "scorekeep-user"
		ddb.Fault, ddb.HTTPStatus = true, 500
		ddb.CauseType, ddb.CauseMessage = "dynamodb.ResourceNotFoundException", "Requested resource not found"
		call := handSpan(tr, "a000000000000003", root.ID, root.ID, false, "auth", 500, 700)
		call.Service, call.Origin, call.Depth, call.Namespace = "api", "AWS::EC2::Instance", 1, "remote"
		call.Error, call.HTTPStatus, call.HTTPTraced = true, 404, true
		auth := handSpan(tr, "a000000000000004", call.ID, "a000000000000004", true, "auth", 510, 690)
		auth.Service, auth.Origin, auth.HTTPStatus, auth.Error = "auth", "AWS::ECS::Container", 404, true
		out["H1"] = corpusTrace{id: tr, docs: []segment.Document{handDoc(segment.KindSegment, root, ddb, call), handDoc(segment.KindSegment, auth)}}
	}

	// H2: API Gateway → Lambda service segment → function segment (error);
	// 6 s end to end.
	{
		tr := "1-6555a1a0-000000000000000000000002"
		gw := handSpan(tr, "b000000000000001", "", "b000000000000001", true, "api/prod", 0, 6000)
		gw.Service, gw.Origin, gw.HTTPStatus = "api/prod", "AWS::ApiGateway::Stage", 200
		inv := handSpan(tr, "b000000000000002", gw.ID, gw.ID, false, "Lambda", 10, 5990)
		inv.Service, inv.Origin, inv.Depth, inv.Namespace, inv.AWSOperation, inv.AWSResource = "api/prod", gw.Origin, 1, "aws", "Invoke", "random-name"
		svc := handSpan(tr, "b000000000000003", inv.ID, "b000000000000003", true, "random-name", 20, 5980)
		svc.Service, svc.Origin = "random-name", "AWS::Lambda"
		fn := handSpan(tr, "b000000000000004", svc.ID, "b000000000000004", true, "random-name", 30, 5970)
		fn.Service, fn.Origin, fn.Error = "random-name", "AWS::Lambda::Function", true
		out["H2"] = corpusTrace{id: tr, docs: []segment.Document{handDoc(segment.KindSegment, gw, inv), handDoc(segment.KindSegment, svc), handDoc(segment.KindSegment, fn)}}
	}

	// H3: orders answers 429 (no flags) to bob; an independent subsegment is
	// still in progress.
	{
		tr := "1-6555a1a0-000000000000000000000003"
		root := handSpan(tr, "c000000000000001", "", "c000000000000001", true, "orders", 0, 300)
		root.Service, root.HTTPStatus, root.User = "orders", 429, "bob"
		sub := handSpan(tr, "c000000000000002", root.ID, "c000000000000002", false, "compute", 10, 0)
		sub.InProgress, sub.EndTime = true, 0
		out["H3"] = corpusTrace{id: tr, docs: []segment.Document{handDoc(segment.KindSegment, root), handDoc(segment.KindSubsegment, sub)}}
	}

	// H4: billing faults with 503; its in-progress version (no flags) was
	// stored too.
	{
		tr := "1-6555a1a0-000000000000000000000004"
		ip := handSpan(tr, "d000000000000001", "", "d000000000000001", true, "billing", 0, 0)
		ip.Service, ip.InProgress, ip.EndTime = "billing", true, 0
		done := ip
		done.InProgress, done.EndTime, done.Fault, done.HTTPStatus = false, secs(handBase, 250), true, 503
		d1, d2 := handDoc(segment.KindSegment, ip), handDoc(segment.KindSegment, done)
		d2.ReceivedNanos = d1.ReceivedNanos + 1
		out["H4"] = corpusTrace{id: tr, docs: []segment.Document{d1, d2}}
	}

	// H5: only a downstream segment arrived (its caller is unknown): it is
	// the root, since its parent is not in the trace.
	{
		tr := "1-6555a1a0-000000000000000000000005"
		s := handSpan(tr, "e000000000000001", "e0000000000000ff", "e000000000000001", true, "data-plane", 5, 105)
		s.Service, s.HTTPStatus = "data-plane", 200
		out["H5"] = corpusTrace{id: tr, docs: []segment.Document{handDoc(segment.KindSegment, s)}}
	}

	// H6: gateway answers 200 in 100 ms; its traced call to inventory has no
	// answering segment yet (partial, and an inferred remote node).
	{
		tr := "1-6555a1a0-000000000000000000000006"
		root := handSpan(tr, "f000000000000001", "", "f000000000000001", true, "gateway", 0, 100)
		root.Service, root.HTTPStatus = "gateway", 200
		call := handSpan(tr, "f000000000000002", root.ID, root.ID, false, "inventory", 10, 60)
		call.Service, call.Depth, call.Namespace, call.HTTPTraced, call.HTTPStatus = "gateway", 1, "remote", true, 200
		out["H6"] = corpusTrace{id: tr, docs: []segment.Document{handDoc(segment.KindSegment, root, call)}}
	}
	return out
}

// handExpect maps expressions to the hand traces they select.
var handExpect = map[string][]string{
	`ok`:                                  {"H1", "H2", "H5", "H6"},
	`!ok`:                                 {"H3", "H4"},
	`fault`:                               {"H4"},
	`error`:                               {"H3"},
	`throttle`:                            {"H3"},
	`partial`:                             {"H3", "H6"},
	`inferred`:                            {"H1", "H6"},
	`responsetime > 5`:                    {"H2"},
	`duration = 1.2`:                      {"H1"},
	`responsetime = 0.25`:                 {"H4"},
	`duration < 0.3`:                      {"H4", "H5", "H6"},
	`http.status = 429`:                   {"H3"},
	`http.url CONTAINS "/api/game/"`:      {"H1"},
	`user = "alice"`:                      {"H1"},
	`user`:                                {"H1", "H3"},
	`annotation.gameid = "817DL6VO"`:      {"H1"},
	`annotation.age > 29`:                 {"H1"},
	`annotation.age`:                      {"H1"},
	`service("api") { fault }`:            {},
	`service() { fault }`:                 {"H1", "H4"},
	`service("scorekeep-user") { fault }`: {"H1"},
	`service(id(name: "scorekeep-user", type: "AWS::DynamoDB::Table"))`:                                 {"H1"},
	`edge("api", "auth") { error }`:                                                                     {"H1"},
	`edge("api", "scorekeep-user") { responsetime = 0.3 }`:                                              {"H1"},
	`edge("api/prod", id(name: "random-name", type: "AWS::Lambda"))`:                                    {"H2"},
	`edge(id(type: "AWS::Lambda"), id(type: "AWS::Lambda::Function"))`:                                  {"H2"},
	`service(id(name: "random-name", type: "AWS::Lambda::Function")) { error }`:                         {"H2"},
	`service(id(name: "random-name", type: "AWS::Lambda")) { error }`:                                   {},
	`service(id(name: "inventory", type: "remote"))`:                                                    {"H6"},
	`edge("gateway", "inventory") { responsetime = 0.05 }`:                                              {"H6"},
	`service("data-plane")`:                                                                             {"H5"},
	`service("data-plane") { root }`:                                                                    {"H5"},
	`service("billing") { root and fault }`:                                                             {"H4"},
	`rootcause.fault.service { last and name = "scorekeep-user" }`:                                      {"H1"},
	`rootcause.fault.service { name = "billing" }`:                                                      {"H4"},
	`rootcause.fault.entity { last and name = "scorekeep-user" }`:                                       {"H1"},
	`rootcause.fault.exception { name = "dynamodb.ResourceNotFoundException" }`:                         {"H1"},
	`rootcause.error.service { last and name = "auth" }`:                                                {"H1"},
	`rootcause.responsetime.service { last and type = "AWS::Lambda::Function" }`:                        {"H2"},
	`rootcause.responsetime.entity { first and coverage = 1 }`:                                          {"H3", "H4", "H5"},
	`rootcause.responsetime.entity { remote and coverage = 0.25 }`:                                      {"H1"},
	`rootcause.json = #[{"Services": [{"Name": "api"}, {"Name": "scorekeep-user", "Inferred": true}]}]`: {"H1"},
}

func handIDs(hand map[string]corpusTrace, names []string) []string {
	var ids []string
	for _, n := range names {
		ids = append(ids, hand[n].id)
	}
	sort.Strings(ids)
	return ids
}

func TestMatchHandTraces(t *testing.T) {
	hand := handTraces()
	names := make([]string, 0, len(hand))
	for n := range hand {
		names = append(names, n)
	}
	sort.Strings(names)
	for s, want := range handExpect {
		e, err := Parse(s)
		if err != nil {
			t.Errorf("Parse(%q): %v", s, err)
			continue
		}
		var got []string
		for _, n := range names {
			if e.Match(hand[n].spans()) {
				got = append(got, n)
			}
		}
		if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Errorf("%s: matched %v, want %v", s, got, want)
		}
	}
}
