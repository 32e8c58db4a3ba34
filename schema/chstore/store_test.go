package chstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/fluoro/fluoro/collector/segment"
	"github.com/fluoro/fluoro/schema"
	"github.com/fluoro/fluoro/schema/chstore"
	"github.com/fluoro/fluoro/schema/chtest"
)

func TestMain(m *testing.M) { chtest.Main(m) }

// testNow is after every timestamp in testdata (see testdata/README.md).
var testNow = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

func open(t testing.TB) (*chstore.Store, *chtest.DB) {
	t.Helper()
	db := chtest.New(t)
	s, err := chstore.Open(context.Background(), db.DSN, chstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, db
}

// decodeFile decodes a daemon datagram from testdata.
func decodeFile(t testing.TB, name string, received int64) []segment.Document {
	t.Helper()
	pkt, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, pkt, received)
}

func decode(t testing.TB, pkt []byte, received int64) []segment.Document {
	t.Helper()
	body, err := segment.SplitDatagram(pkt)
	if err != nil {
		t.Fatal(err)
	}
	lim := segment.DefaultLimits()
	lim.Now = func() time.Time { return testNow }
	docs, err := segment.NewDecoder(lim).Decode(body, received, nil)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return docs
}

func traceIDs(docs []segment.Document) []string {
	seen := map[string]bool{}
	var out []string
	for _, d := range docs {
		if !seen[d.TraceID] {
			seen[d.TraceID] = true
			out = append(out, d.TraceID)
		}
	}
	return out
}

func TestOpenWithoutSchema(t *testing.T) {
	t.Parallel()
	db := chtest.New(t)
	_, err := chstore.Open(context.Background(), "clickhouse://"+db.Addr+"/default", chstore.Options{})
	if !errors.Is(err, chstore.ErrNoSchema) {
		t.Fatalf("Open on an unmigrated database: %v, want ErrNoSchema", err)
	}
	if _, err := chstore.Open(context.Background(), "http://"+db.Addr+"/x", chstore.Options{}); err == nil {
		t.Fatal("Open accepted an http DSN")
	}
}

// TestWriteReadTestdata writes every test document (single documents and
// arrays of subsegments) and reads each back byte for byte.
func TestWriteReadTestdata(t *testing.T) {
	t.Parallel()
	s, db := open(t)
	ctx := context.Background()
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("testdata: %v", err)
	}
	var all []segment.Document
	for i, f := range files {
		all = append(all, decodeFile(t, filepath.Base(f), testNow.UnixNano()+int64(i))...)
	}
	// One batch: both versions of the in-progress/complete pair included.
	if err := s.WriteDocuments(ctx, all); err != nil {
		t.Fatal(err)
	}
	// Expected: newest version per (trace, id) — in testdata only the
	// in-progress/complete pair shares ids, and the complete one wins.
	want := map[string]segment.Document{}
	nspans := 0
	for _, d := range all {
		k := d.TraceID + "/" + d.ID
		if old, ok := want[k]; !ok || chstore.Version(&d) > chstore.Version(&old) {
			want[k] = d
		}
	}
	for _, d := range want {
		nspans += len(d.Spans)
	}
	got, err := s.Documents(ctx, traceIDs(all))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("Documents returned %d documents, want %d", len(got), len(want))
	}
	for i, g := range got {
		w, ok := want[g.TraceID+"/"+g.ID]
		if !ok {
			t.Fatalf("unexpected document %s/%s", g.TraceID, g.ID)
		}
		if !bytes.Equal(g.Raw, w.Raw) || g.ParentID != w.ParentID || g.Kind != w.Kind || g.InProgress != w.InProgress ||
			g.StartTime != w.StartTime || g.EndTime != w.EndTime {
			t.Errorf("document %s/%s differs:\n got %+v\nwant %+v", g.TraceID, g.ID, g, w)
		}
		if i > 0 && (got[i-1].TraceID > g.TraceID || got[i-1].TraceID == g.TraceID && got[i-1].ID >= g.ID) {
			t.Errorf("documents not ordered by (trace id, id) at %d", i)
		}
	}
	if n := db.Count(t, "SELECT count() FROM "+db.Name+".spans FINAL"); n != uint64(nspans) {
		t.Errorf("spans FINAL: %d rows, want %d", n, nspans)
	}
	// Typed columns made it through: spot checks on the Go SDK capture.
	if n := db.Count(t, "SELECT count() FROM "+db.Name+".spans WHERE aws_operation = 'GetItem' AND namespace = 'aws' AND aws_region = 'eu-west-1'"); n == 0 {
		t.Error("no DynamoDB GetItem span with its region")
	}
	if n := db.Count(t, "SELECT count() FROM "+db.Name+".spans WHERE aws_resource != ''"); n == 0 {
		t.Error("no AWS span with its resource")
	}
	if n := db.Count(t, "SELECT count() FROM "+db.Name+".spans WHERE is_segment = 1 AND http_status >= 400 AND (error = 1 OR fault = 1)"); n == 0 {
		t.Error("no segment with an error status")
	}
	if n := db.Count(t, "SELECT count() FROM "+db.Name+".spans WHERE cause_type != '' OR cause_message != ''"); n == 0 {
		t.Error("no span with a cause")
	}
	if n := db.Count(t, "SELECT count() FROM "+db.Name+".spans WHERE sql_url != '' OR sql_database_type != ''"); n == 0 {
		t.Error("no SQL span")
	}
	if n := db.Count(t, "SELECT count() FROM "+db.Name+".spans WHERE notEmpty(ann_str.key) OR notEmpty(ann_num.key) OR notEmpty(ann_bool.key)"); n == 0 {
		t.Error("no span with annotations")
	}
	// Unknown traces: nothing, no error.
	none, err := s.Documents(ctx, []string{"1-5759e988-000000000000000000000000"})
	if err != nil || len(none) != 0 {
		t.Fatalf("unknown trace: %v, %v", none, err)
	}
}

