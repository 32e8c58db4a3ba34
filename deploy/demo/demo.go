package demo

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-xray-sdk-go/strategy/sampling"
	"github.com/aws/aws-xray-sdk-go/xray"
	"github.com/aws/aws-xray-sdk-go/xraylog"
)

// Config controls the demo workload.
type Config struct {
	// DaemonAddr is where segments are sent (the collector's UDP address).
	DaemonAddr string
	// Rate is the number of client requests per second.
	Rate float64
	// FaultRate, ThrottleRate and SlowRate are the probabilities that one
	// request meets a server fault, a throttled dependency or a slow call.
	FaultRate, ThrottleRate, SlowRate float64
}

// RegisterFlags registers the demo flags on fs.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.Float64Var(&c.Rate, "demo-rate", 5, "demo workload: client requests per second")
	fs.Float64Var(&c.FaultRate, "demo-fault-rate", 0.05, "demo workload: probability of a server fault per request")
	fs.Float64Var(&c.ThrottleRate, "demo-throttle-rate", 0.03, "demo workload: probability of a throttled (429) dependency call")
	fs.Float64Var(&c.SlowRate, "demo-slow-rate", 0.05, "demo workload: probability of a slow call")
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	if c.Rate <= 0 || c.Rate > 10000 {
		return fmt.Errorf("demo rate %v: must be in (0, 10000]", c.Rate)
	}
	for _, p := range []float64{c.FaultRate, c.ThrottleRate, c.SlowRate} {
		if p < 0 || p > 1 {
			return fmt.Errorf("demo probability %v: must be in [0, 1]", p)
		}
	}
	return nil
}

// sampleAll records every request: the demo wants a full picture.
const sampleAll = `{"version":2,"default":{"fixed_target":1000,"rate":1.0},"rules":[]}`

// Shop is the running demo topology.
type Shop struct {
	cfg     Config
	log     *slog.Logger
	xcfg    xray.Config
	servers []*http.Server
	// FrontendURL is the entry point clients call.
	FrontendURL string
	client      *http.Client

	mu  sync.Mutex
	rnd *rand.Rand
}

// Start starts the shop's services on loopback ports. Stop them with Close.
func Start(ctx context.Context, cfg Config, log *slog.Logger) (*Shop, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	raddr, err := net.ResolveUDPAddr("udp", cfg.DaemonAddr)
	if err != nil {
		return nil, fmt.Errorf("demo: resolve daemon address %q: %w", cfg.DaemonAddr, err)
	}
	em, err := xray.NewDefaultEmitter(raddr)
	if err != nil {
		return nil, fmt.Errorf("demo: emitter: %w", err)
	}
	strat, err := sampling.NewLocalizedStrategyFromJSONBytes([]byte(sampleAll))
	if err != nil {
		return nil, fmt.Errorf("demo: sampling strategy: %w", err)
	}
	xray.SetLogger(xraylog.NewDefaultLogger(io.Discard, xraylog.LogLevelError))
	s := &Shop{
		cfg: cfg,
		log: log,
		xcfg: xray.Config{
			DaemonAddr:       cfg.DaemonAddr,
			Emitter:          em,
			SamplingStrategy: strat,
			ServiceVersion:   "demo-1.0",
		},
		client: &http.Client{Timeout: 10 * time.Second},
		rnd:    rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7)),
	}
	partner, err := s.serve(ctx, "", http.HandlerFunc(s.partner)) // not instrumented: a remote node
	if err != nil {
		return nil, err
	}
	inventory, err := s.serve(ctx, "inventory", http.HandlerFunc(s.inventory))
	if err != nil {
		s.Close()
		return nil, err
	}
	payments, err := s.serve(ctx, "payments", s.paymentsHandler(partner))
	if err != nil {
		s.Close()
		return nil, err
	}
	orders, err := s.serve(ctx, "orders", s.ordersHandler(inventory, payments))
	if err != nil {
		s.Close()
		return nil, err
	}
	frontend, err := s.serve(ctx, "frontend", s.frontendHandler(orders, inventory))
	if err != nil {
		s.Close()
		return nil, err
	}
	s.FrontendURL = frontend
	return s, nil
}

