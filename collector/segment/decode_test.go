package segment

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// Base members of a valid segment; mk overrides them.
var baseMembers = [][2]string{
	{"trace_id", `"1-6b095642-9004aff31d3d69fd72297660"`},
	{"id", `"da3cea201c5b8ca6"`},
	{"name", `"svc"`},
	{"start_time", `1795774018.95`},
	{"end_time", `1795774019.5`},
}

// mk returns a segment document: the base members with kv (key, raw JSON
// value pairs) replacing or adding members; a value of "-" deletes.
func mk(kv ...string) string {
	members := append([][2]string(nil), baseMembers...)
	for i := 0; i < len(kv); i += 2 {
		k, v := kv[i], kv[i+1]
		found := false
		for j := range members {
			if members[j][0] == k {
				members[j][1] = v
				found = true
			}
		}
		if !found {
			members = append(members, [2]string{k, v})
		}
	}
	var b strings.Builder
	b.WriteByte('{')
	n := 0
	for _, m := range members {
		if m[1] == "-" {
			continue
		}
		if n > 0 {
			b.WriteByte(',')
		}
		n++
		fmt.Fprintf(&b, "%q:%s", m[0], m[1])
	}
	b.WriteByte('}')
	return b.String()
}

func sub(id string, kv ...string) string {
	return mk(append([]string{"id", `"` + id + `"`, "type", `"subsegment"`, "parent_id", `"9db7fbde8d283f37"`}, kv...)...)
}

func nested(depth int) string {
	var b strings.Builder
	for i := 0; i < depth; i++ {
		fmt.Fprintf(&b, `{"id":"%016x","name":"n","start_time":1795774018.95,"end_time":1795774019,"subsegments":[`, i+1)
	}
	for i := 0; i < depth; i++ {
		b.WriteString("]}")
	}
	s := b.String()
	// The outermost object is the document: give it a trace id.
	return `{"trace_id":"1-6b095642-9004aff31d3d69fd72297660",` + s[1:]
}

func annotations(n int) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"k%d":%d`, i, i)
	}
	b.WriteByte('}')
	return b.String()
}

func manySubsegments(n int) string {
	var b strings.Builder
	b.WriteByte('[')
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"%016x","name":"s","start_time":1795774018.95,"end_time":1795774019}`, i+1)
	}
	b.WriteByte(']')
	return b.String()
}

type rejectCase struct {
	name   string
	body   string
	reason string
	limits func(*Limits)
	// semantic is true when the document is JSON but invalid: it must be
	// rejected alone inside an array of good documents.
	semantic bool
}

