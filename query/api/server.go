package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// TraceReader is what the API needs from trace storage; *chstore.Store
// satisfies it.
type TraceReader interface {
	// Documents returns the newest version of every stored top-level
	// document of the given traces (complete beats in-progress), in any
	// order; unknown trace ids simply have no documents.
	Documents(ctx context.Context, traceIDs []string) ([]storedDocument, error)
	// TraceIDs returns one page of the traces q selects, most recent
	// first, and the cursor of the next page ("" after the last one).
	TraceIDs(ctx context.Context, q traceQuery) (refs []traceRef, next string, err error)
}

// Settings is the developer-set part of the server: its dependencies.
type Settings struct {
	// Logger receives startup, shutdown and failure messages; nil discards.
	Logger *slog.Logger
	// Reader is the trace storage. Required.
	Reader TraceReader
	// Extra, when set, serves every request the X-Ray API has no route
	// for, e.g. the collector's POST /TraceSegments, /GetSamplingRules,
	// /SamplingTargets and GET /metrics.
	Extra http.Handler
	// Groups stores X-Ray groups. nil: Reader, if it is a GroupStore (as
	// *chstore.Store is); else only the Default group exists.
	Groups GroupStore
	// Sampling, when set, answers the six sampling operations
	// (collector/sampling's Service, shared with the collector so both
	// ports grant quotas from the same statistics). nil: GetSamplingRules
	// and SamplingTargets go to Extra, the others answer
	// NotImplementedException.
	Sampling http.Handler
	// Graph answers GetServiceGraph, GetTraceGraph and
	// GetTimeSeriesServiceStatistics (query/graphstore). nil: they answer
	// NotImplementedException.
	Graph GraphReader
	// Alerts, when set, serves the /alerting API and makes the Insights
	// operations project its alerts (query/alert's *Engine). nil: no
	// /alerting routes, and no insights.
	Alerts AlertManager
}

// Server is the X-Ray API server.
type Server struct {
	cfg    Config
	log    *slog.Logger
	reader TraceReader
	extra  http.Handler
	echo   *echo.Echo
	// groups is nil without group storage; groupsMu serializes group
	// changes (check, then write).
	groups   GroupStore
	groupsMu sync.Mutex
	sampling http.Handler
	graph    GraphReader
	alerts   AlertManager
	// slots holds one token per operation in flight (Config.MaxConcurrent).
	slots   chan struct{}
	metrics *serverMetrics
}

// New validates cfg and builds the server; Run or Handler put it to work.
func New(cfg Config, set Settings) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("query api config: %w", err)
	}
	if set.Reader == nil {
		return nil, errors.New("query api: Settings.Reader is required")
	}
	s := &Server{cfg: cfg, log: set.Logger, reader: set.Reader, extra: set.Extra,
		slots: make(chan struct{}, cfg.MaxConcurrent), metrics: newServerMetrics(),
		groups: set.Groups, sampling: set.Sampling, graph: set.Graph, alerts: set.Alerts}
	if s.groups == nil {
		s.groups, _ = set.Reader.(GroupStore)
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.Pre(requestID)
	own := map[string]bool{}
	for _, r := range s.routes() {
		e.Add(r.method, r.path, r.handler, s.withOp(r.op), s.limit)
		own[r.path] = true
	}
	fallback := func(c echo.Context) error {
		if own[c.Request().URL.Path] {
			return echo.ErrMethodNotAllowed
		}
		if s.extra == nil {
			return echo.ErrNotFound
		}
		s.extra.ServeHTTP(c.Response(), c.Request())
		return nil
	}
	e.RouteNotFound("/*", fallback)
	s.echo = e
	return s, nil
}

// route is one entry of the route table.
type route struct {
	method, path string
	op           string // X-Ray operation name, used in metrics
	handler      echo.HandlerFunc
}

