package demo

// The Lambda half of the demo: three Python functions deployed into Fluoro's
// invoker through its public Lambda REST API (the real aws-sdk-go-v2 client),
// with active tracing, and a driver that calls them.
//
//	client ──Invoke──▶ demo-api ──Invoke──▶ demo-orders ──Invoke (parallel)──▶ demo-inventory
//	                                               └──HTTP POST /v1/charges──▶ payments-partner (uninstrumented)
//
// Inside the functions a small stdlib tracer (functions/lib/xraylite.py) does
// what an X-Ray SDK does in Lambda: it sends the functions' own subsegments
// as independent documents over UDP to AWS_XRAY_DAEMON_ADDRESS, parented on
// the Parent of _X_AMZN_TRACE_ID, and propagates X-Amzn-Trace-Id on its
// Invoke calls so each callee's AWS::Lambda segment is a child of the
// caller's "Lambda" Invoke subsegment.

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

//go:embed functions
var functionSources embed.FS

// FunctionsConfig controls the demo functions and their driver.
type FunctionsConfig struct {
	// LambdaEndpoint is the invoker's Lambda REST API, e.g.
	// http://127.0.0.1:3001. The functions call it too (it must be reachable
	// from the host's loopback).
	LambdaEndpoint string
	// Region is the region the Lambda client signs for (the invoker does not
	// check it); "" means us-east-1.
	Region string
	// Prefix is prepended to the function names api, orders and inventory.
	Prefix string
	// Runtime is the Python managed runtime of the functions.
	Runtime string
	// Rate is the number of client requests (Invokes of the api function)
	// per second; MaxInFlight bounds concurrent ones (ticks beyond it are
	// skipped, not queued).
	Rate        float64
	MaxInFlight int
	// InventoryConcurrency is the reserved concurrency of the inventory
	// function: parallel reservations of large orders beyond it are
	// throttled (429 TooManyRequestsException).
	InventoryConcurrency int
	// FaultRate, ThrottleRate and SlowRate are the probabilities of an
	// unhandled error (or, for a quarter of them, a timeout) in inventory and
	// a 5xx from the partner; of a large, throttle-prone order and a 429 from
	// the partner; and of a slow call.
	FaultRate, ThrottleRate, SlowRate float64
	// PartnerURL is the base URL of the payment partner, the uninstrumented
	// HTTP dependency of orders. RunFunctions starts one when it is empty.
	PartnerURL string
}

// DefaultFunctionsConfig returns the defaults of RegisterFlags and the
// rates of the demo shop's defaults.
func DefaultFunctionsConfig() FunctionsConfig {
	c := FunctionsConfig{FaultRate: 0.05, ThrottleRate: 0.03, SlowRate: 0.05}
	c.RegisterFlags(flag.NewFlagSet("", flag.ContinueOnError))
	return c
}

// RegisterFlags registers the flags of the demo functions on fs. The fault,
// throttle and slow rates are not flags of their own: callers copy them
// from Config (demo-fault-rate, demo-throttle-rate, demo-slow-rate).
func (c *FunctionsConfig) RegisterFlags(fs *flag.FlagSet) {
	fs.Float64Var(&c.Rate, "demo-lambda-rate", 2, "demo workload: invocations of the demo api function per second (when the invoker runs)")
	fs.IntVar(&c.MaxInFlight, "demo-lambda-max-in-flight", 8, "demo workload: most concurrent invocations of the demo api function")
	fs.StringVar(&c.Prefix, "demo-lambda-prefix", "demo-", "demo workload: prefix of the demo function names (api, orders, inventory)")
	fs.IntVar(&c.InventoryConcurrency, "demo-lambda-inventory-concurrency", 2, "demo workload: reserved concurrency of the inventory function (large orders beyond it are throttled)")
	fs.StringVar(&c.Runtime, "demo-lambda-runtime", "python3.12", "demo workload: runtime of the demo functions (python3.x)")
}

