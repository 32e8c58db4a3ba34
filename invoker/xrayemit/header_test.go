package xrayemit

import (
	"errors"
	"testing"
	"time"
)

func TestParseHeader(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Header
		str  string // expected String(); "" = same as in
		err  bool
	}{
		{name: "full", in: "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
			want: Header{Root: "1-5759e988-bd862e3fe1be46a994272793", Parent: "53995c3f42cd8ad8", Sampled: '1'}},
		{name: "root only", in: "Root=1-5759e988-bd862e3fe1be46a994272793",
			want: Header{Root: "1-5759e988-bd862e3fe1be46a994272793"}},
		{name: "spaces case lineage self extra", in: " root=1-5759e988-bd862e3fe1be46a994272793 ; Self=1-5759e988-bd862e3fe1be46a994272794;sampled=?;Lineage=1:36680206:0;Foo=bar",
			want: Header{Root: "1-5759e988-bd862e3fe1be46a994272793", Sampled: '?', Lineage: "1:36680206:0", Extra: [][2]string{{"Foo", "bar"}}},
			str:  "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=?;Lineage=1:36680206:0;Foo=bar"},
		{name: "sampled only", in: "Sampled=0", want: Header{Sampled: '0'}},
		{name: "empty", in: "", want: Header{}},
		{name: "bad root", in: "Root=1-xyz", err: true},
		{name: "bad parent", in: "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=123", err: true},
		{name: "bad sampled", in: "Sampled=yes", err: true},
		{name: "no equals", in: "Root", err: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := ParseHeader(tc.in)
			if tc.err {
				if !errors.Is(err, ErrInvalidHeader) {
					t.Fatalf("ParseHeader(%q) err = %v, want ErrInvalidHeader", tc.in, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseHeader(%q): %v", tc.in, err)
			}
			if h.Root != tc.want.Root || h.Parent != tc.want.Parent || h.Sampled != tc.want.Sampled ||
				h.Lineage != tc.want.Lineage || len(h.Extra) != len(tc.want.Extra) {
				t.Fatalf("ParseHeader(%q) = %+v, want %+v", tc.in, h, tc.want)
			}
			want := tc.str
			if want == "" {
				want = tc.in
			}
			if got := h.String(); got != want {
				t.Errorf("String() = %q, want %q", got, want)
			}
		})
	}
}

func TestIDs(t *testing.T) {
	now := time.Unix(0x5759e988, 0)
	for range 100 {
		id := NewID()
		if !ValidID(id) {
			t.Fatalf("NewID() = %q, not 16 hex", id)
		}
		tid := NewTraceID(now)
		if !ValidTraceID(tid) || tid[2:10] != "5759e988" {
			t.Fatalf("NewTraceID() = %q", tid)
		}
	}
}

func FuzzParseHeader(f *testing.F) {
	f.Add("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
	f.Add("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=?;Lineage=1:36680206:0;x=y")
	f.Add(";;=;Parent=")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseHeader(s)
		if err != nil {
			return
		}
		// What we format must parse back to the same header.
		h2, err := ParseHeader(h.String())
		if err != nil {
			t.Fatalf("re-parse of %q: %v", h.String(), err)
		}
		if h2.String() != h.String() {
			t.Fatalf("round trip %q != %q", h2.String(), h.String())
		}
	})
}