func rejectCases() []rejectCase {
	deepMeta := `{"a":` + strings.Repeat(`[`, 10000) + strings.Repeat(`]`, 10000) + `}`
	return []rejectCase{
		{name: "empty body", body: "", reason: ReasonNotJSON},
		{name: "blank body", body: " \n\t", reason: ReasonNotJSON},
		{name: "not json", body: "hello", reason: ReasonNotJSON},
		{name: "truncated", body: mk()[:60], reason: ReasonNotJSON},
		{name: "trailing garbage", body: mk() + "}", reason: ReasonNotJSON},
		{name: "two documents", body: mk() + mk(), reason: ReasonNotJSON},
		{name: "NaN literal", body: mk("end_time", "NaN"), reason: ReasonNotJSON},
		{name: "Infinity literal", body: mk("end_time", "Infinity"), reason: ReasonNotJSON},
		{name: "leading plus", body: mk("end_time", "+1795774019"), reason: ReasonNotJSON},
		{name: "leading zero", body: mk("end_time", "01795774019"), reason: ReasonNotJSON},
		{name: "bad escape", body: mk("name", `"a\x"`), reason: ReasonNotJSON},
		{name: "control char in string", body: mk("name", "\"a\x01b\""), reason: ReasonNotJSON},
		{name: "single quotes", body: `{'id':'da3cea201c5b8ca6'}`, reason: ReasonNotJSON},
		{name: "trailing comma", body: mk("x", `[1,]`), reason: ReasonNotJSON},
		{name: "unclosed deep array", body: mk("metadata", strings.Repeat("[", 10000)), reason: ReasonNotJSON},
		{name: "number body", body: "42", reason: ReasonNotObject},
		{name: "string body", body: `"x"`, reason: ReasonNotObject},
		{name: "empty array", body: "[ ]", reason: ReasonEmptyBody},
		{name: "over 64 KiB", body: mk("metadata", `{"pad":"`+strings.Repeat("x", 64<<10)+`"}`), reason: ReasonTooLarge},
		{name: "100,000 annotations", body: mk("annotations", annotations(100000)), reason: ReasonTooLarge},
		{name: "100,000 annotations, large limit", body: mk("annotations", annotations(100000)), reason: ReasonTooManyAnnotations,
			limits: func(l *Limits) { l.MaxDocumentBytes = 4 << 20 }, semantic: true},
		{name: "1,001 annotations", body: mk("annotations", annotations(1001)), reason: ReasonTooManyAnnotations, semantic: true},
		{name: "subsegments 10,000 deep", body: nested(10000), reason: ReasonTooLarge},
		{name: "subsegments 10,000 deep, large limit", body: nested(10000), reason: ReasonTooDeep,
			limits: func(l *Limits) { l.MaxDocumentBytes = 4 << 20 }, semantic: true},
		{name: "subsegments 65 deep", body: nested(65), reason: ReasonTooDeep, semantic: true},
		{name: "metadata 10,000 deep", body: mk("metadata", deepMeta), reason: ReasonTooDeep, semantic: true},
		{name: "array nesting 200 deep in annotations", body: mk("annotations", `{"a":`+strings.Repeat("[", 200)+strings.Repeat("]", 200)+`}`), reason: ReasonInvalidAnnotation, semantic: true},
		{name: "too many subsegments", body: mk("subsegments", manySubsegments(11)), reason: ReasonTooManySubsegments,
			limits: func(l *Limits) { l.MaxSubsegments = 10 }, semantic: true},
		{name: "missing id", body: mk("id", "-"), reason: ReasonMissingID, semantic: true},
		{name: "null id", body: mk("id", "null"), reason: ReasonMissingID, semantic: true},
		{name: "independent subsegment without parent_id", body: mk("type", `"subsegment"`), reason: ReasonMissingID, semantic: true},
		{name: "subsegment without id", body: mk("subsegments", `[{"name":"s","start_time":1795774018.95,"end_time":1795774019}]`), reason: ReasonMissingID, semantic: true},
		{name: "short id", body: mk("id", `"da3cea201c5b8ca"`), reason: ReasonInvalidID, semantic: true},
		{name: "long id", body: mk("id", `"da3cea201c5b8ca60"`), reason: ReasonInvalidID, semantic: true},
		{name: "non-hex id", body: mk("id", `"da3cea201c5b8cag"`), reason: ReasonInvalidID, semantic: true},
		{name: "numeric id", body: mk("id", `1234567890123456`), reason: ReasonInvalidID, semantic: true},
		{name: "bad parent_id", body: mk("parent_id", `"parent"`), reason: ReasonInvalidID, semantic: true},
		{name: "bad subsegment id", body: mk("subsegments", `[{"id":"nothex!!nothex!!","name":"s","start_time":1795774018.95,"end_time":1795774019}]`), reason: ReasonInvalidID, semantic: true},
		{name: "missing trace_id", body: mk("trace_id", "-"), reason: ReasonInvalidTraceID, semantic: true},
		{name: "trace_id version 2", body: mk("trace_id", `"2-6b095642-9004aff31d3d69fd72297660"`), reason: ReasonInvalidTraceID, semantic: true},
		{name: "trace_id short random", body: mk("trace_id", `"1-6b095642-9004aff31d3d69fd7229766"`), reason: ReasonInvalidTraceID, semantic: true},
		{name: "trace_id non-hex", body: mk("trace_id", `"1-6b09564z-9004aff31d3d69fd72297660"`), reason: ReasonInvalidTraceID, semantic: true},
		{name: "trace_id w3c", body: mk("trace_id", `"6b0956429004aff31d3d69fd72297660"`), reason: ReasonInvalidTraceID, semantic: true},
		{name: "missing name", body: mk("name", "-"), reason: ReasonInvalidName, semantic: true},
		{name: "empty name", body: mk("name", `""`), reason: ReasonInvalidName, semantic: true},
		{name: "201-char name", body: mk("name", `"`+strings.Repeat("n", 201)+`"`), reason: ReasonInvalidName, semantic: true},
		{name: "201-rune name", body: mk("name", `"`+strings.Repeat("é", 201)+`"`), reason: ReasonInvalidName, semantic: true},
		{name: "control char name", body: mk("name", `"a\u0007b"`), reason: ReasonInvalidName, semantic: true},
		{name: "invalid UTF-8 name", body: mk("name", "\"a\xffb\""), reason: ReasonInvalidName, semantic: true},
		{name: "strict name", body: mk("name", `"orders(v2)"`), reason: ReasonInvalidName,
			limits: func(l *Limits) { l.StrictNames = true }, semantic: true},
		{name: "numeric name", body: mk("name", `7`), reason: ReasonInvalidName, semantic: true},
		{name: "missing start_time", body: mk("start_time", "-"), reason: ReasonInvalidTime, semantic: true},
		{name: "string start_time", body: mk("start_time", `"1795774018.95"`), reason: ReasonInvalidTime, semantic: true},
		{name: "NaN string start_time", body: mk("start_time", `"NaN"`), reason: ReasonInvalidTime, semantic: true},
		{name: "negative start_time", body: mk("start_time", `-1795774018.95`), reason: ReasonInvalidTime, semantic: true},
		{name: "zero start_time", body: mk("start_time", `0`), reason: ReasonInvalidTime, semantic: true},
		{name: "start_time before 2010", body: mk("start_time", `1000000000`), reason: ReasonInvalidTime, semantic: true},
		{name: "start_time overflow", body: mk("start_time", `1e400`), reason: ReasonInvalidTime, semantic: true},
		{name: "milliseconds", body: mk("start_time", `1795774018950`, "end_time", `1795774019500`), reason: ReasonInvalidTime, semantic: true},
		{name: "end_time far future", body: mk("end_time", `1895774019.5`), reason: ReasonInvalidTime, semantic: true},
		{name: "end before start", body: mk("end_time", `1795774018.9`), reason: ReasonInvalidTime, semantic: true},
		{name: "neither end_time nor in_progress", body: mk("end_time", "-"), reason: ReasonInvalidTime, semantic: true},
		{name: "in_progress false without end_time", body: mk("end_time", "-", "in_progress", "false"), reason: ReasonInvalidTime, semantic: true},
		{name: "end_time and in_progress", body: mk("in_progress", "true"), reason: ReasonInvalidTime, semantic: true},
		{name: "subsegment without end_time", body: mk("subsegments", `[{"id":"0000000000000001","name":"s","start_time":1795774018.95}]`), reason: ReasonInvalidTime, semantic: true},
		{name: "unknown type", body: mk("type", `"trace"`), reason: ReasonInvalidType, semantic: true},
		{name: "bad namespace", body: mk("namespace", `"invalidNs"`), reason: ReasonInvalidNamespace, semantic: true},
		{name: "upper-case namespace", body: mk("namespace", `"AWS"`), reason: ReasonInvalidNamespace, semantic: true},
		{name: "annotations array", body: mk("annotations", `[1]`), reason: ReasonInvalidAnnotation, semantic: true},
		{name: "annotation object", body: mk("annotations", `{"a":{"b":1}}`), reason: ReasonInvalidAnnotation, semantic: true},
		{name: "annotation array", body: mk("annotations", `{"a":[1]}`), reason: ReasonInvalidAnnotation, semantic: true},
		{name: "annotation null", body: mk("annotations", `{"a":null}`), reason: ReasonInvalidAnnotation, semantic: true},
		{name: "annotation overflow", body: mk("annotations", `{"a":-1e999}`), reason: ReasonInvalidAnnotation, semantic: true},
		{name: "cause number", body: mk("cause", `200`), reason: ReasonInvalidCause, semantic: true},
		{name: "cause bool", body: mk("cause", `true`), reason: ReasonInvalidCause, semantic: true},
		{name: "cause short id", body: mk("cause", `"abc"`), reason: ReasonInvalidCause, semantic: true},
		{name: "cause exceptions object", body: mk("cause", `{"exceptions":{}}`), reason: ReasonInvalidCause, semantic: true},
		{name: "cause exception string", body: mk("cause", `{"exceptions":["boom"]}`), reason: ReasonInvalidCause, semantic: true},
		{name: "error not bool", body: mk("error", `"true"`), reason: ReasonInvalidField, semantic: true},
		{name: "http not object", body: mk("http", `"GET /"`), reason: ReasonInvalidField, semantic: true},
		{name: "url not string", body: mk("http", `{"request":{"url":5}}`), reason: ReasonInvalidField, semantic: true},
		{name: "status bool", body: mk("http", `{"response":{"status":true}}`), reason: ReasonInvalidField, semantic: true},
		{name: "subsegments object", body: mk("subsegments", `{}`), reason: ReasonInvalidField, semantic: true},
		{name: "subsegment not object", body: mk("subsegments", `[1]`), reason: ReasonInvalidField, semantic: true},
		{name: "user number", body: mk("user", `5`), reason: ReasonInvalidField, semantic: true},
	}
}