// serve starts one service; name "" means uninstrumented.
func (s *Shop) serve(ctx context.Context, name string, h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("demo: listen: %w", err)
	}
	if name != "" {
		xctx, err := xray.ContextWithConfig(context.Background(), s.xcfg)
		if err != nil {
			ln.Close()
			return "", fmt.Errorf("demo: xray config: %w", err)
		}
		h = xray.HandlerWithContext(xctx, xray.NewFixedSegmentNamer(name), withOrigin(origins[name], h))
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	s.servers = append(s.servers, srv)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Warn("demo service stopped", "service", name, "err", err)
		}
	}()
	return "http://" + ln.Addr().String(), nil
}

// Close stops every service.
func (s *Shop) Close() {
	for _, srv := range s.servers {
		srv.Close()
	}
}

func (s *Shop) chance(p float64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rnd.Float64() < p
}

func (s *Shop) intn(n int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rnd.IntN(n)
}

// origins are what the SDK's EC2/ECS plugins would record for each service.
var origins = map[string]string{
	"frontend":  "AWS::EC2::Instance",
	"orders":    "AWS::ECS::Container",
	"inventory": "AWS::ECS::Container",
	"payments":  "AWS::EC2::Instance",
}

// Origins returns the origin (service-map node type) of each demo service.
func Origins() map[string]string {
	m := make(map[string]string, len(origins))
	for k, v := range origins {
		m[k] = v
	}
	return m
}

// withOrigin records the resource type on the request's segment, as the
// SDK's plugins do on EC2 or ECS.
func withOrigin(origin string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if seg := xray.GetSegment(r.Context()); seg != nil && origin != "" {
			seg.Lock()
			seg.Origin = origin
			seg.Unlock()
		}
		h.ServeHTTP(w, r)
	})
}

var users = []string{"alice", "bob", "carol", "dave", "erin"}
var products = []string{"p-100", "p-200", "p-300", "p-400"}

func (s *Shop) frontendHandler(orders, inventory string) http.Handler {
	cl := xray.Client(&http.Client{Timeout: 10 * time.Second})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		seg := xray.GetSegment(ctx)
		user := r.URL.Query().Get("user")
		if seg != nil && user != "" {
			seg.User = user
			_ = seg.AddAnnotation("customer_tier", map[bool]string{true: "gold", false: "standard"}[user == "alice"])
		}
		var target string
		switch r.URL.Path {
		case "/checkout":
			target = orders + "/orders?product=" + r.URL.Query().Get("product")
		default:
			target = inventory + "/stock?product=" + r.URL.Query().Get("product")
		}
		status, err := get(ctx, cl, target)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		if status >= 500 {
			http.Error(w, "upstream failed", http.StatusBadGateway)
			return
		}
		if status == http.StatusTooManyRequests {
			http.Error(w, "try again later", http.StatusTooManyRequests)
			return
		}
		if status >= 400 {
			http.Error(w, "bad request", status)
			return
		}
		io.WriteString(w, "ok\n")
	})
}

func (s *Shop) ordersHandler(inventory, payments string) http.Handler {
	cl := xray.Client(&http.Client{Timeout: 10 * time.Second})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		product := r.URL.Query().Get("product")
		if seg := xray.GetSegment(ctx); seg != nil {
			_ = seg.AddAnnotation("product", product)
		}
		if err := s.dynamo(ctx, "PutItem", "orders"); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		if status, err := get(ctx, cl, inventory+"/reserve?product="+product); err != nil || status >= 400 {
			code := http.StatusInternalServerError
			if status == http.StatusTooManyRequests {
				code = http.StatusTooManyRequests
			}
			http.Error(w, "inventory unavailable", code)
			return
		}
		status, err := get(ctx, cl, payments+"/charge?amount="+strconv.Itoa(10+s.intn(90)))
		if err != nil || status >= 500 {
			http.Error(w, "payment failed", http.StatusInternalServerError)
			return
		}
		if status >= 400 {
			http.Error(w, "payment declined", http.StatusPaymentRequired)
			return
		}
		io.WriteString(w, "ordered\n")
	})
}