// mkDoc builds a one-span document.
func mkDoc(traceID, id, parent string, start, end float64, inProgress bool, received int64, service string) segment.Document {
	kind := segment.KindSegment
	if parent != "" {
		kind = segment.KindSubsegment
	}
	raw := fmt.Sprintf(`{"trace_id":%q,"id":%q,"name":%q,"start_time":%.6f,"end_time":%.6f,"in_progress":%t,"r":%d}`,
		traceID, id, service, start, end, inProgress, received)
	sp := segment.Span{
		TraceID: traceID, ID: id, ParentID: parent, SegmentID: id, Service: service, Name: service,
		IsSegment: parent == "", StartTime: start, EndTime: end, InProgress: inProgress,
	}
	if inProgress {
		sp.EndTime = 0
	}
	d := segment.Document{
		TraceID: traceID, ID: id, ParentID: parent, Kind: kind, Name: service, StartTime: start, EndTime: end,
		InProgress: inProgress, ReceivedNanos: received, Raw: []byte(raw), Spans: []segment.Span{sp},
	}
	if inProgress {
		d.EndTime = 0
	}
	return d
}

func traceID(epoch int64, n int) string { return fmt.Sprintf("1-%08x-%024x", epoch, n) }

// TestVersions: complete beats in-progress whatever the order; of two
// complete versions the later received wins; of two in-progress ones too.
func TestVersions(t *testing.T) {
	t.Parallel()
	s, db := open(t)
	ctx := context.Background()
	const start = 1795774464.25
	epoch := int64(1795774464)
	tests := []struct {
		name      string
		writes    []segment.Document // written in this order, one call each
		wantRecv  int64              // "r" of the winner
		wantInPrg bool
	}{
		{"in-progress then complete", []segment.Document{
			mkDoc(traceID(epoch, 1), "0000000000000001", "", start, 0, true, 100, "svc"),
			mkDoc(traceID(epoch, 1), "0000000000000001", "", start, start+1, false, 200, "svc"),
		}, 200, false},
		{"complete then in-progress (late in-progress)", []segment.Document{
			mkDoc(traceID(epoch, 2), "0000000000000002", "", start, start+1, false, 100, "svc"),
			mkDoc(traceID(epoch, 2), "0000000000000002", "", start, 0, true, 200, "svc"),
		}, 100, false},
		{"two complete: later received wins", []segment.Document{
			mkDoc(traceID(epoch, 3), "0000000000000003", "", start, start+2, false, 300, "svc"),
			mkDoc(traceID(epoch, 3), "0000000000000003", "", start, start+1, false, 200, "svc"),
		}, 300, false},
		{"two in-progress: later received wins", []segment.Document{
			mkDoc(traceID(epoch, 4), "0000000000000004", "", start, 0, true, 100, "svc"),
			mkDoc(traceID(epoch, 4), "0000000000000004", "", start, 0, true, 150, "svc"),
		}, 150, true},
		{"both versions in one batch", []segment.Document{
			mkDoc(traceID(epoch, 5), "0000000000000005", "0000000000000009", start, start+1, false, 100, ""),
		}, 100, false},
	}
	// The last case writes both versions in a single call.
	tests[4].writes = append(tests[4].writes, mkDoc(traceID(epoch, 5), "0000000000000005", "0000000000000009", start, 0, true, 500, ""))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // distinct trace ids
			if tt.name == "both versions in one batch" {
				if err := s.WriteDocuments(ctx, tt.writes); err != nil {
					t.Fatal(err)
				}
			} else {
				for _, d := range tt.writes {
					if err := s.WriteDocuments(ctx, []segment.Document{d}); err != nil {
						t.Fatal(err)
					}
				}
			}
			tid := tt.writes[0].TraceID
			got, err := s.Documents(ctx, []string{tid})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 {
				t.Fatalf("%d documents, want 1", len(got))
			}
			if !strings.Contains(string(got[0].Raw), fmt.Sprintf(`"r":%d}`, tt.wantRecv)) || got[0].InProgress != tt.wantInPrg {
				t.Fatalf("winner %s (in progress %v), want r=%d", got[0].Raw, got[0].InProgress, tt.wantRecv)
			}
			// The span table agrees (FINAL keeps the same version).
			ip := db.Count(t, "SELECT toUInt64(in_progress) FROM "+db.Name+".spans FINAL WHERE trace_id = ?", tid)
			if (ip == 1) != tt.wantInPrg {
				t.Fatalf("spans FINAL in_progress = %d", ip)
			}
			if n := db.Count(t, "SELECT count() FROM "+db.Name+".spans FINAL WHERE trace_id = ?", tid); n != 1 {
				t.Fatalf("spans FINAL has %d rows for the trace", n)
			}
		})
	}
}