func TestDecodeRejects(t *testing.T) {
	covered := map[string]bool{}
	for _, tc := range rejectCases() {
		t.Run(tc.name, func(t *testing.T) {
			l := testLimits()
			if tc.limits != nil {
				tc.limits(&l)
			}
			d := NewDecoder(l)
			docs, err := d.Decode([]byte(tc.body), 1, nil)
			if len(docs) != 0 {
				t.Fatalf("accepted %d documents, want rejection %s", len(docs), tc.reason)
			}
			errs := splitErrors(t, err)
			if len(errs) != 1 {
				t.Fatalf("got %d errors (%v), want one %s", len(errs), err, tc.reason)
			}
			if errs[0].Reason != tc.reason {
				t.Fatalf("reason %s (%v), want %s", errs[0].Reason, err, tc.reason)
			}
			if errs[0].Code != CodeFor(tc.reason) || errs[0].Code == "" {
				t.Errorf("code %q, want %q", errs[0].Code, CodeFor(tc.reason))
			}
			if !tc.semantic {
				return
			}
			// The same document between two good ones in an array: only it is rejected.
			good1, good2 := sub("1111111111111111"), sub("2222222222222222")
			arr := "[" + good1 + ",\n" + tc.body + " , " + good2 + "]"
			l.MaxDocumentBytes = len(arr) + 1
			d = NewDecoder(l)
			docs, err = d.Decode([]byte(arr), 1, nil)
			if len(docs) != 2 || docs[0].ID != "1111111111111111" || docs[1].ID != "2222222222222222" {
				t.Fatalf("array: got %d documents, want the two good ones", len(docs))
			}
			if string(docs[0].Raw) != good1 || string(docs[1].Raw) != good2 {
				t.Errorf("array: Raw of good documents is not their exact bytes")
			}
			errs = splitErrors(t, err)
			if len(errs) != 1 || errs[0].Reason != tc.reason || errs[0].Index != 1 {
				t.Fatalf("array: errors %v, want one %s at index 1", err, tc.reason)
			}
		})
		covered[tc.reason] = true
	}
	covered[ReasonInvalidHeader] = true // SplitDatagram, TestSplitDatagram
	for _, r := range Reasons {
		if !covered[r] {
			t.Errorf("reason %s has no test case", r)
		}
	}
}