func (s *Shop) inventory(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if s.chance(s.cfg.ThrottleRate) {
		http.Error(w, "slow down", http.StatusTooManyRequests)
		return
	}
	if err := s.sql(ctx); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if err := s.dynamo(ctx, "GetItem", "inventory"); err != nil {
		// A throttled table read is passed on as a throttle, not a fault.
		http.Error(w, err.Error(), http.StatusTooManyRequests)
		return
	}
	if r.URL.Query().Get("product") == "" {
		http.Error(w, "missing product", http.StatusBadRequest)
		return
	}
	io.WriteString(w, "42\n")
}

func (s *Shop) paymentsHandler(partner string) http.Handler {
	cl := xray.Client(&http.Client{Timeout: 10 * time.Second})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if s.chance(s.cfg.FaultRate) {
			err := errors.New("payment processor: connection reset")
			if seg := xray.GetSegment(ctx); seg != nil {
				_ = seg.AddError(err)
			}
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		status, err := get(ctx, cl, partner+"/v1/charges")
		if err != nil || status >= 500 {
			http.Error(w, "partner failed", http.StatusBadGateway)
			return
		}
		io.WriteString(w, "charged\n")
	})
}

func (s *Shop) partner(w http.ResponseWriter, r *http.Request) {
	if s.chance(s.cfg.SlowRate) {
		time.Sleep(time.Duration(200+s.intn(400)) * time.Millisecond)
	} else {
		time.Sleep(time.Duration(2+s.intn(8)) * time.Millisecond)
	}
	io.WriteString(w, `{"status":"succeeded"}`)
}

// dynamo records a DynamoDB call the way the SDK's AWS instrumentation does.
func (s *Shop) dynamo(ctx context.Context, op, table string) error {
	var callErr error
	if err := xray.Capture(ctx, "DynamoDB", func(ctx context.Context) error {
		sub := xray.GetSegment(ctx)
		sub.Lock()
		sub.Namespace = "aws"
		sub.AWS = map[string]interface{}{
			"operation": op, "region": "us-east-1", "table_name": table,
			"request_id": fmt.Sprintf("REQ%08d", s.intn(1e8)), "resource_names": []string{table},
		}
		status := 200
		if s.chance(s.cfg.ThrottleRate / 2) {
			status = 400
			sub.Throttle = true
			sub.Error = true
			callErr = errors.New("ProvisionedThroughputExceededException")
		}
		sub.GetHTTP().GetResponse().Status = status
		sub.Unlock()
		time.Sleep(time.Duration(1+s.intn(4)) * time.Millisecond)
		return nil
	}); err != nil {
		return fmt.Errorf("dynamodb %s: %w", op, err)
	}
	return callErr
}

// sql records a PostgreSQL query subsegment.
func (s *Shop) sql(ctx context.Context) error {
	return xray.Capture(ctx, "inventory@db.internal", func(ctx context.Context) error {
		sub := xray.GetSegment(ctx)
		sub.Lock()
		sub.Namespace = "remote"
		sql := sub.GetSQL()
		sql.URL = "jdbc:postgresql://db.internal:5432/inventory"
		sql.DatabaseType = "PostgreSQL"
		sql.DatabaseVersion = "15.4"
		sql.SanitizedQuery = "SELECT qty FROM stock WHERE product = $1"
		sub.Unlock()
		d := time.Duration(1+s.intn(3)) * time.Millisecond
		if s.chance(s.cfg.SlowRate) {
			d = time.Duration(100+s.intn(200)) * time.Millisecond
		}
		time.Sleep(d)
		return nil
	})
}

func get(ctx context.Context, cl *http.Client, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := cl.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// Request sends one client request to the shop and returns its status code.
func (s *Shop) Request(ctx context.Context) (int, error) {
	user := users[s.intn(len(users))]
	product := products[s.intn(len(products))]
	path := "/browse"
	if s.intn(3) > 0 {
		path = "/checkout"
	}
	if s.intn(50) == 0 {
		product = "" // a client error
	}
	return get(ctx, s.client, s.FrontendURL+path+"?user="+user+"&product="+product)
}

// Drive sends requests at the configured rate until ctx is done.
func (s *Shop) Drive(ctx context.Context) error {
	t := time.NewTicker(time.Duration(float64(time.Second) / s.cfg.Rate))
	defer t.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := s.Request(ctx); err != nil && ctx.Err() == nil {
					s.log.Debug("demo request failed", "err", err)
				}
			}()
		}
	}
}
