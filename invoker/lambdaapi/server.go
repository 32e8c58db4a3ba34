package lambdaapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/fluoro/fluoro/invoker/engine"
	"github.com/fluoro/fluoro/invoker/store"
	"github.com/fluoro/fluoro/invoker/xrayemit"
)

// Config is the API's configuration (flags live in the invoker package).
type Config struct {
	Region    string
	AccountID string
	// WorkDir receives extracted code packages.
	WorkDir string
	// AllowLocalCode enables Code.S3Bucket "local" (S3Key = a directory on
	// this host).
	AllowLocalCode bool
	// MaxSyncPayload and MaxAsyncPayload bound Invoke request bodies.
	MaxSyncPayload, MaxAsyncPayload int
	// MaxTimeout and MaxMemory bound Timeout (s) and MemorySize (MB).
	MaxTimeout, MaxMemory int
}

// Sampler decides whether to trace an invocation that arrived without a
// sampling decision (TracingConfig Active).
type Sampler interface {
	Sample(functionName, functionARN string) bool
}

// AsyncQueue accepts Event invocations durably.
type AsyncQueue interface {
	// Enqueue stores ev; when it returns nil the event survives a restart.
	Enqueue(ctx context.Context, ev *AsyncEvent) error
	// DeadLetters returns recent dead-letter records of a function, oldest
	// first, as JSON documents.
	DeadLetters(function string, limit int) []any
}

// AsyncEvent is an accepted Event invocation.
type AsyncEvent struct {
	RequestID    string    `json:"request_id"`
	FunctionName string    `json:"function_name"`
	Qualifier    string    `json:"qualifier,omitempty"`
	Payload      []byte    `json:"payload"`
	Received     time.Time `json:"received"`
	// Trace context decided at receipt: Header.Root is the trace, Parent
	// the upstream parent, Sampled the decision.
	TraceHeader string `json:"trace_header"`
	Sampled     bool   `json:"sampled"`
	// ServiceSegmentID is the id of the AWS::Lambda segment the attempts'
	// function segments hang under (emitted when processing ends).
	ServiceSegmentID string `json:"service_segment_id,omitempty"`
	ClientContext    string `json:"client_context,omitempty"`
}

// Settings are the API's collaborators.
type Settings struct {
	Logger  *slog.Logger
	Store   *store.Store
	Engine  *engine.Engine
	Emitter engine.Emitter // nil: no service segments
	Sampler Sampler        // nil: Active functions sample everything without a header decision
	Async   AsyncQueue     // nil: Event invocations are refused
	// RuntimeSupported reports whether a managed runtime name is available.
	RuntimeSupported func(runtime string) bool
}

// Server is the Lambda REST API.
type Server struct {
	cfg Config
	set Settings
	log *slog.Logger

	specMu sync.Mutex
	specs  map[specKey]*engine.Spec

	// mu serialises control-plane changes that read-modify-write more than
	// one record (create + publish, reservation checks).
	mu sync.Mutex
}