// A body that is not JSON rejects the whole array, appending nothing.
func TestDecodeArrayNotJSON(t *testing.T) {
	d := NewDecoder(testLimits())
	dst := make([]Document, 1, 4)
	body := "[" + sub("1111111111111111") + "," + sub("2222222222222222")[:40]
	got, err := d.Decode([]byte(body), 1, dst)
	if len(got) != 1 {
		t.Fatalf("len %d, want the 1 document already in dst", len(got))
	}
	if errs := splitErrors(t, err); len(errs) != 1 || errs[0].Reason != ReasonNotJSON {
		t.Fatalf("error %v, want one not_json", err)
	}
}

func TestDecodeAccepts(t *testing.T) {
	cases := []struct {
		name  string
		body  string
		check func(t *testing.T, d Document)
	}{
		{"in progress", mk("end_time", "-", "in_progress", "true"), func(t *testing.T, d Document) {
			if !d.InProgress || d.EndTime != 0 {
				t.Errorf("InProgress %v EndTime %v", d.InProgress, d.EndTime)
			}
		}},
		{"in_progress false with end_time", mk("in_progress", "false"), nil},
		{"upper-case ids normalised", mk("id", `"DA3CEA201C5B8CA6"`, "trace_id", `"1-6B095642-9004AFF31D3D69FD72297660"`, "parent_id", `"ABCDEFABCDEFABCD"`), func(t *testing.T, d Document) {
			if d.ID != "da3cea201c5b8ca6" || d.TraceID != "1-6b095642-9004aff31d3d69fd72297660" || d.ParentID != "abcdefabcdefabcd" {
				t.Errorf("ids not lower-cased: %s %s %s", d.ID, d.TraceID, d.ParentID)
			}
		}},
		{"null optional members", mk("parent_id", "null", "http", "null", "aws", "null", "cause", "null", "annotations", "null", "subsegments", "null", "error", "null", "user", "null"), nil},
		{"unknown members", mk("Dummy", "false", "links", `[{"trace_id":"1-654c0558-630340be09e985eb352a72e6","id":"2acd99f6ce4d0822","attributes":{}}]`, "precursor_ids", `["0000000000000001"]`, "inferred", "true"), nil},
		{"exponent times", mk("start_time", "1.79577401895E9", "end_time", "1.7957740195E9"), func(t *testing.T, d Document) {
			if d.StartTime != 1795774018.95 {
				t.Errorf("start %v", d.StartTime)
			}
		}},
		{"equal start and end", mk("end_time", "1795774018.95"), nil},
		{"sdk names", mk("name", `"ebdb@db.host"`, "subsegments", `[{"id":"0000000000000001","name":"api/stage","start_time":1795774018.95,"end_time":1795774019},{"id":"0000000000000002","name":"names.example.com:8443","start_time":1795774018.95,"end_time":1795774019},{"id":"0000000000000003","name":"## handler_fn","start_time":1795774018.95,"end_time":1795774019},{"id":"0000000000000004","name":"a+b=c%d&e#f\\\\g-h_i","start_time":1795774018.95,"end_time":1795774019}]`), nil},
		{"lenient name characters", mk("name", `"OrderService.place(Order) [v2] *"`), nil},
		{"200-char name", mk("name", `"`+strings.Repeat("é", 200)+`"`), nil},
		{"colon annotation keys", mk("annotations", `{"aws:api_id":"a1b2c3","aws:api_stage":"prod","n":-1.5e3,"b":true}`), func(t *testing.T, d Document) {
			s := d.Spans[0]
			if len(s.AnnStrKeys) != 2 || s.AnnStrKeys[0] != "aws:api_id" || s.AnnNumValues[0] != -1500 || !s.AnnBoolValues[0] {
				t.Errorf("annotations %+v", s)
			}
		}},
		{"1,000 annotations", mk("annotations", annotations(1000)), func(t *testing.T, d Document) {
			if len(d.Spans[0].AnnNumKeys) != 1000 {
				t.Errorf("%d annotations", len(d.Spans[0].AnnNumKeys))
			}
		}},
		{"subsegments 60 deep", nested(60), func(t *testing.T, d Document) {
			if len(d.Spans) != 60 || d.Spans[59].Depth != 59 {
				t.Errorf("%d spans", len(d.Spans))
			}
		}},
		{"content_length and status as strings", mk("http", `{"response":{"status":"404","content_length":"861"}}`), func(t *testing.T, d Document) {
			if d.Spans[0].HTTPStatus != 404 || d.Spans[0].HTTPContentLength != 861 {
				t.Errorf("%+v", d.Spans[0])
			}
		}},
		{"aws resource priority", mk("aws", `{"resource_names":["from-list"],"table_name":"orders","operation":"GetItem","region":"eu-west-1","account_id":"123456789012","retries":0}`), func(t *testing.T, d Document) {
			s := d.Spans[0]
			if s.AWSResource != "orders" || s.AWSOperation != "GetItem" || s.AWSRegion != "eu-west-1" || s.AWSAccountID != "123456789012" {
				t.Errorf("%+v", s)
			}
		}},
		{"aws resource_names only", mk("aws", `{"resource_names":["list-orders","other"]}`), func(t *testing.T, d Document) {
			if d.Spans[0].AWSResource != "list-orders" {
				t.Errorf("%q", d.Spans[0].AWSResource)
			}
		}},
		{"cause empty object", mk("cause", `{}`), nil},
		{"cause id", mk("cause", `"ABCDEF0123456789"`), func(t *testing.T, d Document) {
			if d.Spans[0].CauseID != "abcdef0123456789" {
				t.Errorf("%q", d.Spans[0].CauseID)
			}
		}},
		{"remote in second exception", mk("cause", `{"exceptions":[{"type":"A","message":"a"},{"type":"B","remote":true}]}`), func(t *testing.T, d Document) {
			s := d.Spans[0]
			if s.CauseType != "A" || s.CauseMessage != "a" || !s.Remote {
				t.Errorf("%+v", s)
			}
		}},
		{"whitespace everywhere", " \r\n\t{ \"trace_id\" : \"1-6b095642-9004aff31d3d69fd72297660\" ,\n\"id\":\"da3cea201c5b8ca6\" , \"name\" :\"svc\",\"start_time\": 1795774018.95 ,\"end_time\":1795774019.5 }\n\n", nil},
		{"escaped member names", `{"trace\u005fid":"1-6b095642-9004aff31d3d69fd72297660","\u0069d":"da3cea201c5b8ca6","name":"svc","start_time":1795774018.95,"end_time":1795774019.5}`, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDecoder(testLimits())
			docs, err := d.Decode([]byte(tc.body), 1, nil)
			if err != nil {
				t.Fatalf("rejected: %v", err)
			}
			if len(docs) != 1 {
				t.Fatalf("%d documents", len(docs))
			}
			checkDocument(t, docs[0])
			if !bytes.Equal(docs[0].Raw, bytes.TrimSpace([]byte(tc.body))) {
				t.Errorf("Raw %q", docs[0].Raw)
			}
			if tc.check != nil {
				tc.check(t, docs[0])
			}
		})
	}
}