// routes is the API's route table. Paths and operation names are those of
// aws-sdk-go-v2 service/xray (xray.md §4.2).
func (s *Server) routes() []route {
	rs := []route{
		{http.MethodPost, "/Traces", "BatchGetTraces", s.handleBatchGetTraces},
		{http.MethodPost, "/TraceSummaries", "GetTraceSummaries", s.handleGetTraceSummaries},
		{http.MethodPost, "/EncryptionConfig", "GetEncryptionConfig", handleGetEncryptionConfig},
		{http.MethodPost, "/GetTraceSegmentDestination", "GetTraceSegmentDestination", handleGetTraceSegmentDestination},
		{http.MethodPost, "/CreateGroup", "CreateGroup", s.handleCreateGroup},
		{http.MethodPost, "/GetGroup", "GetGroup", s.handleGetGroup},
		{http.MethodPost, "/Groups", "GetGroups", s.handleGetGroups},
		{http.MethodPost, "/UpdateGroup", "UpdateGroup", s.handleUpdateGroup},
		{http.MethodPost, "/DeleteGroup", "DeleteGroup", s.handleDeleteGroup},
		{http.MethodPost, "/InsightSummaries", "GetInsightSummaries", s.handleGetInsightSummaries},
		{http.MethodPost, "/Insight", "GetInsight", s.handleGetInsight},
		{http.MethodPost, "/InsightEvents", "GetInsightEvents", s.handleGetInsightEvents},
		{http.MethodPost, "/InsightImpactGraph", "GetInsightImpactGraph", s.handleGetInsightImpactGraph},
	}
	rs = append(rs, s.samplingRoutes()...)
	rs = append(rs, s.alertingRoutes()...)
	if s.extra == nil {
		// The collector (Extra) takes the daemon's telemetry when present.
		rs = append(rs, route{http.MethodPost, "/TelemetryRecords", "PutTelemetryRecords", handlePutTelemetryRecords})
	}
	// The service graph (graph.go); without Settings.Graph they answer
	// NotImplementedException.
	rs = append(rs,
		route{http.MethodPost, "/ServiceGraph", "GetServiceGraph", s.handleGetServiceGraph},
		route{http.MethodPost, "/TraceGraph", "GetTraceGraph", s.handleGetTraceGraph},
		route{http.MethodPost, "/TimeSeriesServiceStatistics", "GetTimeSeriesServiceStatistics", s.handleGetTimeSeries})
	return rs
}

func notImplemented(op string) echo.HandlerFunc {
	return func(echo.Context) error {
		return &Error{Status: http.StatusNotImplemented, Code: codeNotImplemented,
			Message: op + " is not implemented by this Fluoro version yet; BatchGetTraces and GetTraceSummaries are"}
	}
}

// Handler returns the API as an http.Handler (for main to compose).
func (s *Server) Handler() http.Handler { return s.echo }

// Run listens on Config.Addr and serves until ctx is done, then shuts down
// gracefully: it stops accepting, waits up to Config.ShutdownTimeout for
// requests in flight and returns nil.
func (s *Server) Run(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("query api: listen: %w", err)
	}
	return s.Serve(ctx, ln)
}

// Serve is Run on a listener the caller opened; it closes ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.echo,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	s.log.Info("X-Ray API listening", "addr", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("query api: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		_ = srv.Close()
		err = fmt.Errorf("query api: shutdown: %w", err)
	}
	<-errc // http.ErrServerClosed
	s.log.Info("X-Ray API stopped")
	return err
}

// limit answers ThrottledException when Config.MaxConcurrent operations
// are already in flight.
func (s *Server) limit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		select {
		case s.slots <- struct{}{}:
			defer func() { <-s.slots }()
			return next(c)
		default:
			return &Error{Status: http.StatusTooManyRequests, Code: codeThrottled,
				Message: fmt.Sprintf("more than %d X-Ray API requests in flight; retry with back-off (or raise --api-max-concurrent)", s.cfg.MaxConcurrent)}
		}
	}
}

const requestIDHeader = "X-Amzn-Requestid"

// requestID gives every response an x-amzn-RequestId (SDKs surface it).
func requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		var b [16]byte
		_, _ = rand.Read(b[:])
		b[6] = b[6]&0x0f | 0x40 // UUID version 4
		b[8] = b[8]&0x3f | 0x80
		h := hex.EncodeToString(b[:])
		c.Response().Header().Set(requestIDHeader, h[:8]+"-"+h[8:12]+"-"+h[12:16]+"-"+h[16:20]+"-"+h[20:])
		return next(c)
	}
}
