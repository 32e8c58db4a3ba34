package xraytrace

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/fluoro/fluoro/collector/segment"
)

const tid = "1-654c0557-5611b044040fc7224c4790b6"

// mkDoc builds a stored Doc from a raw document the way storage would
// (its columns come from the document itself).
func mkDoc(t testing.TB, raw string) Doc {
	t.Helper()
	var m struct {
		ID         string  `json:"id"`
		ParentID   string  `json:"parent_id"`
		Type       string  `json:"type"`
		InProgress bool    `json:"in_progress"`
		StartTime  float64 `json:"start_time"`
		EndTime    float64 `json:"end_time"`
	}
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatalf("test document is not JSON: %v\n%s", err, raw)
	}
	k := segment.KindSegment
	if m.Type == "subsegment" {
		k = segment.KindSubsegment
	}
	return Doc{ID: m.ID, ParentID: m.ParentID, Kind: k, InProgress: m.InProgress,
		StartTime: m.StartTime, EndTime: m.EndTime, Raw: []byte(raw)}
}

func readDoc(t testing.TB, name string) Doc {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return mkDoc(t, string(b))
}

// canon decodes JSON for semantic comparison (numbers kept as written).
func canon(t testing.TB, s string) any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("not valid JSON: %v\n%s", err, s)
	}
	return normNumbers(v)
}

// normNumbers turns json.Numbers into float64 so that 1.5E9 equals 1500000000.
func normNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, vv := range x {
			x[k] = normNumbers(vv)
		}
	case []any:
		for i, vv := range x {
			x[i] = normNumbers(vv)
		}
	}
	return v
}

// permutations calls f with every order of n items (n ≤ 7).
func permutations(n int, f func(order []int)) {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	var rec func(k int)
	rec = func(k int) {
		if k == n {
			f(slices.Clone(p))
			return
		}
		for i := k; i < n; i++ {
			p[k], p[i] = p[i], p[k]
			rec(k + 1)
			p[k], p[i] = p[i], p[k]
		}
	}
	rec(0)
}

type compileCase struct {
	name string
	docs []string
	// want holds the expected compiled top-level documents, earliest first.
	want []string
	// verbatim lists indexes of docs whose compiled form must be the
	// stored bytes unchanged.
	verbatim []int
	duration float64
}