// TestDuplicateWrites: a replayed batch is collapsed by readers at once and
// by merges eventually.
func TestDuplicateWrites(t *testing.T) {
	t.Parallel()
	s, db := open(t)
	ctx := context.Background()
	docs := append(decodeFile(t, "go_server_dynamodb_remote.txt", 1000), decodeFile(t, "array_lambda_subsegments.txt", 1001)...)
	nspans := 0
	for _, d := range docs {
		nspans += len(d.Spans)
	}
	for range 3 {
		if err := s.WriteDocuments(ctx, docs); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Documents(ctx, traceIDs(docs))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(docs) {
		t.Fatalf("%d documents after 3 identical writes, want %d", len(got), len(docs))
	}
	if n := db.Count(t, "SELECT count() FROM "+db.Name+".spans FINAL"); n != uint64(nspans) {
		t.Fatalf("spans FINAL: %d, want %d", n, nspans)
	}
	refs, _, err := s.TraceIDs(ctx, chstore.TraceQuery{Start: time.Unix(0, 0), End: testNow, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) != len(traceIDs(docs)) {
		t.Fatalf("TraceIDs: %d traces, want %d", len(refs), len(traceIDs(docs)))
	}
	db.Exec(t, "OPTIMIZE TABLE "+db.Name+".spans FINAL")
	db.Exec(t, "OPTIMIZE TABLE "+db.Name+".documents FINAL")
	if n := db.Count(t, "SELECT count() FROM "+db.Name+".spans"); n != uint64(nspans) {
		t.Fatalf("spans after merge: %d, want %d", n, nspans)
	}
	if n := db.Count(t, "SELECT count() FROM "+db.Name+".documents"); n != uint64(len(docs)) {
		t.Fatalf("documents after merge: %d, want %d", n, len(docs))
	}
}

func TestWriteEdgeCases(t *testing.T) {
	t.Parallel()
	s, db := open(t)
	ctx := context.Background()
	if err := s.WriteDocuments(ctx, nil); err != nil {
		t.Fatalf("empty write: %v", err)
	}
	// Mismatched annotation slices must not poison the batch.
	d := mkDoc(traceID(1795774464, 7), "0000000000000007", "", 1795774464, 1795774465, false, 1, "svc")
	d.Spans[0].AnnStrKeys = []string{"a", "b"}
	d.Spans[0].AnnStrValues = []string{"x"}
	d.Spans[0].AnnNumKeys = []string{"n"}
	d.Spans[0].AnnBoolKeys = []string{"ok", "bad"}
	d.Spans[0].AnnBoolValues = []bool{true}
	ok := mkDoc(traceID(1795774464, 8), "0000000000000008", "", 1795774464, 1795774465, false, 1, "svc")
	ok.Spans[0].AnnNumKeys, ok.Spans[0].AnnNumValues = []string{"n"}, []float64{2.5}
	if err := s.WriteDocuments(ctx, []segment.Document{d, ok}); err != nil {
		t.Fatal(err)
	}
	if n := db.Count(t, "SELECT count() FROM "+db.Name+".spans WHERE ann_str.value[indexOf(ann_str.key, 'a')] = 'x' AND length(ann_bool.key) = 1 AND empty(ann_num.key)"); n != 1 {
		t.Fatalf("trimmed annotations: %d rows", n)
	}
	if n := db.Count(t, "SELECT count() FROM "+db.Name+".spans WHERE ann_num.value[indexOf(ann_num.key, 'n')] = 2.5"); n != 1 {
		t.Fatalf("numeric annotation: %d rows", n)
	}
	// A cancelled context fails the write instead of pretending success.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.WriteDocuments(cctx, []segment.Document{ok}); err == nil {
		t.Fatal("write with a cancelled context succeeded")
	}
}

// TestPaging: 2,500 traces, read back through every range type in pages,
// each exactly once and newest first.
func TestPaging(t *testing.T) {
	t.Parallel()
	s, _ := open(t)
	ctx := context.Background()
	const ntraces = 2500
	base := int64(1795700000) // 2026-11-26
	var docs []segment.Document
	for i := range ntraces {
		epoch := base + int64(i)*7 // spread over ~5 h
		start := float64(epoch) + 0.5
		seg := mkDoc(traceID(epoch, i), fmt.Sprintf("%016x", i+1), "", start, start+0.25, false, int64(i), fmt.Sprintf("svc%d", i%5))
		seg.Spans[0].Fault = i%10 == 0
		sub := mkDoc(traceID(epoch, i), fmt.Sprintf("%016x", 1<<40+i), seg.ID, start+0.1, start+0.2, false, int64(i), "")
		docs = append(docs, seg, sub)
	}
	for i := 0; i < len(docs); i += 1000 {
		if err := s.WriteDocuments(ctx, docs[i:min(i+1000, len(docs))]); err != nil {
			t.Fatal(err)
		}
	}
	winStart := time.Unix(base, 0)
	winEnd := time.Unix(base+ntraces*7, 0)
	for _, tc := range []struct {
		rangeType string
		having    string
		args      []any
		want      int
		where     string // prefilter
		whereArgs []any
	}{
		{chstore.RangeTraceID, "", nil, ntraces, "", nil},
		{"", "", nil, ntraces, "", nil},
		{chstore.RangeEvent, "", nil, ntraces, "", nil},
		{chstore.RangeService, "", nil, ntraces, "", nil},
		{chstore.RangeTraceID, "max(fault) = ?", []any{1}, ntraces / 10, "", nil},
		{chstore.RangeEvent, "max(end_us) - min(start_us) > ? AND count() = 2", []any{200000}, ntraces, "", nil},
		// Where (a row-level necessary condition of Having) keeps the result.
		{chstore.RangeTraceID, "max(fault) = ? AND max(is_segment = 1 AND service = ?) = 1", []any{1, "svc0"}, ntraces / 10,
			"is_segment = 1 AND service = ?", []any{"svc0"}},
		{chstore.RangeEvent, "max(fault) = ? AND max(is_segment = 1 AND service = ?) = 1", []any{1, "svc0"}, ntraces / 10,
			"is_segment = 1 AND service = ?", []any{"svc0"}},
		{chstore.RangeService, "max(is_segment = 1 AND service IN (?, ?)) = 1", []any{"svc1", "svc2"}, 2 * ntraces / 5,
			"service IN (?, ?)", []any{"svc1", "svc2"}},
	} {
		t.Run(tc.rangeType+" "+tc.having+" "+tc.where, func(t *testing.T) {
			t.Parallel() // read-only
			seen := map[string]bool{}
			var last chstore.TraceRef
			cursor := ""
			pages := 0
			for {
				refs, next, err := s.TraceIDs(ctx, chstore.TraceQuery{
					Start: winStart, End: winEnd, RangeType: tc.rangeType,
					Having: tc.having, HavingArgs: tc.args, Where: tc.where, WhereArgs: tc.whereArgs, Limit: 300, Cursor: cursor,
				})
				if err != nil {
					t.Fatal(err)
				}
				pages++
				for _, r := range refs {
					if seen[r.TraceID] {
						t.Fatalf("trace %s returned twice", r.TraceID)
					}
					seen[r.TraceID] = true
					if last.TraceID != "" && (r.Time.After(last.Time) || r.Time.Equal(last.Time) && r.TraceID > last.TraceID) {
						t.Fatalf("not newest first: %v after %v", r, last)
					}
					last = r
				}
				if next == "" {
					break
				}
				if len(refs) != 300 {
					t.Fatalf("short page (%d) with a next cursor", len(refs))
				}
				cursor = next
			}
			if len(seen) != tc.want {
				t.Fatalf("%d traces in %d pages, want %d", len(seen), pages, tc.want)
			}
		})
	}
	// TraceId times are the trace-id epochs; a narrower window selects
	// exactly the traces whose epoch lies in it.
	refs, _, err := s.TraceIDs(ctx, chstore.TraceQuery{Start: time.Unix(base+70, 0), End: time.Unix(base+140, 0), Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) != 10 || refs[0].Time != time.Unix(base+133, 0).UTC() || refs[9].Time != time.Unix(base+70, 0).UTC() {
		t.Fatalf("narrow TraceId window: %v", refs)
	}
	// Event window that only the subsegments of one trace touch.
	ev := float64(base+7*100) + 0.6
	refs, _, err = s.TraceIDs(ctx, chstore.TraceQuery{Start: time.UnixMicro(int64(ev*1e6) + 100), End: time.UnixMicro(int64(ev*1e6) + 200), RangeType: chstore.RangeEvent})
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) != 1 || refs[0].TraceID != traceID(base+700, 100) {
		t.Fatalf("event window: %v", refs)
	}
	// Service ignores subsegments: a window holding only a subsegment end.
	subEnd := time.UnixMicro(int64((float64(base+700) + 0.7) * 1e6))
	refs, _, err = s.TraceIDs(ctx, chstore.TraceQuery{Start: subEnd, End: subEnd.Add(time.Millisecond), RangeType: chstore.RangeService})
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) != 0 {
		t.Fatalf("service window matched a subsegment: %v", refs)
	}
}

