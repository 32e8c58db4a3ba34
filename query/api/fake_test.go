package api

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/xray"
	"github.com/fluoro/fluoro/collector/segment"
)

// fakeReader is an in-memory TraceReader following the chstore contract:
// TraceIDs selects traces by their time, most recent first, with an offset
// as cursor.
type fakeReader struct {
	mu      sync.Mutex
	docs    []storedDocument
	times   map[string]time.Time
	queries []traceQuery
	err     error
	// block, when set, makes Documents wait for it to close after
	// signalling entered (if set).
	block   chan struct{}
	entered chan struct{}
}

func newFakeReader() *fakeReader { return &fakeReader{times: map[string]time.Time{}} }

// add stores raw documents; the trace's time is that of its trace id.
func (f *fakeReader) add(t testing.TB, raws ...string) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, raw := range raws {
		d := mkStored(t, raw)
		f.docs = append(f.docs, d)
		sec, err := strconv.ParseInt(d.TraceID[2:10], 16, 64)
		if err != nil {
			t.Fatal(err)
		}
		f.times[d.TraceID] = time.Unix(sec, 0)
	}
}

func (f *fakeReader) Documents(ctx context.Context, ids []string) ([]storedDocument, error) {
	f.mu.Lock()
	block, entered, err := f.block, f.entered, f.err
	f.mu.Unlock()
	if block != nil {
		if entered != nil {
			entered <- struct{}{}
		}
		select {
		case <-block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []storedDocument
	for _, d := range f.docs {
		if slices.Contains(ids, d.TraceID) {
			out = append(out, d)
		}
	}
	return out, nil
}

func (f *fakeReader) TraceIDs(_ context.Context, q traceQuery) ([]traceRef, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries = append(f.queries, q)
	if f.err != nil {
		return nil, "", f.err
	}
	var refs []traceRef
	for id, tm := range f.times {
		if !tm.Before(q.Start) && tm.Before(q.End) {
			refs = append(refs, traceRef{TraceID: id, Time: tm})
		}
	}
	slices.SortFunc(refs, func(a, b traceRef) int {
		if c := b.Time.Compare(a.Time); c != 0 {
			return c
		}
		return strings.Compare(a.TraceID, b.TraceID)
	})
	off := 0
	if q.Cursor != "" {
		var err error
		if off, err = strconv.Atoi(q.Cursor); err != nil {
			return nil, "", err
		}
	}
	refs = refs[min(off, len(refs)):]
	next := ""
	if len(refs) > q.Limit {
		refs = refs[:q.Limit]
		next = strconv.Itoa(off + q.Limit)
	}
	return refs, next, nil
}

func (f *fakeReader) lastQuery() traceQuery {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.queries[len(f.queries)-1]
}

func mkStored(t testing.TB, raw string) storedDocument {
	t.Helper()
	var m struct {
		TraceID    string  `json:"trace_id"`
		ID         string  `json:"id"`
		ParentID   string  `json:"parent_id"`
		Type       string  `json:"type"`
		InProgress bool    `json:"in_progress"`
		StartTime  float64 `json:"start_time"`
		EndTime    float64 `json:"end_time"`
	}
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatalf("test document: %v\n%s", err, raw)
	}
	k := segment.KindSegment
	if m.Type == "subsegment" {
		k = segment.KindSubsegment
	}
	return storedDocument{TraceID: m.TraceID, ID: m.ID, ParentID: m.ParentID, Kind: k, InProgress: m.InProgress,
		StartTime: m.StartTime, EndTime: m.EndTime, Raw: []byte(raw)}
}

// newTestAPI serves a Server over httptest and returns a real X-Ray client
// pointed at it.
func newTestAPI(t *testing.T, set Settings, mut func(*Config)) (*Server, *xray.Client, string) {
	t.Helper()
	cfg := DefaultConfig()
	if mut != nil {
		mut(&cfg)
	}
	if set.Logger == nil {
		set.Logger = testLogger(t)
	}
	s, err := New(cfg, set)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	client := xray.New(xray.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(hs.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDFLUOROTEST", "secret", ""),
		// The SDK's standard retryer, without waiting between attempts: it
		// retries the client-side "use of closed network connection" race
		// of Go's transport (aws/aws-sdk-go-v2#2737) as real clients do.
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		}),
	})
	return s, client, hs.URL
}

// testLogger sends the server's log to the test's log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