// Validate checks the configuration.
func (c *FunctionsConfig) Validate() error {
	var errs []error
	if u, err := url.Parse(c.LambdaEndpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("demo functions: lambda endpoint %q: want http://host:port", c.LambdaEndpoint))
	}
	if c.Rate <= 0 || c.Rate > 1000 {
		errs = append(errs, fmt.Errorf("demo-lambda-rate %v: must be in (0, 1000]", c.Rate))
	}
	if c.MaxInFlight < 1 {
		errs = append(errs, errors.New("demo-lambda-max-in-flight: must be ≥ 1"))
	}
	if c.InventoryConcurrency < 1 {
		errs = append(errs, errors.New("demo-lambda-inventory-concurrency: must be ≥ 1"))
	}
	if len(c.Runtime) < len("python3.") || c.Runtime[:len("python3.")] != "python3." {
		errs = append(errs, fmt.Errorf("demo-lambda-runtime %q: must be a python3.x runtime", c.Runtime))
	}
	for _, p := range []float64{c.FaultRate, c.ThrottleRate, c.SlowRate} {
		if p < 0 || p > 1 {
			errs = append(errs, fmt.Errorf("demo probability %v: must be in [0, 1]", p))
		}
	}
	if len(c.Prefix) > 40 {
		errs = append(errs, errors.New("demo-lambda-prefix: at most 40 characters"))
	}
	return errors.Join(errs...)
}

// Names of the demo functions (without Prefix).
const (
	FunctionAPI       = "api"
	FunctionOrders    = "orders"
	FunctionInventory = "inventory"
)

// demoRole is the execution role the functions are created with; the
// invoker only requires the member.
const demoRole = "arn:aws:iam::000000000000:role/fluoro-demo"

// function describes one demo function.
type function struct {
	base    string // FunctionAPI …
	timeout int32  // seconds
	env     func(c *FunctionsConfig) map[string]string
}

var demoFunctions = []function{ // callees first
	{FunctionInventory, 2, func(c *FunctionsConfig) map[string]string {
		return map[string]string{
			"DEMO_FAULT_RATE": strconv.FormatFloat(c.FaultRate, 'g', -1, 64),
			"DEMO_SLOW_RATE":  strconv.FormatFloat(c.SlowRate, 'g', -1, 64),
		}
	}},
	{FunctionOrders, 10, func(c *FunctionsConfig) map[string]string {
		return map[string]string{
			"DEMO_INVENTORY_FUNCTION": c.Prefix + FunctionInventory,
			"DEMO_PARTNER_URL":        c.PartnerURL,
			"DEMO_SLOW_RATE":          strconv.FormatFloat(c.SlowRate, 'g', -1, 64),
		}
	}},
	{FunctionAPI, 15, func(c *FunctionsConfig) map[string]string {
		return map[string]string{"DEMO_ORDERS_FUNCTION": c.Prefix + FunctionOrders}
	}},
}

// handler is the handler of every demo function (app.py, def handler).
const handler = "app.handler"

// zipEpoch is the modification time of every file in the zips, so the same
// sources always give the same CodeSha256 and redeploys are no-ops.
var zipEpoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// functionZip builds the deployment package of the function named base:
// its own folder plus the shared lib/ folder, all at the zip's root.
func functionZip(base string) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, dir := range []string{"functions/lib", "functions/" + base} {
		entries, err := fs.ReadDir(functionSources, dir)
		if err != nil {
			return nil, fmt.Errorf("demo: function %s: %w", base, err)
		}
		for _, e := range entries {
			if e.IsDir() {
				continue
			}
			data, err := functionSources.ReadFile(path.Join(dir, e.Name()))
			if err != nil {
				return nil, fmt.Errorf("demo: function %s: %w", base, err)
			}
			h := &zip.FileHeader{Name: e.Name(), Method: zip.Deflate, Modified: zipEpoch}
			h.SetMode(0o644)
			w, err := zw.CreateHeader(h)
			if err != nil {
				return nil, fmt.Errorf("demo: function %s: %w", base, err)
			}
			if _, err := w.Write(data); err != nil {
				return nil, fmt.Errorf("demo: function %s: %w", base, err)
			}
		}
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("demo: function %s: %w", base, err)
	}
	return buf.Bytes(), nil
}