func TestCompile(t *testing.T) {
	const (
		seg      = `{"id":"5e00000000000001","name":"svc","trace_id":"` + tid + `","start_time":100,"end_time":110,"subsegments":[{"id":"e000000000000001","name":"embedded","start_time":101,"end_time":109}]}`
		segBare  = `{"id":"5e00000000000001","name":"svc","trace_id":"` + tid + `","start_time":100,"end_time":110}`
		subA     = `{"type":"subsegment","id":"a000000000000001","name":"A","trace_id":"` + tid + `","parent_id":"5e00000000000001","start_time":102,"end_time":108}`
		subB     = `{"id":"b000000000000001","name":"B","start_time":103,"end_time":107,"type":"subsegment","trace_id":"` + tid + `","parent_id":"a000000000000001"}`
		subC     = `{"id":"c000000000000001","trace_id":"` + tid + `","parent_id":"b000000000000001","type":"subsegment","name":"C","start_time":104,"end_time":106,"namespace":"remote"}`
		subD     = `{"id":"d000000000000001","name":"D","start_time":105,"end_time":106,"type":"subsegment","trace_id":"` + tid + `","parent_id":"e000000000000001"}`
		subF     = `{"id":"f000000000000001","name":"F","start_time":101.5,"end_time":102,"type":"subsegment","trace_id":"` + tid + `","parent_id":"5e00000000000001","Dummy":false}`
		orphanX  = `{"id":"0000000000000a01","name":"X","start_time":200,"end_time":210,"type":"subsegment","trace_id":"` + tid + `","parent_id":"ffffffffffffffff"}`
		orphanY  = `{"id":"0000000000000a02","name":"Y","start_time":201,"end_time":209,"type":"subsegment","trace_id":"` + tid + `","parent_id":"0000000000000a01"}`
		orphanZ  = `{"id":"0000000000000a03","name":"Z","start_time":202,"end_time":203,"type":"subsegment","trace_id":"` + tid + `","parent_id":"0000000000000a02"}`
		orphanW  = `{"id":"0000000000000a04","name":"W","start_time":199,"end_time":199.5,"type":"subsegment","trace_id":"` + tid + `","parent_id":"eeeeeeeeeeeeeeee"}`
		inprogE  = `{"id":"5e00000000000001","name":"svc","trace_id":"` + tid + `","start_time":100,"end_time":110,"subsegments":[{"id":"e000000000000001","name":"embedded","start_time":101,"in_progress":true},{"id":"e000000000000002","name":"after","start_time":101,"end_time":102}]}`
		complE   = `{"id":"e000000000000001","name":"embedded","start_time":101,"end_time":109.5,"type":"subsegment","trace_id":"` + tid + `","parent_id":"5e00000000000001","http":{"response":{"status":200}}}`
		inprogE2 = `{"id":"e000000000000001","name":"embedded","start_time":101,"in_progress":true,"type":"subsegment","trace_id":"` + tid + `","parent_id":"5e00000000000001"}`
		cycA     = `{"id":"0000000000000c01","name":"cA","start_time":300,"end_time":301,"type":"subsegment","trace_id":"` + tid + `","parent_id":"0000000000000c02"}`
		cycB     = `{"id":"0000000000000c02","name":"cB","start_time":300.5,"end_time":301,"type":"subsegment","trace_id":"` + tid + `","parent_id":"0000000000000c01"}`
		selfP    = `{"id":"0000000000000c03","name":"self","start_time":300,"end_time":301,"type":"subsegment","trace_id":"` + tid + `","parent_id":"0000000000000c03"}`
		escaped  = `{"id":"0000000000000e01","name":"caf\u00e9 \"q\" \/ \u0001 \ud83d\ude00","start_time":100.5,"end_time":101,"type":"subsegment","trace_id":"` + tid + `","parent_id":"5e00000000000001","metadata":{"default":{"k\u00e9y":"line\nbreak"}}}`
	)
	cases := []compileCase{
		{
			name: "nested independent subsegments three levels deep",
			docs: []string{seg, subA, subB, subC, subD, subF},
			want: []string{`{"id":"5e00000000000001","name":"svc","trace_id":"` + tid + `","start_time":100,"end_time":110,"subsegments":[
				{"id":"e000000000000001","name":"embedded","start_time":101,"end_time":109,"subsegments":[{"id":"d000000000000001","name":"D","start_time":105,"end_time":106}]},
				{"id":"f000000000000001","name":"F","start_time":101.5,"end_time":102,"Dummy":false},
				{"name":"A","id":"a000000000000001","start_time":102,"end_time":108,"subsegments":[
					{"id":"b000000000000001","name":"B","start_time":103,"end_time":107,"subsegments":[
						{"id":"c000000000000001","name":"C","start_time":104,"end_time":106,"namespace":"remote"}]}]}]}`},
			duration: 10,
		},
		{
			name: "segment without subsegments member gets one",
			docs: []string{segBare, subF},
			want: []string{`{"id":"5e00000000000001","name":"svc","trace_id":"` + tid + `","start_time":100,"end_time":110,"subsegments":[
				{"id":"f000000000000001","name":"F","start_time":101.5,"end_time":102,"Dummy":false}]}`},
			duration: 10,
		},
		{
			name: "orphans stay top-level with their children merged",
			docs: []string{orphanX, orphanY, orphanZ, orphanW},
			want: []string{orphanW, `{"id":"0000000000000a01","name":"X","start_time":200,"end_time":210,"type":"subsegment","trace_id":"` + tid + `","parent_id":"ffffffffffffffff","subsegments":[
				{"id":"0000000000000a02","name":"Y","start_time":201,"end_time":209,"subsegments":[
					{"id":"0000000000000a03","name":"Z","start_time":202,"end_time":203}]}]}`},
			verbatim: []int{3},
			duration: 11,
		},
		{
			name: "complete independent copy replaces an in-progress embedded one in place",
			docs: []string{inprogE, complE},
			want: []string{`{"id":"5e00000000000001","name":"svc","trace_id":"` + tid + `","start_time":100,"end_time":110,"subsegments":[
				{"id":"e000000000000001","name":"embedded","start_time":101,"end_time":109.5,"http":{"response":{"status":200}}},
				{"id":"e000000000000002","name":"after","start_time":101,"end_time":102}]}`},
			duration: 10,
		},
		{
			name:     "in-progress independent copy loses to a complete embedded one",
			docs:     []string{seg, inprogE2},
			want:     []string{seg},
			verbatim: []int{0},
			duration: 10,
		},
		{
			name: "cycle of independent subsegments is cut at the earliest",
			docs: []string{cycB, cycA},
			want: []string{`{"id":"0000000000000c01","name":"cA","start_time":300,"end_time":301,"type":"subsegment","trace_id":"` + tid + `","parent_id":"0000000000000c02","subsegments":[
				{"id":"0000000000000c02","name":"cB","start_time":300.5,"end_time":301}]}`},
			duration: 1,
		},
		{
			name:     "subsegment naming itself as parent is an orphan",
			docs:     []string{selfP},
			want:     []string{selfP},
			verbatim: []int{0},
			duration: 1,
		},
		{
			name: "ids match whatever their case",
			docs: []string{
				`{"id":"5E00000000000001","name":"svc","trace_id":"` + tid + `","start_time":100,"end_time":110,"subsegments":[{"id":"E000000000000001","name":"embedded","start_time":101,"end_time":109}]}`,
				`{"id":"d000000000000001","name":"D","start_time":105,"end_time":106,"type":"subsegment","trace_id":"` + tid + `","parent_id":"e000000000000001"}`,
				`{"id":"D000000000000002","name":"D2","start_time":106,"end_time":107,"type":"subsegment","trace_id":"` + tid + `","parent_id":"5e00000000000001"}`,
			},
			want: []string{`{"id":"5E00000000000001","name":"svc","trace_id":"` + tid + `","start_time":100,"end_time":110,"subsegments":[
				{"id":"E000000000000001","name":"embedded","start_time":101,"end_time":109,"subsegments":[{"id":"d000000000000001","name":"D","start_time":105,"end_time":106}]},
				{"id":"D000000000000002","name":"D2","start_time":106,"end_time":107}]}`},
			duration: 10,
		},
		{
			name: "escapes survive re-serialisation",
			docs: []string{segBare, escaped},
			want: []string{`{"id":"5e00000000000001","name":"svc","trace_id":"` + tid + `","start_time":100,"end_time":110,"subsegments":[
				{"id":"0000000000000e01","name":"café \"q\" / \u0001 😀","start_time":100.5,"end_time":101,"metadata":{"default":{"kéy":"line\nbreak"}}}]}`},
			duration: 10,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			permutations(len(tc.docs), func(order []int) {
				docs := make([]Doc, len(order))
				for i, k := range order {
					docs[i] = mkDoc(t, tc.docs[k])
				}
				a := Assemble(tid, docs)
				tr := a.Trace(0)
				checkTrace(t, tc, order, tr)
				if len(a.Invalid()) != 0 {
					t.Errorf("order %v: Invalid() = %v", order, a.Invalid())
				}
			})
		})
	}
}

