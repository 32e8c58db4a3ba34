package servicegraph

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseSelector(t *testing.T) {
	web := NodeRef{Name: "web", HasName: true}
	cases := []struct {
		expr string
		want Selector
	}{
		{"", Selector{Kind: SelectEntry}},
		{"  ", Selector{Kind: SelectEntry}},
		{`service("web")`, Selector{Kind: SelectService, Node: web}},
		{`SERVICE ( "web" )`, Selector{Kind: SelectService, Node: web}},
		{`service()`, Selector{Kind: SelectService}},
		{`service("a \"quoted\" name")`, Selector{Kind: SelectService, Node: NodeRef{Name: `a "quoted" name`, HasName: true}}},
		{`id(name: "fn", type: "AWS::Lambda::Function")`, Selector{Kind: SelectService, ByID: true,
			Node: NodeRef{Name: "fn", HasName: true, Type: "AWS::Lambda::Function", HasType: true}}},
		{`service(id(account.id: "123"))`, Selector{Kind: SelectService, ByID: true, Node: NodeRef{AccountID: "123", HasAccountID: true}}},
		{`edge("web", "orders")`, Selector{Kind: SelectEdge, Src: web, Dst: NodeRef{Name: "orders", HasName: true}}},
		{`edge(id(name: "web", type: "client"), "web")`, Selector{Kind: SelectEdge,
			Src: NodeRef{Name: "web", HasName: true, Type: "client", HasType: true}, Dst: web}},
	}
	for _, c := range cases {
		got, err := ParseSelector(c.expr)
		if err != nil {
			t.Errorf("ParseSelector(%q): %v", c.expr, err)
			continue
		}
		if got != c.want {
			t.Errorf("ParseSelector(%q) = %+v, want %+v", c.expr, got, c.want)
		}
	}
}

func TestParseSelectorErrors(t *testing.T) {
	cases := []struct {
		expr string
		pos  int
		msg  string
	}{
		{`fault`, 0, `expected service(…), edge(…, …) or id(…), found "fault"`},
		{`service("web"`, 13, `expected ')', found the end of the expression`},
		{`service(web)`, 8, `expected a quoted service name or id(…), found "web"`},
		{`edge("a")`, 8, `expected ',', found ")"`},
		{`edge("a", )`, 10, `expected a quoted service name or id(…)`},
		{`id(nam: "x")`, 3, `unknown id() argument "nam"`},
		{`id(name: "x", name: "y")`, 14, `argument name given twice`},
		{`id(name "x")`, 8, `expected ':'`},
		{`id(name: x)`, 9, `expected a quoted value`},
		{`service("web") extra`, 15, `expected the end of the expression`},
		{`service("web`, 8, `unterminated string`},
		{`service("web") {fault}`, 15, `unexpected "{"`},
	}
	for _, c := range cases {
		_, err := ParseSelector(c.expr)
		var se *SelectorError
		if !errors.As(err, &se) {
			t.Errorf("ParseSelector(%q) = %v, want a *SelectorError", c.expr, err)
			continue
		}
		if se.Pos != c.pos || !strings.Contains(se.Msg, c.msg) {
			t.Errorf("ParseSelector(%q): %q at %d, want %q at %d", c.expr, se.Msg, se.Pos, c.msg, c.pos)
		}
	}
}