// codeSha256 is Lambda's CodeSha256 of a zip.
func codeSha256(zip []byte) string {
	sum := sha256.Sum256(zip)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// Functions deploys and drives the demo functions through a Lambda API.
type Functions struct {
	cfg    FunctionsConfig
	log    *slog.Logger
	client *lambda.Client

	mu  sync.Mutex
	rnd *mrand.Rand

	// counters of Drive, for its periodic summary
	sent, ok, clientErr, throttled, failed, skipped atomic.Int64
}

// NewFunctions returns a Functions for cfg. Nothing is contacted until
// Deploy or Call.
func NewFunctions(cfg FunctionsConfig, log *slog.Logger) (*Functions, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = cfg.MaxInFlight + 4
	client := lambda.New(lambda.Options{
		Region:       cfg.Region,
		BaseEndpoint: aws.String(cfg.LambdaEndpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("fluoro-demo", "fluoro-demo", ""),
		HTTPClient:   &http.Client{Transport: tr, Timeout: 60 * time.Second},
	})
	return &Functions{
		cfg: cfg, log: log, client: client,
		rnd: mrand.New(mrand.NewPCG(uint64(time.Now().UnixNano()), 11)),
	}, nil
}

// Name returns the deployed name of a demo function (FunctionAPI …).
func (f *Functions) Name(base string) string { return f.cfg.Prefix + base }

// Deploy creates the demo functions, or updates code and configuration
// where they differ, with TracingConfig Active; sets the inventory
// function's reserved concurrency; and waits until every function is Active
// with its last update Successful. Running it again changes nothing.
func (f *Functions) Deploy(ctx context.Context) error {
	for _, fn := range demoFunctions {
		if err := f.deployOne(ctx, fn); err != nil {
			return err
		}
	}
	inv := f.Name(FunctionInventory)
	cur, err := f.client.GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{FunctionName: aws.String(inv)})
	if err != nil {
		return fmt.Errorf("demo: reserved concurrency of %s: %w", inv, err)
	}
	if want := int32(f.cfg.InventoryConcurrency); cur.ReservedConcurrentExecutions == nil || *cur.ReservedConcurrentExecutions != want {
		if _, err := f.client.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{
			FunctionName: aws.String(inv), ReservedConcurrentExecutions: aws.Int32(want),
		}); err != nil {
			return fmt.Errorf("demo: reserved concurrency of %s: %w", inv, err)
		}
	}
	for _, fn := range demoFunctions {
		if err := f.waitReady(ctx, f.Name(fn.base)); err != nil {
			return err
		}
	}
	return nil
}

func (f *Functions) deployOne(ctx context.Context, fn function) error {
	name := f.Name(fn.base)
	code, err := functionZip(fn.base)
	if err != nil {
		return err
	}
	env := fn.env(&f.cfg)
	env["DEMO_LAMBDA_ENDPOINT"] = f.cfg.LambdaEndpoint
	got, err := f.client.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(name)})
	var nf *types.ResourceNotFoundException
	switch {
	case errors.As(err, &nf):
		_, err = f.client.CreateFunction(ctx, &lambda.CreateFunctionInput{
			FunctionName:  aws.String(name),
			Runtime:       types.Runtime(f.cfg.Runtime),
			Role:          aws.String(demoRole),
			Handler:       aws.String(handler),
			Code:          &types.FunctionCode{ZipFile: code},
			Description:   aws.String("Fluoro demo: " + fn.base),
			Timeout:       aws.Int32(fn.timeout),
			MemorySize:    aws.Int32(128),
			Environment:   &types.Environment{Variables: env},
			TracingConfig: &types.TracingConfig{Mode: types.TracingModeActive},
			Tags:          map[string]string{"fluoro:demo": "true"},
		})
		if err != nil {
			return fmt.Errorf("demo: create %s: %w", name, err)
		}
		f.log.Info("demo function created", "function", name)
		return nil
	case err != nil:
		return fmt.Errorf("demo: get %s: %w", name, err)
	}
	c := got.Configuration
	if c == nil {
		return fmt.Errorf("demo: get %s: no configuration in the answer", name)
	}
	if aws.ToString(c.CodeSha256) != codeSha256(code) {
		if _, err := f.client.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{
			FunctionName: aws.String(name), ZipFile: code,
		}); err != nil {
			return fmt.Errorf("demo: update code of %s: %w", name, err)
		}
		if err := f.waitReady(ctx, name); err != nil {
			return err
		}
		f.log.Info("demo function code updated", "function", name)
	}
	var curEnv map[string]string
	if c.Environment != nil {
		curEnv = c.Environment.Variables
	}
	same := c.Runtime == types.Runtime(f.cfg.Runtime) && aws.ToString(c.Handler) == handler &&
		aws.ToInt32(c.Timeout) == fn.timeout && aws.ToInt32(c.MemorySize) == 128 &&
		c.TracingConfig != nil && c.TracingConfig.Mode == types.TracingModeActive &&
		maps.Equal(curEnv, env)
	if !same {
		if _, err := f.client.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{
			FunctionName:  aws.String(name),
			Runtime:       types.Runtime(f.cfg.Runtime),
			Role:          aws.String(demoRole),
			Handler:       aws.String(handler),
			Timeout:       aws.Int32(fn.timeout),
			MemorySize:    aws.Int32(128),
			Environment:   &types.Environment{Variables: env},
			TracingConfig: &types.TracingConfig{Mode: types.TracingModeActive},
		}); err != nil {
			return fmt.Errorf("demo: update configuration of %s: %w", name, err)
		}
		f.log.Info("demo function configuration updated", "function", name)
	}
	return nil
}