// New creates the API server. Reserved concurrency stored for functions is
// applied to the engine.
func New(cfg Config, set Settings) (*Server, error) {
	if set.Logger == nil {
		set.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxSyncPayload <= 0 {
		cfg.MaxSyncPayload = 6 * 1024 * 1024
	}
	if cfg.MaxAsyncPayload <= 0 {
		cfg.MaxAsyncPayload = 256 * 1024
	}
	if cfg.MaxTimeout <= 0 {
		cfg.MaxTimeout = 900
	}
	if cfg.MaxMemory <= 0 {
		cfg.MaxMemory = 10240
	}
	s := &Server{cfg: cfg, set: set, log: set.Logger, specs: make(map[specKey]*engine.Spec)}
	for _, f := range set.Store.List() {
		if f.Reserved != nil {
			if err := set.Engine.SetReserved(f.Name, *f.Reserved); err != nil {
				s.log.Warn("stored reserved concurrency no longer fits", "function", f.Name, "err", err)
			}
		}
	}
	return s, nil
}

// Handler returns the HTTP handler of the API.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2015-03-31/functions", s.createFunction)
	mux.HandleFunc("POST /2015-03-31/functions/{$}", s.createFunction)
	mux.HandleFunc("GET /2015-03-31/functions", s.listFunctions)
	mux.HandleFunc("GET /2015-03-31/functions/{$}", s.listFunctions)
	mux.HandleFunc("GET /2015-03-31/functions/{name}", s.getFunction)
	mux.HandleFunc("DELETE /2015-03-31/functions/{name}", s.deleteFunction)
	mux.HandleFunc("GET /2015-03-31/functions/{name}/configuration", s.getFunctionConfiguration)
	mux.HandleFunc("PUT /2015-03-31/functions/{name}/configuration", s.updateFunctionConfiguration)
	mux.HandleFunc("PUT /2015-03-31/functions/{name}/code", s.updateFunctionCode)
	mux.HandleFunc("POST /2015-03-31/functions/{name}/invocations", s.invoke)
	mux.HandleFunc("POST /2015-03-31/functions/{name}/versions", s.publishVersion)
	mux.HandleFunc("GET /2015-03-31/functions/{name}/versions", s.listVersions)
	mux.HandleFunc("POST /2015-03-31/functions/{name}/aliases", s.createAlias)
	mux.HandleFunc("GET /2015-03-31/functions/{name}/aliases", s.listAliases)
	mux.HandleFunc("GET /2015-03-31/functions/{name}/aliases/{alias}", s.getAlias)
	mux.HandleFunc("PUT /2015-03-31/functions/{name}/aliases/{alias}", s.updateAlias)
	mux.HandleFunc("DELETE /2015-03-31/functions/{name}/aliases/{alias}", s.deleteAlias)
	mux.HandleFunc("PUT /2017-10-31/functions/{name}/concurrency", s.putConcurrency)
	mux.HandleFunc("DELETE /2017-10-31/functions/{name}/concurrency", s.deleteConcurrency)
	mux.HandleFunc("GET /2019-09-30/functions/{name}/concurrency", s.getConcurrency)
	mux.HandleFunc("PUT /2019-09-25/functions/{name}/event-invoke-config", s.putEventInvokeConfig)
	mux.HandleFunc("POST /2019-09-25/functions/{name}/event-invoke-config", s.updateEventInvokeConfig)
	mux.HandleFunc("GET /2019-09-25/functions/{name}/event-invoke-config", s.getEventInvokeConfig)
	mux.HandleFunc("DELETE /2019-09-25/functions/{name}/event-invoke-config", s.deleteEventInvokeConfig)
	mux.HandleFunc("GET /2019-09-25/functions/{name}/event-invoke-config/list", s.listEventInvokeConfigs)
	mux.HandleFunc("GET /2016-08-19/account-settings", s.accountSettings)
	mux.HandleFunc("GET /2016-08-19/account-settings/{$}", s.accountSettings)
	// Extensions (documented in invoker/README.md).
	mux.HandleFunc("GET /2015-03-31/functions/{name}/logs", s.functionLogs)
	mux.HandleFunc("GET /2015-03-31/functions/{name}/dead-letters", s.deadLetters)
	mux.HandleFunc("GET /2015-03-31/functions/{name}/package", s.codePackage)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, errf(http.StatusNotFound, "UnknownOperationException", "Unknown operation %s %s", r.Method, r.URL.Path))
	})
	return &router{mux: mux, invoke: s.invoke}
}

// router sends Invoke calls straight to their handler and everything else
// through the ServeMux: Invoke is the hot path, and matching its pattern
// (path cleaning, the routing tree) is a measurable part of its cost.
type router struct {
	mux    *http.ServeMux
	invoke http.HandlerFunc
}

const (
	invokePrefix  = "/2015-03-31/functions/"
	invokeSuffix  = "/invocations"
	invokePattern = "POST " + invokePrefix + "{name}" + invokeSuffix
)

func (rt *router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && r.URL.RawPath == "" {
		if name, ok := invokeName(r.URL.Path); ok {
			r.Pattern = invokePattern
			r.SetPathValue("name", name)
			rt.invoke(w, r)
			return
		}
	}
	rt.mux.ServeHTTP(w, r)
}

// invokeName returns the {name} of an Invoke path that the ServeMux would
// route to the same handler unchanged (one clean segment, no escapes: the
// caller checked RawPath).
func invokeName(path string) (string, bool) {
	if len(path) <= len(invokePrefix)+len(invokeSuffix) || !strings.HasPrefix(path, invokePrefix) || !strings.HasSuffix(path, invokeSuffix) {
		return "", false
	}
	name := path[len(invokePrefix) : len(path)-len(invokeSuffix)]
	if name == "" || name == "." || name == ".." || strings.IndexByte(name, '/') >= 0 {
		return "", false
	}
	return name, true
}

// newRequestID returns a random UUID v4.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:])
	return string(out[:])
}

// functionARN returns the unqualified ARN of name.
func (s *Server) functionARN(name string) string {
	return "arn:aws:lambda:" + s.cfg.Region + ":" + s.cfg.AccountID + ":function:" + name
}

// xrayID returns a new segment id (for tests to stub).
var xrayID = xrayemit.NewID
