package segment

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// seedFiles returns the testdata documents (datagrams and bare bodies).
func seedFiles(f *testing.F) [][]byte {
	f.Helper()
	var out [][]byte
	for _, pat := range []string{"testdata/upstream/otel/*.txt", "testdata/sdk/*.txt", "testdata/bench/*.json"} {
		m, err := filepath.Glob(pat)
		if err != nil {
			f.Fatal(err)
		}
		for _, p := range m {
			b, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			out = append(out, b)
		}
	}
	if len(out) < 20 {
		f.Fatalf("only %d seed files", len(out))
	}
	return out
}

func FuzzSplitDatagram(f *testing.F) {
	for _, b := range seedFiles(f) {
		f.Add(b)
	}
	f.Add([]byte("{\"format\":\"json\",\"version\":1}\n"))
	f.Add([]byte("{\"format\":\"JSON\",\"version\":1,\"x\":null}\r\n{}"))
	f.Add([]byte("{\"version\":1.0,\"format\":\"json\"}\n{}"))
	f.Fuzz(func(t *testing.T, pkt []byte) {
		body, err := SplitDatagram(pkt)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) || !errors.Is(err, ErrMalformed) || !slices.Contains(Reasons, de.Reason) || body != nil {
				t.Fatalf("bad error %v (%T), body %q", err, err, body)
			}
			return
		}
		if len(pkt) >= MaxDatagram {
			t.Fatalf("accepted a %d-byte datagram", len(pkt))
		}
		nl := bytes.IndexByte(pkt, '\n')
		if nl < 0 || !bytes.Equal(body, pkt[nl+1:]) || len(bytes.TrimSpace(body)) == 0 {
			t.Fatalf("body %q is not the non-blank rest after the first newline", body)
		}
		var h struct {
			Format  string
			Version json.Number
		}
		if err := json.Unmarshal(pkt[:nl], &h); err != nil || !strings.EqualFold(h.Format, "json") || h.Version != "1" {
			t.Fatalf("accepted header %q (%v)", pkt[:nl], err)
		}
	})
}

func FuzzDecode(f *testing.F) {
	for _, b := range seedFiles(f) {
		if body, err := SplitDatagram(b); err == nil {
			b = body
		}
		f.Add(b)
	}
	for _, tc := range rejectCases() {
		if len(tc.body) < 4096 {
			f.Add([]byte(tc.body))
		}
	}
	f.Add([]byte("[" + sub("1111111111111111") + ",1," + sub("2222222222222222", "name", `"\ud83d\ude80"`) + "]"))
	warm := NewDecoder(testLimits())
	f.Fuzz(func(t *testing.T, body []byte) {
		in := append([]byte(nil), body...)
		d := NewDecoder(testLimits())
		docs, err := d.Decode(body, 7, nil)
		if !bytes.Equal(in, body) {
			t.Fatal("Decode modified its input")
		}
		// A decoder that has decoded other documents gives the same result.
		_, _ = warm.Decode([]byte(mk("annotations", `{"a":1,"b":"x","c":true}`, "subsegments", manySubsegments(3))), 1, nil)
		docs2, err2 := warm.Decode(body, 7, make([]Document, 0, 4))
		if !reflect.DeepEqual(docs, docs2) && !(len(docs) == 0 && len(docs2) == 0) || (err == nil) != (err2 == nil) ||
			err != nil && err.Error() != err2.Error() {
			t.Fatalf("reused decoder differs:\n%v\n%v", err, err2)
		}
		errs := splitErrors(t, err)
		notJSON := false
		for _, e := range errs {
			if !slices.Contains(Reasons, e.Reason) || e.Code == "" || e.Code != CodeFor(e.Reason) {
				t.Fatalf("unknown reason/code %q/%q", e.Reason, e.Code)
			}
			if e.Reason == ReasonNotJSON {
				notJSON = true
			}
		}
		if err == nil && len(docs) == 0 {
			t.Fatal("no documents and no error")
		}
		if notJSON && (len(docs) > 0 || len(errs) != 1) {
			t.Fatalf("not_json with %d documents and %d errors", len(docs), len(errs))
		}
		// Differential check against encoding/json (whose nesting limit is 10,000).
		tooDeep := len(errs) > 0 && errs[0].Reason == ReasonTooDeep
		tooLarge := len(errs) == 1 && errs[0].Reason == ReasonTooLarge
		if valid := json.Valid(body); !tooLarge && !tooDeep && valid == notJSON {
			t.Fatalf("json.Valid=%v but not_json=%v (%v)", valid, notJSON, err)
		}
		for _, doc := range docs {
			checkDocument(t, doc)
			if !json.Valid(doc.Raw) || !bytes.Contains(body, doc.Raw) {
				t.Fatalf("Raw %q is not valid JSON taken from the body", doc.Raw)
			}
			if doc.ReceivedNanos != 7 {
				t.Fatal("ReceivedNanos lost")
			}
			for _, sp := range doc.Spans {
				if sp.EndTime != 0 && sp.EndTime < sp.StartTime || sp.StartTime < minTime {
					t.Fatalf("span %s: times %v..%v", sp.ID, sp.StartTime, sp.EndTime)
				}
			}
		}
	})
}

func FuzzTraceHeader(f *testing.F) {
	for _, s := range []string{
		"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=1:36680206:0",
		"Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=?",
		" Self=1-5759e988-bd862e3fe1be46a994272793 ; Root=1-5759E988-BD862E3FE1BE46A994272793;Foo=bar;x=",
		"Sampled=0;Lineage=a87bd80c:1|68fd508a:5",
		"Root=1-5759e988-bd862e3fe1be46a994272793;Root=1-5759e988-bd862e3fe1be46a994272793",
		"=;;a", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseTraceHeader(s)
		if err != nil {
			if !errors.Is(err, ErrTraceHeader) || !reflect.DeepEqual(h, TraceHeader{}) {
				t.Fatalf("bad error %v with %+v", err, h)
			}
			return
		}
		if h.Root != "" && (!ValidTraceID(h.Root) || strings.ToLower(h.Root) != h.Root) {
			t.Fatalf("Root %q", h.Root)
		}
		if h.Parent != "" && (!ValidID(h.Parent) || strings.ToLower(h.Parent) != h.Parent) {
			t.Fatalf("Parent %q", h.Parent)
		}
		if h.Sampled != 0 && h.Sampled != '0' && h.Sampled != '1' && h.Sampled != '?' {
			t.Fatalf("Sampled %q", h.Sampled)
		}
		again, err := ParseTraceHeader(h.String())
		if err != nil || !reflect.DeepEqual(again, h) {
			t.Fatalf("round trip of %q: %+v, %v; want %+v", h.String(), again, err, h)
		}
	})
}