// waitReady polls until the function is Active and its last update done.
func (f *Functions) waitReady(ctx context.Context, name string) error {
	for delay := 50 * time.Millisecond; ; delay = min(2*delay, time.Second) {
		c, err := f.client.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(name)})
		if err != nil {
			return fmt.Errorf("demo: state of %s: %w", name, err)
		}
		switch {
		case c.State == types.StateFailed:
			return fmt.Errorf("demo: %s failed: %s", name, aws.ToString(c.StateReason))
		case c.LastUpdateStatus == types.LastUpdateStatusFailed:
			return fmt.Errorf("demo: update of %s failed: %s", name, aws.ToString(c.LastUpdateStatusReason))
		case c.State == types.StateActive && (c.LastUpdateStatus == "" || c.LastUpdateStatus == types.LastUpdateStatusSuccessful):
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("demo: waiting for %s: %w", name, ctx.Err())
		case <-time.After(delay):
		}
	}
}

// Event is one client request to the api function, shaped like a small
// API Gateway request: Route is "POST /orders" or "GET /orders/<id>".
type Event struct {
	Route string `json:"route"`
	User  string `json:"user,omitempty"`
	Items []Item `json:"items,omitempty"`
}

// Item is one order line.
type Item struct {
	SKU string `json:"sku"`
	Qty int    `json:"qty"`
}

// CallResult is the outcome of one client request.
type CallResult struct {
	// TraceID is the Root of the trace the request started.
	TraceID string
	// StatusCode is the statusCode of the api function's proxy result (0
	// when the function failed).
	StatusCode int
	// FunctionError is X-Amz-Function-Error ("Unhandled") when api failed.
	FunctionError string
	// Body is the body of the proxy result.
	Body string
}

// newTraceID returns a fresh X-Ray trace id for now.
func newTraceID(now time.Time) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("1-%08x-%s", now.Unix(), hex.EncodeToString(b[:]))
}

// Call invokes the api function with ev as a sampled trace of its own
// (X-Amzn-Trace-Id: Root=<new>;Sampled=1: the client is the root, so every
// demo request is traced whatever the sampling rules say).
func (f *Functions) Call(ctx context.Context, ev Event) (CallResult, error) {
	payload, err := json.Marshal(ev)
	if err != nil {
		return CallResult{}, fmt.Errorf("demo: event: %w", err)
	}
	res := CallResult{TraceID: newTraceID(time.Now())}
	out, err := f.client.Invoke(ctx, &lambda.InvokeInput{
		FunctionName: aws.String(f.Name(FunctionAPI)),
		Payload:      payload,
	}, func(o *lambda.Options) {
		o.RetryMaxAttempts = 1
		o.APIOptions = append(o.APIOptions, smithyhttp.AddHeaderValue("X-Amzn-Trace-Id", "Root="+res.TraceID+";Sampled=1"))
	})
	if err != nil {
		return res, fmt.Errorf("demo: invoke %s: %w", f.Name(FunctionAPI), err)
	}
	res.FunctionError = aws.ToString(out.FunctionError)
	if res.FunctionError != "" {
		res.Body = string(out.Payload)
		return res, nil
	}
	var proxy struct {
		StatusCode int    `json:"statusCode"`
		Body       string `json:"body"`
	}
	if err := json.Unmarshal(out.Payload, &proxy); err != nil {
		return res, fmt.Errorf("demo: %s answered %q: %w", f.Name(FunctionAPI), out.Payload, err)
	}
	res.StatusCode, res.Body = proxy.StatusCode, proxy.Body
	return res, nil
}

var skus = []string{"p-100", "p-200", "p-300", "p-400"}

// RandomEvent returns a varied client request: mostly orders of 1 to
// InventoryConcurrency lines and lookups of existing and unknown orders,
// now and then an invalid order or an out-of-stock line, and with
// probability ThrottleRate a large order whose parallel reservations exceed
// the inventory function's reserved concurrency.
func (f *Functions) RandomEvent() Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.rnd
	ev := Event{User: users[r.IntN(len(users))]}
	switch p := r.Float64(); {
	case p < f.cfg.ThrottleRate:
		ev.Route = "POST /orders"
		for range f.cfg.InventoryConcurrency + 2 + r.IntN(3) {
			ev.Items = append(ev.Items, Item{SKU: skus[r.IntN(len(skus))], Qty: 1 + r.IntN(3)})
		}
	case p < 0.70:
		ev.Route = "POST /orders"
		for range 1 + r.IntN(f.cfg.InventoryConcurrency) { // within the reserved concurrency
			ev.Items = append(ev.Items, Item{SKU: skus[r.IntN(len(skus))], Qty: 1 + r.IntN(5)})
		}
		if r.IntN(40) == 0 {
			ev.Items[0].SKU = "p-999" // not stocked: 409
		}
	case p < 0.95:
		ev.Route = fmt.Sprintf("GET /orders/o-%08x", r.Uint32())
		if r.IntN(20) == 0 {
			ev.Route = "GET /orders/unknown" // 404
		}
	case p < 0.98:
		ev.Route = "POST /orders" // no items: 400
	default:
		ev.Route = "DELETE /orders" // no such route: 404
	}
	return ev
}