func TestTraceQueryErrors(t *testing.T) {
	t.Parallel()
	s, _ := open(t)
	ctx := context.Background()
	now := time.Now()
	for _, q := range []chstore.TraceQuery{
		{Start: now, End: now},
		{Start: now.Add(-time.Hour), End: now, RangeType: "Bogus"},
		{Start: now.Add(-time.Hour), End: now, Cursor: "!!"},
		{Start: now.Add(-time.Hour), End: now, Cursor: "MToxOnguJyBPUiAxPTE"}, // "1:1:x' OR 1=1"
	} {
		if _, _, err := s.TraceIDs(ctx, q); !errors.Is(err, chstore.ErrBadQuery) {
			t.Errorf("TraceIDs(%+v) = %v, want ErrBadQuery", q, err)
		}
	}
	// A broken Having from the filter back-end is a storage error, not a panic.
	if _, _, err := s.TraceIDs(ctx, chstore.TraceQuery{Start: now.Add(-time.Hour), End: now, Having: "nosuchfn(x)"}); err == nil {
		t.Error("invalid Having accepted")
	}
}

// TestPartitionPruning: a trace lookup must use the partition key and the
// primary key, and read about one granule even with many other rows.
func TestPartitionPruning(t *testing.T) {
	t.Parallel()
	s, db := open(t)
	ctx := context.Background()
	var docs []segment.Document
	days := []int64{1795700000, 1795700000 - 86400, 1795700000 - 2*86400}
	for _, e := range days {
		for i := range 5000 {
			docs = append(docs, mkDoc(traceID(e, i), fmt.Sprintf("%016x", i+1), "", float64(e), float64(e)+1, false, 1, "svc"))
		}
	}
	if err := s.WriteDocuments(ctx, docs); err != nil {
		t.Fatal(err)
	}
	strict := clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{
		"force_index_by_date": 1, // fails if the partition key does not prune
		"force_primary_key":   1, // fails if the primary key is not used
		"max_rows_to_read":    2 * 1024,
	}))
	want := traceID(days[1], 4321)
	got, err := s.Documents(strict, []string{want})
	if err != nil {
		t.Fatalf("pruned lookup: %v", err)
	}
	if len(got) != 1 || got[0].TraceID != want {
		t.Fatalf("lookup returned %v", got)
	}
	// The same limits make a scan fail, so the check can fail.
	var n uint64
	err = db.Conn.QueryRow(strict, "SELECT count() FROM "+db.Name+".documents WHERE id = '0000000000000001'").Scan(&n)
	if err == nil {
		t.Fatal("a scan passed the strict settings; the pruning check proves nothing")
	}
	// Invalid ids are ignored, not spliced into SQL.
	got, err = s.Documents(ctx, []string{"1-5759e988-bd862e3fe1be46a99427279'", "x"})
	if err != nil || len(got) != 0 {
		t.Fatalf("invalid ids: %v, %v", got, err)
	}
}