func checkTrace(t *testing.T, tc compileCase, order []int, tr Trace) {
	t.Helper()
	if tr.ID != tid {
		t.Errorf("order %v: Id = %q", order, tr.ID)
	}
	if tr.Duration != tc.duration {
		t.Errorf("order %v: Duration = %v, want %v", order, tr.Duration, tc.duration)
	}
	if len(tr.Segments) != len(tc.want) {
		t.Fatalf("order %v: %d segments, want %d: %+v", order, len(tr.Segments), len(tc.want), tr.Segments)
	}
	for i, w := range tc.want {
		got := tr.Segments[i]
		if !reflect.DeepEqual(canon(t, got.Document), canon(t, w)) {
			t.Errorf("order %v: segment %d\n got %s\nwant %s", order, i, got.Document, compact(t, w))
		}
		var idOnly struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal([]byte(w), &idOnly)
		if got.ID != strings.ToLower(idOnly.ID) {
			t.Errorf("order %v: segment %d Id = %q, want %q", order, i, got.ID, idOnly.ID)
		}
	}
	for _, k := range tc.verbatim {
		found := false
		for _, s := range tr.Segments {
			if s.Document == tc.docs[k] {
				found = true
			}
		}
		if !found {
			t.Errorf("order %v: document %d not returned byte for byte", order, k)
		}
	}
}