// Drive calls the api function with RandomEvent at cfg.Rate until ctx is
// done, at most MaxInFlight at a time. It returns nil when ctx ends;
// failures of single requests are counted and summarized in the log.
func (f *Functions) Drive(ctx context.Context) error {
	t := time.NewTicker(time.Duration(float64(time.Second) / f.cfg.Rate))
	defer t.Stop()
	summary := time.NewTicker(time.Minute)
	defer summary.Stop()
	sem := make(chan struct{}, f.cfg.MaxInFlight)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-summary.C:
			f.log.Debug("demo functions driven", "sent", f.sent.Load(), "ok", f.ok.Load(),
				"client_errors", f.clientErr.Load(), "throttled", f.throttled.Load(),
				"failed", f.failed.Load(), "skipped", f.skipped.Load())
		case <-t.C:
			select {
			case sem <- struct{}{}:
			default:
				f.skipped.Add(1)
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				res, err := f.Call(ctx, f.RandomEvent())
				if err != nil && ctx.Err() != nil {
					return // cut short by the end of the drive
				}
				f.count(res, err)
			}()
		}
	}
}

func (f *Functions) count(res CallResult, err error) {
	f.sent.Add(1)
	switch {
	case err != nil:
		f.failed.Add(1)
		if f.failed.Load() == 1 {
			f.log.Warn("demo function call failed (later failures are only counted)", "err", err)
		}
	case res.FunctionError != "" || res.StatusCode >= 500:
		f.failed.Add(1)
	case res.StatusCode == http.StatusTooManyRequests:
		f.throttled.Add(1)
	case res.StatusCode >= 400:
		f.clientErr.Add(1)
	default:
		f.ok.Add(1)
	}
}

// DeployFunctions deploys (creates or updates) the demo functions into the
// invoker at cfg.LambdaEndpoint; see Functions.Deploy. cfg.PartnerURL
// should name a running partner (StartPartner).
func DeployFunctions(ctx context.Context, cfg FunctionsConfig, log *slog.Logger) error {
	f, err := NewFunctions(cfg, log)
	if err != nil {
		return err
	}
	return f.Deploy(ctx)
}

// DriveFunctions calls the deployed demo functions at cfg.Rate until ctx is
// done; see Functions.Drive.
func DriveFunctions(ctx context.Context, cfg FunctionsConfig, log *slog.Logger) error {
	f, err := NewFunctions(cfg, log)
	if err != nil {
		return err
	}
	return f.Drive(ctx)
}

// RunFunctions is the whole Lambda demo for `fluoro up --demo`: it starts
// the payment partner unless cfg.PartnerURL is set, deploys the functions
// (retrying while the invoker is not answering yet), then drives them until
// ctx is done. It returns nil when ctx ends, or the error that stopped the
// deployment (an API error other than a connection failure).
func RunFunctions(ctx context.Context, cfg FunctionsConfig, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.PartnerURL == "" {
		p, err := StartPartner(PartnerConfig{FaultRate: cfg.FaultRate / 2, ThrottleRate: cfg.ThrottleRate / 2, SlowRate: cfg.SlowRate})
		if err != nil {
			return err
		}
		defer p.Close()
		cfg.PartnerURL = p.URL
	}
	f, err := NewFunctions(cfg, log)
	if err != nil {
		return err
	}
	for delay := 250 * time.Millisecond; ; delay = min(2*delay, 5*time.Second) {
		err := f.Deploy(ctx)
		if err == nil {
			break
		}
		var apiErr smithy.APIError
		if errors.As(err, &apiErr) || ctx.Err() != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		log.Debug("demo functions: invoker not ready, retrying", "err", err, "in", delay)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
	}
	log.Info("demo functions deployed", "api", f.Name(FunctionAPI), "orders", f.Name(FunctionOrders),
		"inventory", f.Name(FunctionInventory), "rate", cfg.Rate, "partner", cfg.PartnerURL)
	return f.Drive(ctx)
}