// TestRetention: the janitor drops a whole expired day of documents and
// spans; recent traces stay readable.
func TestRetention(t *testing.T) {
	t.Parallel()
	s, db := open(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	oldE, newE := now.Add(-10*24*time.Hour).Unix(), now.Add(-time.Hour).Unix()
	old := mkDoc(traceID(oldE, 1), "0000000000000001", "", float64(oldE), float64(oldE)+1, false, 1, "svc")
	recent := mkDoc(traceID(newE, 2), "0000000000000002", "", float64(newE), float64(newE)+1, false, 1, "svc")
	if err := s.WriteDocuments(ctx, []segment.Document{old, recent}); err != nil {
		t.Fatal(err)
	}
	j, err := schema.NewJanitor(ctx, db.DSN, schema.JanitorOptions{Retention: 7 * 24 * time.Hour, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	dropped, err := j.DropExpired(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range dropped {
		if !strings.HasPrefix(d.Table, "graph_") { // graph tables: see graph_test.go
			names = append(names, d.Table)
		}
	}
	sort.Strings(names)
	if strings.Join(names, ",") != "documents,spans" {
		t.Fatalf("dropped %v", dropped)
	}
	got, err := s.Documents(ctx, []string{old.TraceID, recent.TraceID})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].TraceID != recent.TraceID {
		t.Fatalf("after retention: %v", got)
	}
}

// TestServerRestart: writes fail promptly while ClickHouse is down and
// succeed again on the same Store once it is back (what the collector's
// spool relies on).
func TestServerRestart(t *testing.T) {
	t.Parallel()
	srv := chtest.NewServer(t)
	ctx := context.Background()
	s, err := chstore.Open(ctx, srv.DSN, chstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	e := int64(1795774464)
	d1 := mkDoc(traceID(e, 1), "0000000000000001", "", float64(e), float64(e)+1, false, 1, "svc")
	d2 := mkDoc(traceID(e, 2), "0000000000000002", "", float64(e), float64(e)+1, false, 1, "svc")
	if err := s.WriteDocuments(ctx, []segment.Document{d1}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	if err := s.WriteDocuments(ctx, []segment.Document{d2}); err == nil {
		t.Fatal("write succeeded while ClickHouse was down")
	}
	if d := time.Since(t0); d > 10*time.Second {
		t.Fatalf("failed write took %v", d)
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteDocuments(ctx, []segment.Document{d2}); err != nil {
		t.Fatalf("write after restart: %v", err)
	}
	got, err := s.Documents(ctx, []string{d1.TraceID, d2.TraceID})
	if err != nil || len(got) != 2 {
		t.Fatalf("after restart: %v, %v", got, err)
	}
}