func compact(t testing.TB, s string) string {
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestCompileLambdaFacade: the function segment comes from the Lambda
// service, the SDK subsegments from inside the function with parent_id =
// the function segment id; they must end up in the function segment
// whatever the arrival order, and stay top-level while it is missing.
func TestCompileLambdaFacade(t *testing.T) {
	files := []string{"lambda-service.json", "lambda-function.json", "lambda-sdk-handler.json", "lambda-sdk-dynamodb.json", "lambda-sdk-remote.json"}
	all := make([]Doc, len(files))
	for i, f := range files {
		all[i] = readDoc(t, f)
	}
	permutations(len(all), func(order []int) {
		docs := make([]Doc, len(order))
		for i, k := range order {
			docs[i] = all[k]
		}
		tr := Assemble(tid, docs).Trace(0)
		if len(tr.Segments) != 2 {
			t.Fatalf("order %v: %d segments, want 2", order, len(tr.Segments))
		}
		if tr.Segments[0].ID != "0285bf1261be05ff" || tr.Segments[0].Document != string(all[0].Raw) {
			t.Errorf("order %v: AWS::Lambda segment not returned verbatim first: %s", order, tr.Segments[0].Document)
		}
		fn := canon(t, tr.Segments[1].Document).(map[string]any)
		subs := fn["subsegments"].([]any)
		var names []string
		for _, s := range subs {
			names = append(names, s.(map[string]any)["name"].(string))
		}
		if want := []string{"Initialization", "Invocation", "Overhead", "## handler"}; !slices.Equal(names, want) {
			t.Fatalf("order %v: function subsegments %v, want %v", order, names, want)
		}
		handler := subs[3].(map[string]any)
		for _, k := range []string{"type", "trace_id", "parent_id"} {
			if _, ok := handler[k]; ok {
				t.Errorf("order %v: merged subsegment keeps %q", order, k)
			}
		}
		if handler["Dummy"] != false || handler["user"] != "alice" {
			t.Errorf("order %v: merged subsegment lost members: %v", order, handler)
		}
		hs := handler["subsegments"].([]any)
		if len(hs) != 2 || hs[0].(map[string]any)["name"] != "DynamoDB" || hs[1].(map[string]any)["name"] != "api.example.com" {
			t.Fatalf("order %v: handler subsegments %v", order, hs)
		}
		ddb := hs[0].(map[string]any)
		if ss := ddb["subsegments"].([]any); len(ss) != 1 || ss[0].(map[string]any)["name"] != "attempt" {
			t.Errorf("order %v: embedded subsegment of merged document lost: %v", order, ddb)
		}
		// Everything the function segment had is still there.
		orig := canon(t, string(all[1].Raw)).(map[string]any)
		for k, v := range orig {
			if k == "subsegments" {
				continue
			}
			if !reflect.DeepEqual(fn[k], v) {
				t.Errorf("order %v: function member %q changed: %v", order, k, fn[k])
			}
		}
	})

	t.Run("function segment missing", func(t *testing.T) {
		docs := []Doc{all[4], all[3], all[2], all[0]}
		tr := Assemble(tid, docs).Trace(0)
		if len(tr.Segments) != 2 {
			t.Fatalf("%d segments, want 2 (AWS::Lambda + orphan handler)", len(tr.Segments))
		}
		h := canon(t, tr.Segments[1].Document).(map[string]any)
		if h["type"] != "subsegment" || h["parent_id"] != "17e84e76450d1777" || h["trace_id"] != tid {
			t.Errorf("orphan lost its independent-subsegment members: %v", h)
		}
		if len(h["subsegments"].([]any)) != 2 {
			t.Errorf("orphan children not merged: %v", h["subsegments"])
		}
	})
}

func TestCompileVerbatimAndInvalid(t *testing.T) {
	ddb := readDoc(t, "ddbSample.txt")
	bad := Doc{ID: "0000000000000bad", Kind: segment.KindSegment, StartTime: 1596566306, EndTime: 1596566307, Raw: []byte(`not json`)}
	a := Assemble("1-5f29ab21-d4ebf299219a65bd5c31d6da", []Doc{bad, ddb})
	tr := a.Trace(0)
	if len(tr.Segments) != 2 || tr.Segments[0].Document != string(ddb.Raw) || tr.Segments[1].Document != "not json" {
		t.Fatalf("segments %+v", tr.Segments)
	}
	if got := a.Invalid(); !slices.Equal(got, []string{"0000000000000bad"}) {
		t.Errorf("Invalid() = %v", got)
	}
	if want := round6(1596566307 - 1596566305.535414); tr.Duration != want {
		t.Errorf("Duration = %v, want %v", tr.Duration, want)
	}
}

func TestCompileLimitExceeded(t *testing.T) {
	var docs []Doc
	for _, f := range []string{"lambda-service.json", "lambda-function.json"} {
		docs = append(docs, readDoc(t, f))
	}
	tests := []struct {
		max      int
		segments int
		exceeded bool
	}{
		{0, 2, false},
		{len(docs[0].Raw) + len(docs[1].Raw), 2, false},
		{len(docs[0].Raw) + len(docs[1].Raw) - 1, 1, true},
		{1, 1, true}, // the first document always comes back
	}
	for _, tc := range tests {
		tr := Assemble(tid, docs).Trace(tc.max)
		if len(tr.Segments) != tc.segments || tr.LimitExceeded != tc.exceeded {
			t.Errorf("max %d: %d segments, LimitExceeded %v; want %d, %v", tc.max, len(tr.Segments), tr.LimitExceeded, tc.segments, tc.exceeded)
		}
	}
}

func TestAppendString(t *testing.T) {
	for _, s := range []string{"", "plain", "q\"b\\", "\x00\x1f\n\r\t", "é😀", "\u2028\u2029", "bad\xff\xfeutf8", "<&>"} {
		got := appendString(nil, []byte(s))
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Errorf("%q → %s: invalid JSON: %v", s, got, err)
			continue
		}
		ref, _ := json.Marshal(s)
		var want string
		_ = json.Unmarshal(ref, &want)
		if back != want {
			t.Errorf("%q → %s → %q", s, got, back)
		}
	}
}