func FuzzParseSelector(f *testing.F) {
	for _, s := range []string{`service("web")`, `id(name: "a", type: "b", account.id: "c")`, `edge("a", id(type: "remote"))`,
		`service(`, `edge(,)`, `"`, `id(name: "\`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		sel, err := ParseSelector(expr)
		if err != nil {
			var se *SelectorError
			if !errors.As(err, &se) || se.Pos < 0 || se.Pos > len(expr) {
				t.Fatalf("ParseSelector(%q): error %v", expr, err)
			}
			return
		}
		// A selector survives formatting and parsing again.
		var again string
		switch sel.Kind {
		case SelectService:
			if sel.ByID && sel.Node.HasName && !sel.Node.HasType && !sel.Node.HasAccountID {
				return // id(name: …) prints as "…": equal up to ByID
			}
			again = "service(" + refString(sel.Node) + ")"
		case SelectEdge:
			again = "edge(" + refString(sel.Src) + ", " + refString(sel.Dst) + ")"
		default:
			return
		}
		back, err := ParseSelector(again)
		if err != nil {
			t.Fatalf("%q → %q: %v", expr, again, err)
		}
		back.ByID, sel.ByID = false, false
		if back != sel {
			t.Fatalf("%q → %q: %+v, want %+v", expr, again, back, sel)
		}
	})
}

func refString(r NodeRef) string {
	if !r.HasName && !r.HasType && !r.HasAccountID {
		return ""
	}
	return r.String()
}

func TestSelectorMatch(t *testing.T) {
	node := func(name, typ string) Row { return Row{Src: NodeKey{Name: name, Type: typ}} }
	edge := func(src, srcType, dst string) Row {
		return Row{Edge: true, Src: NodeKey{Name: src, Type: srcType}, Dst: NodeKey{Name: dst}}
	}
	web, _ := ParseSelector(`service("web")`)
	fn, _ := ParseSelector(`id(name: "fn", type: "AWS::Lambda::Function")`)
	e, _ := ParseSelector(`edge("web", "orders")`)
	entry, _ := ParseSelector(``)
	cases := []struct {
		sel  Selector
		row  Row
		want bool
	}{
		{web, node("web", "AWS::EC2::Instance"), true},
		{web, node("web", ""), true},
		{web, node("web", "client"), false},
		{web, node("orders", ""), false},
		{web, edge("web", "", "orders"), false},
		{fn, node("fn", "AWS::Lambda::Function"), true},
		{fn, node("fn", "AWS::Lambda"), false},
		{e, edge("web", "", "orders"), true},
		{e, edge("web", "client", "orders"), false},
		{e, edge("orders", "", "web"), false},
		{entry, edge("web", "client", "web"), true},
		{entry, edge("web", "", "orders"), false},
		{entry, node("web", ""), false},
	}
	for i, c := range cases {
		if got := c.sel.Match(&c.row); got != c.want {
			t.Errorf("case %d: Match = %v, want %v", i, got, c.want)
		}
	}
}

func TestTimeSeries(t *testing.T) {
	var spans []Span
	// Five traces per minute for three minutes; the web segment faults in
	// minute 1 once, the orders call is throttled in minute 2 twice.
	n := 0
	for m := range 3 {
		for i := range 5 {
			var web, call []func(*Span)
			if m == 1 && i == 0 {
				web = append(web, status(500))
			}
			if m == 2 && i < 2 {
				call = append(call, status(429))
			}
			tr := shop(n, web, call, nil)
			for k := range tr {
				tr[k].StartUS += uint64(m) * 60_000_000
				if tr[k].EndUS != 0 {
					tr[k].EndUS += uint64(m) * 60_000_000
				}
			}
			spans = append(spans, tr...)
			n++
		}
	}
	a := NewAggregator(Options{ByMinute: true})
	a.AddSpans(spans)
	rows := a.Rows()
	start := time.Unix(int64(t0/1_000_000)/60*60, 0)

	web, _ := ParseSelector(`service("web")`)
	pts := TimeSeries(rows, web, start, time.Minute, false)
	if len(pts) != 3 {
		t.Fatalf("%d points, want 3: %+v", len(pts), pts)
	}
	for m, pt := range pts {
		if pt.Timestamp != float64(start.Unix()+int64(m)*60) || pt.ServiceSummaryStatistics == nil || pt.EdgeSummaryStatistics != nil {
			t.Fatalf("point %d: %+v", m, pt)
		}
		st := pt.ServiceSummaryStatistics
		wantFault := int64(0)
		if m == 1 {
			wantFault = 1
		}
		if st.TotalCount != 5 || st.FaultStatistics.TotalCount != wantFault || st.OkCount != 5-wantFault {
			t.Errorf("point %d: %+v", m, st)
		}
		if len(pt.ResponseTimeHistogram) != 1 || pt.ResponseTimeHistogram[0].Count != 5 {
			t.Errorf("point %d histogram %+v", m, pt.ResponseTimeHistogram)
		}
	}
	e, _ := ParseSelector(`edge("web", "orders")`)
	pts = TimeSeries(rows, e, start, 2*time.Minute, false)
	if len(pts) != 2 || pts[0].EdgeSummaryStatistics.TotalCount != 10 || pts[1].EdgeSummaryStatistics.TotalCount != 5 ||
		pts[1].EdgeSummaryStatistics.ErrorStatistics.ThrottleCount != 2 || pts[0].EdgeSummaryStatistics.ErrorStatistics.ThrottleCount != 0 {
		t.Errorf("edge series %+v", pts)
	}
	entry, _ := ParseSelector("")
	pts = TimeSeries(rows, entry, start, 5*time.Minute, false)
	if len(pts) != 1 || pts[0].EdgeSummaryStatistics.TotalCount != 15 || pts[0].EdgeSummaryStatistics.FaultStatistics.TotalCount != 1 {
		t.Errorf("entry series %+v", pts)
	}
	fn, _ := ParseSelector(`id(name: "web", type: "AWS::EC2::Instance")`)
	pts = TimeSeries(rows, fn, start, time.Minute, true)
	if len(pts) != 3 {
		t.Fatalf("forecast series %+v", pts)
	}
	for _, pt := range pts {
		if f := pt.ServiceForecastStatistics; f == nil || f.FaultCountLow < 0 || f.FaultCountHigh < f.FaultCountLow {
			t.Errorf("forecast %+v", f)
		}
	}
	// Minute 1 (one fault) is above the band of the other two (no faults).
	if f := pts[1].ServiceForecastStatistics; f.FaultCountHigh != 0 {
		t.Errorf("forecast for minute 1 = %+v, want high 0", f)
	}
}
