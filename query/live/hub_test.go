package live

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fluoro/fluoro/collector/segment"
	"github.com/gorilla/websocket"
)

type wsMsg struct {
	Type string          `json:"type"`
	Seq  int64           `json:"seq"`
	Data json.RawMessage `json:"data"`
}

func dial(t *testing.T, srv *httptest.Server, sub Subscription) *websocket.Conn {
	t.Helper()
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"
	c, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	if err := c.WriteJSON(map[string]any{"type": "subscribe", "data": sub}); err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	return c
}

func read(t *testing.T, c *websocket.Conn) wsMsg {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var m wsMsg
	if err := c.ReadJSON(&m); err != nil {
		t.Fatalf("read: %v", err)
	}
	return m
}

// waitSubscribed waits until n clients have a subscription.
func waitSubscribed(t *testing.T, h *Hub, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		got := 0
		h.mu.RLock()
		for c := range h.clients {
			c.mu.Lock()
			if c.topics != nil {
				got++
			}
			c.mu.Unlock()
		}
		h.mu.RUnlock()
		if got == n {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%d clients did not subscribe", n)
}

func newTestHub(t *testing.T, cfg HubConfig) (*Hub, *httptest.Server) {
	t.Helper()
	h := NewHub(cfg, nil, CompileFilter)
	mux := http.NewServeMux()
	mux.Handle("/ws", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() { h.Close(); srv.Close() })
	return h, srv
}

func TestHubManyClientsInOrder(t *testing.T) {
	h, srv := newTestHub(t, HubConfig{})
	const clients, msgs = 20, 50
	conns := make([]*websocket.Conn, clients)
	for i := range conns {
		conns[i] = dial(t, srv, Subscription{})
		defer conns[i].Close()
	}
	waitSubscribed(t, h, clients)
	for i := 0; i < msgs; i++ {
		if err := h.Publish(TypeAlert, map[string]any{"title": fmt.Sprint(i)}, nil, ""); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range conns {
		for i := 1; i <= msgs; i++ {
			m := read(t, c)
			if m.Seq != int64(i) || m.Type != TypeAlert {
				t.Fatalf("message %d: got seq %d type %s", i, m.Seq, m.Type)
			}
			var d struct{ Title string }
			_ = json.Unmarshal(m.Data, &d)
			if d.Title != fmt.Sprint(i-1) {
				t.Fatalf("message %d: title %q", i, d.Title)
			}
		}
	}
}

func TestHubSlowClientIsCutOffOthersKeepReceiving(t *testing.T) {
	h, srv := newTestHub(t, HubConfig{SendBuffer: 64, WriteTimeout: time.Second})
	slow := dial(t, srv, Subscription{}) // never reads
	defer slow.Close()
	fast := dial(t, srv, Subscription{})
	defer fast.Close()
	waitSubscribed(t, h, 2)
	big := strings.Repeat("x", 64<<10)
	const n = 400
	var wg sync.WaitGroup
	wg.Add(1)
	var got atomic.Int64
	go func() {
		defer wg.Done()
		for got.Load() < n {
			_ = fast.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, data, err := fast.ReadMessage()
			if err != nil {
				t.Logf("fast client: %v (stats %+v)", err, h.Stats())
				return
			}
			g := got.Add(1)
			if want := fmt.Sprintf(`"seq":%d,`, g); !strings.Contains(string(data[:min(len(data), 64)]), want) {
				t.Errorf("fast client: message %d lacks %s", g, want)
				return
			}
		}
	}()
	for i := 0; i < n; i++ {
		_ = h.Publish(TypeAlert, map[string]any{"title": big}, nil, "")
		for int64(i)-got.Load() > 32 { // a client that keeps within half its buffer is never cut off
			time.Sleep(100 * time.Microsecond)
		}
	}
	wg.Wait()
	if got.Load() != n {
		t.Fatalf("fast client received %d of %d", got.Load(), n)
	}
	if h.Stats().DisconnectedSlow < 1 {
		t.Fatalf("slow client was not disconnected: %+v", h.Stats())
	}
}

func TestHubDisconnectingClientAndNoLeaks(t *testing.T) {
	before := runtime.NumGoroutine()
	h, srv := newTestHub(t, HubConfig{})
	for i := 0; i < 10; i++ {
		c := dial(t, srv, Subscription{})
		c.Close()
	}
	stay := dial(t, srv, Subscription{})
	defer stay.Close()
	deadline := time.Now().Add(5 * time.Second)
	for h.Stats().Clients != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := h.Stats().Clients; n != 1 {
		t.Fatalf("clients = %d after 10 disconnects, want 1", n)
	}
	waitSubscribed(t, h, 1)
	_ = h.Publish(TypeAlert, map[string]any{"title": "still here"}, nil, "")
	if m := read(t, stay); m.Type != TypeAlert || m.Seq != 1 {
		t.Fatalf("got %+v", m)
	}
	stay.Close()
	h.Close()
	srv.Close()
	deadline = time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before+2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before+2 {
		buf := make([]byte, 1<<16)
		t.Fatalf("goroutines: %d before, %d after\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}

func TestHubOriginCheck(t *testing.T) {
	_, srv := newTestHub(t, HubConfig{AllowedOrigins: []string{"http://dash.example:8080"}})
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"
	for _, tc := range []struct {
		origin string
		ok     bool
	}{
		{"", true},
		{srv.URL, true},
		{"http://dash.example:8080", true},
		{"http://evil.example", false},
	} {
		hdr := http.Header{}
		if tc.origin != "" {
			hdr.Set("Origin", tc.origin)
		}
		c, resp, err := websocket.DefaultDialer.Dial(url, hdr)
		if (err == nil) != tc.ok {
			t.Errorf("origin %q: err = %v, want ok=%v", tc.origin, err, tc.ok)
		}
		if err == nil {
			c.Close()
		} else if resp != nil && resp.StatusCode != http.StatusForbidden {
			t.Errorf("origin %q: status %d, want 403", tc.origin, resp.StatusCode)
		}
	}
}

func TestHubBadFilterIsRejected(t *testing.T) {
	_, srv := newTestHub(t, HubConfig{})
	c := dial(t, srv, Subscription{Filter: "responsetime >"})
	defer c.Close()
	m := read(t, c)
	var a struct{ Code, Message string }
	_ = json.Unmarshal(m.Data, &a)
	if m.Type != TypeAlert || a.Code != "InvalidRequestException" || !strings.Contains(a.Message, "filter expression") {
		t.Fatalf("got %s %+v", m.Type, a)
	}
}

func doc(traceID, id, name string, fault bool) segment.Document {
	raw := fmt.Sprintf(`{"trace_id":%q,"id":%q,"name":%q,"start_time":%d,"end_time":%d,"fault":%v}`,
		traceID, id, name, time.Now().Unix()-1, time.Now().Unix(), fault)
	now := float64(time.Now().Unix())
	return segment.Document{
		TraceID: traceID, ID: id, Kind: segment.KindSegment, Name: name, StartTime: now - 1, EndTime: now, Raw: []byte(raw),
		Spans: []segment.Span{{TraceID: traceID, ID: id, SegmentID: id, Service: name, Name: name, IsSegment: true, StartTime: now - 1, EndTime: now, Fault: fault}},
	}
}

func TestFeedPublishesFilteredSummaries(t *testing.T) {
	h, srv := newTestHub(t, HubConfig{})
	f := NewFeed(FeedConfig{Settle: 50 * time.Millisecond}, h, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go f.Run(ctx)
	all := dial(t, srv, Subscription{Topics: []string{TypeTraceSummary}})
	defer all.Close()
	faults := dial(t, srv, Subscription{Topics: []string{TypeTraceSummary}, Filter: "fault"})
	defer faults.Close()
	waitSubscribed(t, h, 2)
	tOK, tFault := "1-5f000000-000000000000000000000001", "1-5f000000-000000000000000000000002"
	docs := []segment.Document{doc(tOK, "a000000000000001", "web", false), doc(tFault, "a000000000000002", "web", true)}
	if err := f.WriteDocuments(context.Background(), docs); err != nil {
		t.Fatal(err)
	}
	docs[0].Raw[0] = 'X' // the caller reuses its buffers: the feed must have copied
	ids := map[string]bool{}
	for i := 0; i < 2; i++ {
		m := read(t, all)
		var s struct{ Id string }
		_ = json.Unmarshal(m.Data, &s)
		ids[s.Id] = true
	}
	if !ids[tOK] || !ids[tFault] {
		t.Fatalf("all-traces client got %v", ids)
	}
	m := read(t, faults)
	var s struct {
		Id       string
		HasFault bool
	}
	_ = json.Unmarshal(m.Data, &s)
	if s.Id != tFault || !s.HasFault {
		t.Fatalf("fault client got %+v", s)
	}
	_ = faults.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	var extra wsMsg
	if err := faults.ReadJSON(&extra); err == nil {
		t.Fatalf("fault client got an unexpected message %+v", extra)
	}
}
