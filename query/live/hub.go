package live

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Message types the server sends.
const (
	TypeTraceSummary = "trace.summary"
	TypeGraphDelta   = "graph.delta"
	TypeAlert        = "alert"
)

// Subscription is what a client asks for (the data of a "subscribe" message).
type Subscription struct {
	Topics []string `json:"topics,omitempty"`
	Filter string   `json:"filter,omitempty"`
	Group  string   `json:"group,omitempty"`
}

// Matcher decides whether a published item matches a client's filter.
type Matcher interface {
	// Match reports whether item (whatever the publisher passed) matches.
	Match(item any) bool
}

// CompileFunc turns a subscription's filter expression into a Matcher; a
// non-nil error is sent back to the client as an alert with code
// InvalidRequestException.
type CompileFunc func(expr string) (Matcher, error)

// HubConfig tunes the hub.
type HubConfig struct {
	// SendBuffer is how many messages may wait for one client before it is
	// considered too slow and disconnected.
	SendBuffer int
	// WriteTimeout bounds one frame write.
	WriteTimeout time.Duration
	// PingInterval is how often the server pings; a client that does not
	// answer within 2×PingInterval is disconnected.
	PingInterval time.Duration
	// AllowedOrigins lists extra browser origins (scheme://host:port) allowed
	// besides the page's own host. "*" allows every origin.
	AllowedOrigins []string
	// MaxClients bounds concurrent connections.
	MaxClients int
}

// DefaultHubConfig returns the defaults.
func DefaultHubConfig() HubConfig {
	return HubConfig{SendBuffer: 256, WriteTimeout: 5 * time.Second, PingInterval: 20 * time.Second, MaxClients: 1000}
}

// Hub fans messages out to websocket clients.
type Hub struct {
	cfg      HubConfig
	log      *slog.Logger
	compile  CompileFunc
	upgrader websocket.Upgrader

	mu      sync.RWMutex
	clients map[*client]struct{}
	closed  bool
	wg      sync.WaitGroup

	// Counters, read with Stats.
	connected, disconnectedSlow, sent atomic.Int64
}

// NewHub returns a hub. compile may be nil (filters are then refused).
func NewHub(cfg HubConfig, log *slog.Logger, compile CompileFunc) *Hub {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := DefaultHubConfig()
	if cfg.SendBuffer <= 0 {
		cfg.SendBuffer = d.SendBuffer
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = d.WriteTimeout
	}
	if cfg.PingInterval <= 0 {
		cfg.PingInterval = d.PingInterval
	}
	if cfg.MaxClients <= 0 {
		cfg.MaxClients = d.MaxClients
	}
	h := &Hub{cfg: cfg, log: log.With("component", "live"), compile: compile, clients: map[*client]struct{}{}}
	h.upgrader = websocket.Upgrader{ReadBufferSize: 4096, WriteBufferSize: 16384, CheckOrigin: h.checkOrigin}
	return h
}

// checkOrigin accepts requests without an Origin (non-browser clients), from
// the same host as the request, or from a configured origin.
func (h *Hub) checkOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, o := range h.cfg.AllowedOrigins {
		if o == "*" || strings.EqualFold(strings.TrimSuffix(o, "/"), origin) {
			return true
		}
	}
	return false
}

// Stats are the hub's counters.
type Stats struct {
	Clients          int
	Connected        int64
	DisconnectedSlow int64
	Sent             int64
}

// Stats returns the current counters.
func (h *Hub) Stats() Stats {
	h.mu.RLock()
	n := len(h.clients)
	h.mu.RUnlock()
	return Stats{Clients: n, Connected: h.connected.Load(), DisconnectedSlow: h.disconnectedSlow.Load(), Sent: h.sent.Load()}
}

// client is one websocket connection.
type client struct {
	h    *Hub
	conn *websocket.Conn
	send chan outMsg
	done chan struct{}
	once sync.Once

	mu      sync.Mutex // guards sub, matcher, topics
	sub     Subscription
	matcher Matcher
	topics  map[string]bool // nil: no subscription yet (send nothing)
}

// outMsg is a message waiting for the writer: its type and its data already
// encoded as JSON (shared by every client it goes to).
type outMsg struct {
	typ  string
	data json.RawMessage
}

// ServeHTTP upgrades the request to a websocket and serves it until the
// client goes away or the hub closes.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.RLock()
	full := len(h.clients) >= h.cfg.MaxClients
	closed := h.closed
	h.mu.RUnlock()
	if closed {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	if full {
		http.Error(w, "too many live connections", http.StatusServiceUnavailable)
		return
	}
	conn, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered with an HTTP error
	}
	c := &client{h: h, conn: conn, send: make(chan outMsg, h.cfg.SendBuffer), done: make(chan struct{})}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		conn.Close()
		return
	}
	h.clients[c] = struct{}{}
	h.wg.Add(2)
	h.mu.Unlock()
	h.connected.Add(1)
	go c.writeLoop()
	go c.readLoop()
}

// close ends the connection once; both loops then return.
func (c *client) close() {
	c.once.Do(func() {
		close(c.done)
		c.conn.Close()
		c.h.mu.Lock()
		delete(c.h.clients, c)
		c.h.mu.Unlock()
	})
}