func TestDecodeFutureSkew(t *testing.T) {
	now := time.Unix(1795774000, 0)
	l := Limits{Now: func() time.Time { return now }, MaxFutureSkew: time.Minute}
	d := NewDecoder(l)
	if _, err := d.Decode([]byte(mk("start_time", "1795774050", "end_time", "1795774059")), 1, nil); err != nil {
		t.Fatalf("59 s ahead rejected: %v", err)
	}
	_, err := d.Decode([]byte(mk("start_time", "1795774050", "end_time", "1795774061")), 1, nil)
	if errs := splitErrors(t, err); len(errs) != 1 || errs[0].Reason != ReasonInvalidTime {
		t.Fatalf("61 s ahead: %v, want invalid_time", err)
	}
}

// Decode reuses the Spans arrays of dst's spare capacity.
func TestDecodeReusesDst(t *testing.T) {
	d := NewDecoder(testLimits())
	body := []byte(mk("subsegments", `[{"id":"0000000000000001","name":"a","start_time":1795774018.95,"end_time":1795774019}]`, "annotations", `{"k":"v"}`))
	dst, err := d.Decode(body, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	first := &dst[0].Spans[0]
	dst, err = d.Decode([]byte(mk("id", `"0000000000000009"`)), 2, dst[:0])
	if err != nil {
		t.Fatal(err)
	}
	if &dst[0].Spans[0] != first {
		t.Errorf("Spans array not reused")
	}
	if len(dst[0].Spans) != 1 || dst[0].Spans[0].ID != "0000000000000009" || dst[0].Spans[0].AnnStrKeys != nil || dst[0].ReceivedNanos != 2 {
		t.Errorf("reused document keeps old data: %+v", dst[0])
	}
	checkDocument(t, dst[0])
}

func TestDecodeErrorMessage(t *testing.T) {
	d := NewDecoder(testLimits())
	_, err := d.Decode([]byte(mk("name", `""`)), 1, nil)
	want := `segment: invalid_name: name "": empty name (id "da3cea201c5b8ca6", trace "1-6b095642-9004aff31d3d69fd72297660")`
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
	if !errors.Is(err, ErrMalformed) {
		t.Error("not ErrMalformed")
	}
}

func TestSplitDatagram(t *testing.T) {
	doc := mk()
	cases := []struct {
		name, pkt, body, reason string
	}{
		{"go sdk header", `{"format": "json", "version": 1}` + "\n" + doc, doc, ""},
		{"node sdk header", `{"format":"json","version":1}` + "\n" + doc, doc, ""},
		{"upper-case format", `{"format":"JSON","version":1}` + "\n" + doc, doc, ""},
		{"reordered with extra member", `{ "version" : 1 , "format" : "Json", "x": [1] }` + "\n" + doc, doc, ""},
		{"crlf", `{"format":"json","version":1}` + "\r\n" + doc, doc, ""},
		{"body with newlines", `{"format":"json","version":1}` + "\n" + doc + "\n\n", doc + "\n\n", ""},
		{"no newline", doc, "", ReasonInvalidHeader},
		{"no header", "\n" + doc, "", ReasonInvalidHeader},
		{"version 2", `{"format":"json","version":2}` + "\n" + doc, "", ReasonInvalidHeader},
		{"version string", `{"format":"json","version":"1"}` + "\n" + doc, "", ReasonInvalidHeader},
		{"version 1.0", `{"format":"json","version":1.0}` + "\n" + doc, "", ReasonInvalidHeader},
		{"format xml", `{"format":"xml","version":1}` + "\n" + doc, "", ReasonInvalidHeader},
		{"missing format", `{"version":1}` + "\n" + doc, "", ReasonInvalidHeader},
		{"missing version", `{"format":"json"}` + "\n" + doc, "", ReasonInvalidHeader},
		{"header not JSON", `{format:json,version:1}` + "\n" + doc, "", ReasonInvalidHeader},
		{"header array", `["json",1]` + "\n" + doc, "", ReasonInvalidHeader},
		{"header trailing data", `{"format":"json","version":1}x` + "\n" + doc, "", ReasonInvalidHeader},
		{"segment on the header line", doc + "\n", "", ReasonInvalidHeader},
		{"empty body", `{"format":"json","version":1}` + "\n", "", ReasonEmptyBody},
		{"blank body", `{"format":"json","version":1}` + "\n \r\n\t", "", ReasonEmptyBody},
		{"64 KiB datagram", `{"format":"json","version":1}` + "\n" + strings.Repeat(" ", MaxDatagram-30) + doc, "", ReasonTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body, err := SplitDatagram([]byte(tc.pkt))
			if tc.reason == "" {
				if err != nil || string(body) != tc.body {
					t.Fatalf("got %q, %v; want %q", body, err, tc.body)
				}
				return
			}
			errs := splitErrors(t, err)
			if len(errs) != 1 || errs[0].Reason != tc.reason || body != nil {
				t.Fatalf("got %q, %v; want %s", body, err, tc.reason)
			}
		})
	}
	// Exactly 65,535 bytes is a complete datagram.
	pkt := []byte(`{"format":"json","version":1}` + "\n" + doc)
	pkt = append(pkt, bytes.Repeat([]byte(" "), MaxDatagram-1-len(pkt))...)
	if _, err := SplitDatagram(pkt); err != nil {
		t.Errorf("65,535-byte datagram: %v", err)
	}
	if _, err := SplitDatagram(append(pkt, ' ')); err == nil {
		t.Errorf("65,536-byte datagram accepted")
	}
}

// Rejected documents that are not JSON or too large still name their ids
// when they can be found, as the daemon's log does.
func TestDecodeErrorGuessesIDs(t *testing.T) {
	d := NewDecoder(testLimits())
	cases := []string{
		mk()[:len(mk())-1],
		mk("metadata", `{"x":NaN}`),
		mk("metadata", `{"pad":"`+strings.Repeat("x", 64<<10)+`"}`),
		`[` + mk() + `,{"id"]`,
	}
	for _, body := range cases {
		_, err := d.Decode([]byte(body), 1, nil)
		var de *DecodeError
		if !errors.As(err, &de) {
			t.Fatalf("%v", err)
		}
		if de.ID != "da3cea201c5b8ca6" || de.TraceID != "1-6b095642-9004aff31d3d69fd72297660" {
			t.Errorf("%s: ids %q %q", de.Reason, de.ID, de.TraceID)
		}
	}
}

func TestDecodeNilBody(t *testing.T) {
	docs, err := NewDecoder(Limits{}).Decode(nil, 1, nil)
	if errs := splitErrors(t, err); len(docs) != 0 || len(errs) != 1 || errs[0].Reason != ReasonNotJSON {
		t.Fatalf("got %d docs, %v", len(docs), err)
	}
}
