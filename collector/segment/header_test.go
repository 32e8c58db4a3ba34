package segment

import (
	"errors"
	"reflect"
	"testing"
)

func TestParseTraceHeader(t *testing.T) {
	const root = "1-5759e988-bd862e3fe1be46a994272793"
	cases := []struct {
		in   string
		want TraceHeader
		str  string
	}{
		{"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=1:36680206:0",
			TraceHeader{Root: root, Parent: "53995c3f42cd8ad8", Sampled: '1', Lineage: "1:36680206:0"},
			"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=1:36680206:0"},
		{" Root = 1-5759e988-bd862e3fe1be46a994272793 ;  Parent=53995c3f42cd8ad8;Sampled=? ; ",
			TraceHeader{Root: root, Parent: "53995c3f42cd8ad8", Sampled: '?'},
			"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=?"},
		{"Self=1-67891233-12456789abcdef012345678;Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0",
			TraceHeader{Root: root, Sampled: '0'},
			"Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0"},
		{"Root=1-5759E988-BD862E3FE1BE46A994272793;Parent=53995C3F42CD8AD8",
			TraceHeader{Root: root, Parent: "53995c3f42cd8ad8"},
			"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8"},
		{"root=1-5759e988-bd862e3fe1be46a994272793;parent=53995c3f42cd8ad8;sampled=1",
			TraceHeader{Root: root, Parent: "53995c3f42cd8ad8", Sampled: '1'},
			"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"},
		{"Sampled=1;Foo=bar;Root=1-5759e988-bd862e3fe1be46a994272793;Empty=;Eq=a=b;Lineage=a87bd80c:1|68fd508a:5",
			TraceHeader{Root: root, Sampled: '1', Lineage: "a87bd80c:1|68fd508a:5", Extra: [][2]string{{"Foo", "bar"}, {"Empty", ""}, {"Eq", "a=b"}}},
			"Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1;Lineage=a87bd80c:1|68fd508a:5;Foo=bar;Empty=;Eq=a=b"},
		{"Sampled=?", TraceHeader{Sampled: '?'}, "Sampled=?"},
		{"", TraceHeader{}, ""},
		{";;", TraceHeader{}, ""},
	}
	for _, tc := range cases {
		got, err := ParseTraceHeader(tc.in)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q:\n got %+v\nwant %+v", tc.in, got, tc.want)
		}
		if s := got.String(); s != tc.str {
			t.Errorf("%q: String() = %q, want %q", tc.in, s, tc.str)
		}
		again, err := ParseTraceHeader(got.String())
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Errorf("%q: round trip gives %+v, %v", tc.in, again, err)
		}
	}
}

func TestParseTraceHeaderErrors(t *testing.T) {
	cases := []struct{ in, msg string }{
		{"Root=1-5759e988-bd862e3fe1be46a99427279", `segment: invalid trace header: Root "1-5759e988-bd862e3fe1be46a99427279" is not a trace id (1-<8 hex>-<24 hex>)`},
		{"Root=", `segment: invalid trace header: Root "" is not a trace id (1-<8 hex>-<24 hex>)`},
		{"Root=5759e988bd862e3fe1be46a994272793", `segment: invalid trace header: Root "5759e988bd862e3fe1be46a994272793" is not a trace id (1-<8 hex>-<24 hex>)`},
		{"Parent=53995c3f42cd8ad", `segment: invalid trace header: Parent "53995c3f42cd8ad" is not 16 hex digits`},
		{"Parent=53995c3f42cd8adz", `segment: invalid trace header: Parent "53995c3f42cd8adz" is not 16 hex digits`},
		{"Sampled=2", `segment: invalid trace header: Sampled "2" is not 1, 0 or ?`},
		{"Sampled=", `segment: invalid trace header: Sampled "" is not 1, 0 or ?`},
		{"Sampled=10", `segment: invalid trace header: Sampled "10" is not 1, 0 or ?`},
		{"Root=1-5759e988-bd862e3fe1be46a994272793;Root=1-5759e988-bd862e3fe1be46a994272794", `segment: invalid trace header: duplicate Root`},
		{"Sampled=1;sampled=0", `segment: invalid trace header: duplicate sampled`},
		{"Root 1-5759e988-bd862e3fe1be46a994272793", `segment: invalid trace header: part "Root 1-5759e988-bd862e3fe1be46a994272793" has no '='`},
		{"=x", `segment: invalid trace header: part "=x" has an empty key`},
		{"Lineage=", `segment: invalid trace header: empty Lineage`},
	}
	for _, tc := range cases {
		h, err := ParseTraceHeader(tc.in)
		if err == nil {
			t.Errorf("%q: accepted as %+v", tc.in, h)
			continue
		}
		if err.Error() != tc.msg {
			t.Errorf("%q:\n got %s\nwant %s", tc.in, err, tc.msg)
		}
		if !errors.Is(err, ErrTraceHeader) {
			t.Errorf("%q: error does not match ErrTraceHeader", tc.in)
		}
		if !reflect.DeepEqual(h, TraceHeader{}) {
			t.Errorf("%q: non-zero header %+v with an error", tc.in, h)
		}
	}
}