func (c *client) readLoop() {
	defer c.h.wg.Done()
	defer c.close()
	c.conn.SetReadLimit(64 << 10)
	pongWait := 2 * c.h.cfg.PingInterval
	_ = c.conn.SetReadDeadline(time.Now().Add(pongWait))
	c.conn.SetPongHandler(func(string) error { return c.conn.SetReadDeadline(time.Now().Add(pongWait)) })
	for {
		_, data, err := c.conn.ReadMessage()
		if err != nil {
			return
		}
		_ = c.conn.SetReadDeadline(time.Now().Add(pongWait))
		var m struct {
			Type string       `json:"type"`
			Data Subscription `json:"data"`
		}
		if err := json.Unmarshal(data, &m); err != nil || m.Type != "subscribe" {
			c.alert("InvalidRequestException", "unknown message: the server accepts only {\"type\":\"subscribe\",\"data\":{...}}")
			continue
		}
		c.subscribe(m.Data)
	}
}

func (c *client) subscribe(s Subscription) {
	var matcher Matcher
	if strings.TrimSpace(s.Filter) != "" {
		if c.h.compile == nil {
			c.alert("InvalidRequestException", "filters are not supported by this server")
			return
		}
		m, err := c.h.compile(s.Filter)
		if err != nil {
			c.alert("InvalidRequestException", fmt.Sprintf("filter expression: %v", err))
			return
		}
		matcher = m
	}
	topics := map[string]bool{}
	if len(s.Topics) == 0 {
		topics[TypeTraceSummary], topics[TypeGraphDelta], topics[TypeAlert] = true, true, true
	}
	for _, t := range s.Topics {
		topics[t] = true
	}
	c.mu.Lock()
	c.sub, c.matcher, c.topics = s, matcher, topics
	c.mu.Unlock()
}

// alert sends a rejection notice to this client only.
func (c *client) alert(code, msg string) {
	data, _ := json.Marshal(map[string]any{
		"id": fmt.Sprintf("rejected-%d", time.Now().UnixNano()), "severity": "warning",
		"title": "Subscription rejected", "message": msg, "code": code, "time": float64(time.Now().UnixNano()) / 1e9,
	})
	c.enqueue(outMsg{typ: TypeAlert, data: data})
}

// enqueue hands m to the writer, disconnecting the client when its buffer is
// full: it is too slow, and a gap in seq would be worse than a reconnect.
func (c *client) enqueue(m outMsg) {
	select {
	case <-c.done:
		return
	default:
	}
	select {
	case c.send <- m:
	default:
		c.h.disconnectedSlow.Add(1)
		c.close()
	}
}

func (c *client) writeLoop() {
	defer c.h.wg.Done()
	defer c.close()
	ping := time.NewTicker(c.h.cfg.PingInterval)
	defer ping.Stop()
	var seq int64
	buf := make([]byte, 0, 1024)
	for {
		select {
		case <-c.done:
			return
		case m := <-c.send:
			seq++
			buf = append(buf[:0], `{"type":"`...)
			buf = append(buf, m.typ...)
			buf = append(buf, `","seq":`...)
			buf = fmt.Appendf(buf, "%d", seq)
			buf = append(buf, `,"data":`...)
			buf = append(buf, m.data...)
			buf = append(buf, '}')
			_ = c.conn.SetWriteDeadline(time.Now().Add(c.h.cfg.WriteTimeout))
			if err := c.conn.WriteMessage(websocket.TextMessage, buf); err != nil {
				return
			}
			c.h.sent.Add(1)
		case <-ping.C:
			if err := c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.h.cfg.WriteTimeout)); err != nil {
				return
			}
		}
	}
}

// Publish sends data (marshalled once) as a message of type typ to every
// client subscribed to typ whose filter matches item; item is passed to the
// client's Matcher (nil item: filters are ignored). group, when not empty,
// restricts graph deltas to clients subscribed to that group ("" or
// "Default" subscriptions get the all-traces deltas).
func (h *Hub) Publish(typ string, data any, item any, group string) error {
	raw, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("live: encode %s: %w", typ, err)
	}
	m := outMsg{typ: typ, data: raw}
	h.mu.RLock()
	targets := make([]*client, 0, len(h.clients))
	for c := range h.clients {
		targets = append(targets, c)
	}
	h.mu.RUnlock()
	for _, c := range targets {
		c.mu.Lock()
		ok := c.topics[typ]
		matcher := c.matcher
		sg := c.sub.Group
		c.mu.Unlock()
		if !ok {
			continue
		}
		if typ == TypeGraphDelta && normGroup(sg) != normGroup(group) {
			continue
		}
		if typ == TypeTraceSummary && matcher != nil && item != nil && !matcher.Match(item) {
			continue
		}
		c.enqueue(m)
	}
	return nil
}

func normGroup(g string) string {
	if g == "" {
		return "Default"
	}
	return g
}

// Close disconnects every client and waits for their goroutines.
func (h *Hub) Close() {
	h.mu.Lock()
	h.closed = true
	cs := make([]*client, 0, len(h.clients))
	for c := range h.clients {
		cs = append(cs, c)
	}
	h.mu.Unlock()
	for _, c := range cs {
		_ = c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "server shutting down"), time.Now().Add(time.Second))
		c.close()
	}
	h.wg.Wait()
}

// Run closes the hub when ctx is done.
func (h *Hub) Run(ctx context.Context) error {
	<-ctx.Done()
	h.Close()
	return nil
}
