// Package loadgen generates a realistic mix of X-Ray segment documents, the
// shapes the SDKs send, for tests, benchmarks and demo traffic:
//
//   - web: an HTTP service segment (EC2 origin) with embedded DynamoDB, remote
//     HTTP and SQL subsegments, annotations and metadata (~1.5 KB);
//   - lambda: an independent subsegment as the SDK sends it inside a Lambda
//     function ("type":"subsegment", parent_id = the function segment);
//   - batch: a JSON array of independent subsegments in one body;
//   - inprogress: an in-progress segment, followed later by its complete
//     version (same id);
//   - fault: a 5xx segment with a cause holding exceptions and stack frames
//     (3–8 KB).
//
// The output is deterministic for a seed (apart from timestamps, which
// follow the clock so the collector's time checks accept them). It imports
// only the standard library.
package loadgen

import (
	"math/rand/v2"
	"strconv"
	"time"
)

// Header is the X-Ray daemon header line, as aws-xray-sdk-go writes it.
const Header = `{"format": "json", "version": 1}`

// Shape names a kind of generated document body.
type Shape uint8

// Shapes, in the order of Mix's weights.
const (
	ShapeWeb Shape = iota
	ShapeLambda
	ShapeBatch
	ShapeInProgress
	ShapeFault
	numShapes
)

var shapeNames = [numShapes]string{"web", "lambda", "batch", "inprogress", "fault"}

// String returns the shape's name.
func (s Shape) String() string {
	if s < numShapes {
		return shapeNames[s]
	}
	return "unknown"
}

// DefaultMix is the share of each shape, in percent.
var DefaultMix = [numShapes]int{ShapeWeb: 50, ShapeLambda: 20, ShapeBatch: 10, ShapeInProgress: 10, ShapeFault: 10}

// Generator produces document bodies. It is not safe for concurrent use.
type Generator struct {
	rng *rand.Rand
	now func() time.Time
	mix [numShapes]int
	// completions holds complete versions of in-progress documents already
	// sent, emitted before the next new body.
	completions [][]byte

	bodies, documents, unique, spans int
}

// New returns a generator seeded with seed, using DefaultMix and time.Now.
func New(seed uint64) *Generator {
	return &Generator{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), now: time.Now, mix: DefaultMix}
}

// SetMix replaces the shape percentages (they need not sum to 100).
func (g *Generator) SetMix(mix [numShapes]int) { g.mix = mix }

// SetClock replaces time.Now.
func (g *Generator) SetClock(now func() time.Time) { g.now = now }

// Stats counts what the generator produced so far.
type Stats struct {
	Bodies    int // bodies returned by Next
	Documents int // top-level documents in them (array elements count one each)
	Unique    int // distinct (trace_id, id) among the documents
	Spans     int // documents plus embedded subsegments
}

// Stats returns the counts so far.
func (g *Generator) Stats() Stats {
	return Stats{Bodies: g.bodies, Documents: g.documents, Unique: g.unique, Spans: g.spans}
}

// Datagram appends a UDP datagram (header line, newline, body) to dst.
func (g *Generator) Datagram(dst []byte) []byte {
	dst = append(dst, Header...)
	dst = append(dst, '\n')
	dst, _ = g.Next(dst)
	return dst
}

// Next appends the next document body to dst and returns it with its shape.
func (g *Generator) Next(dst []byte) ([]byte, Shape) {
	g.bodies++
	if n := len(g.completions); n > 0 && g.rng.IntN(2) == 0 {
		b := g.completions[n-1]
		g.completions = g.completions[:n-1]
		g.documents++
		g.spans++
		return append(dst, b...), ShapeInProgress
	}
	total := 0
	for _, w := range g.mix {
		total += w
	}
	pick := g.rng.IntN(max(total, 1))
	shape := ShapeWeb
	for s, w := range g.mix {
		if pick < w {
			shape = Shape(s)
			break
		}
		pick -= w
	}
	switch shape {
	case ShapeLambda:
		dst = g.lambda(dst, g.traceID(), g.id())
		g.count(1, 1)
	case ShapeBatch:
		dst = g.batch(dst)
	case ShapeInProgress:
		dst = g.inProgress(dst)
	case ShapeFault:
		dst = g.fault(dst)
	default:
		dst = g.web(dst)
	}
	return dst, shape
}

// Flush appends the complete versions of every in-progress document still
// owed, one body each, and returns them.
func (g *Generator) Flush() [][]byte {
	out := g.completions
	g.completions = nil
	g.bodies += len(out)
	g.documents += len(out)
	g.spans += len(out)
	return out
}

func (g *Generator) count(docs, spans int) {
	g.documents += docs
	g.unique += docs
	g.spans += spans
}

const hexdigits = "0123456789abcdef"

func (g *Generator) hex(dst []byte, n int) []byte {
	for range n {
		dst = append(dst, hexdigits[g.rng.IntN(16)])
	}
	return dst
}

func (g *Generator) id() string { return string(g.hex(make([]byte, 0, 16), 16)) }

func (g *Generator) traceID() string {
	b := make([]byte, 0, 35)
	b = append(b, "1-"...)
	b = strconv.AppendUint(b, uint64(g.now().Unix()), 16)
	b = append(b, '-')
	return string(g.hex(b, 24))
}

// times returns a start a little in the past and an end after it.
func (g *Generator) times(maxMillis int) (start, end float64) {
	now := float64(g.now().UnixMicro()) / 1e6
	dur := float64(1+g.rng.IntN(maxMillis)) / 1e3
	start = now - dur - float64(g.rng.IntN(2000))/1e3
	return start, start + dur
}

type obj struct{ b []byte }

func (o *obj) key(k string) {
	if c := o.b[len(o.b)-1]; c != '{' && c != '[' {
		o.b = append(o.b, ',')
	}
	o.b = strconv.AppendQuote(o.b, k)
	o.b = append(o.b, ':')
}
func (o *obj) str(k, v string) { o.key(k); o.b = strconv.AppendQuote(o.b, v) }
func (o *obj) num(k string, v float64) {
	o.key(k)
	o.b = strconv.AppendFloat(o.b, v, 'f', -1, 64)
}
func (o *obj) int(k string, v int)   { o.key(k); o.b = strconv.AppendInt(o.b, int64(v), 10) }
func (o *obj) bool(k string, v bool) { o.key(k); o.b = strconv.AppendBool(o.b, v) }
func (o *obj) open(k string)         { o.key(k); o.b = append(o.b, '{') }
func (o *obj) openArr(k string)      { o.key(k); o.b = append(o.b, '[') }
func (o *obj) close()                { o.b = append(o.b, '}') }
func (o *obj) closeArr()             { o.b = append(o.b, ']') }
func (o *obj) elem() {
	if c := o.b[len(o.b)-1]; c != '[' {
		o.b = append(o.b, ',')
	}
	o.b = append(o.b, '{')
}

var (
	services   = []string{"checkout", "cart", "catalog", "payments", "users", "search", "orders", "inventory"}
	paths      = []string{"/api/cart", "/api/checkout", "/api/items/42", "/healthz", "/api/search?q=shoes", "/api/orders", "/login"}
	methods    = []string{"GET", "GET", "GET", "POST", "PUT", "DELETE"}
	tables     = []string{"orders", "carts", "sessions", "products"}
	ddbOps     = []string{"GetItem", "PutItem", "Query", "UpdateItem"}
	agents     = []string{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36", "curl/8.5.0", "aws-sdk-go-v2/1.30.0 os/linux lang/go#1.22"}
	regions    = []string{"us-east-1", "eu-west-1", "ap-southeast-2"}
	functions  = []string{"resize-image", "send-email", "process-order", "nightly-report"}
	exceptions = []string{"ResourceNotFoundException", "ConditionalCheckFailedException", "TimeoutError", "NullPointerException", "ConnectionResetError"}
)

func pick[T any](g *Generator, xs []T) T { return xs[g.rng.IntN(len(xs))] }

func (g *Generator) httpRequest(o *obj, method, url string, client bool) {
	o.open("request")
	o.str("method", method)
	o.str("url", url)
	if client {
		o.str("client_ip", "10.0."+strconv.Itoa(g.rng.IntN(256))+"."+strconv.Itoa(g.rng.IntN(256)))
		o.str("user_agent", pick(g, agents))
		o.bool("x_forwarded_for", true)
	}
	o.close()
}

func (g *Generator) httpResponse(o *obj, status int) {
	o.open("response")
	o.int("status", status)
	o.int("content_length", 100+g.rng.IntN(20000))
	o.close()
}

func (g *Generator) xraySDK(o *obj) {
	o.open("aws")
	o.open("xray")
	o.str("sdk_version", "1.8.5")
	o.str("sdk", "X-Ray for Go")
	o.close()
	o.open("ec2")
	o.str("instance_id", "i-0"+string(g.hex(nil, 16)))
	o.str("availability_zone", pick(g, regions)+"a")
	o.close()
	o.close()
}

// web writes an HTTP service segment with embedded subsegments.
func (g *Generator) web(dst []byte) []byte {
	o := obj{b: append(dst, '{')}
	trace, id := g.traceID(), g.id()
	start, end := g.times(400)
	svc := pick(g, services)
	status := 200
	if g.rng.IntN(20) == 0 {
		status = 404
	}
	o.str("trace_id", trace)
	o.str("id", id)
	o.str("name", svc)
	o.num("start_time", start)
	o.num("end_time", end)
	o.str("origin", "AWS::EC2::Instance")
	o.open("http")
	method := pick(g, methods)
	g.httpRequest(&o, method, "https://"+svc+".example.com"+pick(g, paths), true)
	g.httpResponse(&o, status)
	o.close()
	if status >= 400 {
		o.bool("error", true)
	}
	g.xraySDK(&o)
	o.open("service")
	o.str("version", "1.4."+strconv.Itoa(g.rng.IntN(20)))
	o.close()
	o.open("annotations")
	o.str("customer_tier", pick(g, []string{"free", "pro", "enterprise"}))
	o.num("cart_items", float64(g.rng.IntN(12)))
	o.bool("cache_hit", g.rng.IntN(2) == 0)
	o.close()
	o.open("metadata")
	o.open("default")
	o.str("build", string(g.hex(nil, 12)))
	o.int("worker", g.rng.IntN(64))
	o.close()
	o.close()
	n := 2 + g.rng.IntN(4)
	o.openArr("subsegments")
	t := start
	step := (end - start) / float64(n+1)
	for i := range n {
		s, e := t+step*0.1, t+step*0.9
		t += step
		o.elem()
		o.str("id", g.id())
		o.num("start_time", s)
		o.num("end_time", e)
		switch i % 3 {
		case 0: // DynamoDB
			op, table, region := pick(g, ddbOps), pick(g, tables), pick(g, regions)
			o.str("name", "DynamoDB")
			o.str("namespace", "aws")
			o.open("http")
			g.httpResponse(&o, 200)
			o.close()
			o.open("aws")
			o.str("operation", op)
			o.str("region", region)
			o.str("table_name", table)
			o.str("request_id", string(g.hex(nil, 32)))
			o.int("retries", 0)
			o.close()
		case 1: // remote HTTP
			host := pick(g, services) + ".internal"
			o.str("name", host)
			o.str("namespace", "remote")
			o.open("http")
			g.httpRequest(&o, pick(g, methods), "http://"+host+pick(g, paths), false)
			g.httpResponse(&o, 200)
			o.close()
		default: // SQL
			o.str("name", "orders@db.internal")
			o.str("namespace", "remote")
			o.open("sql")
			o.str("url", "jdbc:postgresql://db.internal:5432/orders")
			o.str("database_type", "PostgreSQL")
			o.str("database_version", "15.4")
			o.str("driver_version", "pgx-5.5")
			o.str("user", "app")
			o.str("sanitized_query", "SELECT id, total FROM orders WHERE customer_id = $1 LIMIT 20")
			o.close()
		}
		o.close()
	}
	o.closeArr()
	o.close()
	g.count(1, 1+n)
	return o.b
}

// lambda writes one independent subsegment as sent from inside a function.
func (g *Generator) lambda(dst []byte, trace, parent string) []byte {
	o := obj{b: append(dst, '{')}
	start, end := g.times(200)
	o.str("type", "subsegment")
	o.str("trace_id", trace)
	o.str("parent_id", parent)
	o.str("id", g.id())
	switch g.rng.IntN(3) {
	case 0:
		o.str("name", "S3")
		o.str("namespace", "aws")
		o.num("start_time", start)
		o.num("end_time", end)
		o.open("aws")
		o.str("operation", "PutObject")
		o.str("region", pick(g, regions))
		o.str("bucket_name", "thumbnails")
		o.str("request_id", string(g.hex(nil, 16)))
		o.close()
		o.open("http")
		g.httpResponse(&o, 200)
		o.close()
	case 1:
		o.str("name", pick(g, functions))
		o.num("start_time", start)
		o.num("end_time", end)
		o.open("annotations")
		o.str("function", pick(g, functions))
		o.int("attempt", 1+g.rng.IntN(3))
		o.close()
	default:
		host := pick(g, services) + ".example.com"
		o.str("name", host)
		o.str("namespace", "remote")
		o.bool("traced", true)
		o.num("start_time", start)
		o.num("end_time", end)
		o.open("http")
		g.httpRequest(&o, "POST", "https://"+host+"/v1/events", false)
		g.httpResponse(&o, 202)
		o.close()
	}
	o.close()
	return o.b
}

// batch writes a JSON array of independent subsegments.
func (g *Generator) batch(dst []byte) []byte {
	trace, parent := g.traceID(), g.id()
	n := 2 + g.rng.IntN(3)
	dst = append(dst, '[')
	for i := range n {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = g.lambda(dst, trace, parent)
	}
	g.count(n, n)
	return append(dst, ']')
}

// inProgress writes an in-progress segment and keeps its complete version
// for a later Next.
func (g *Generator) inProgress(dst []byte) []byte {
	trace, id := g.traceID(), g.id()
	start, end := g.times(3000)
	name := pick(g, services)
	head := func(o *obj) {
		o.str("trace_id", trace)
		o.str("id", id)
		o.str("name", name)
		o.num("start_time", start)
		o.str("origin", "AWS::ECS::Container")
		o.open("http")
		g.httpRequest(o, "POST", "https://"+name+".example.com/api/export", true)
		o.close()
	}
	o := obj{b: append(dst, '{')}
	head(&o)
	o.bool("in_progress", true)
	o.close()

	c := obj{b: []byte{'{'}}
	head(&c)
	c.num("end_time", end)
	c.open("http")
	g.httpResponse(&c, 200)
	c.close()
	c.close()
	g.completions = append(g.completions, c.b)
	g.count(1, 1)
	return o.b
}

// fault writes a 5xx segment with a cause full of stack frames.
func (g *Generator) fault(dst []byte) []byte {
	o := obj{b: append(dst, '{')}
	trace, id := g.traceID(), g.id()
	start, end := g.times(1500)
	svc := pick(g, services)
	o.str("trace_id", trace)
	o.str("id", id)
	o.str("name", svc)
	o.num("start_time", start)
	o.num("end_time", end)
	o.str("origin", "AWS::EC2::Instance")
	o.bool("fault", true)
	o.open("http")
	g.httpRequest(&o, pick(g, methods), "https://"+svc+".example.com"+pick(g, paths), true)
	g.httpResponse(&o, 500+g.rng.IntN(4))
	o.close()
	g.xraySDK(&o)
	o.open("annotations")
	o.str("error_kind", pick(g, exceptions))
	o.close()
	o.open("cause")
	o.str("working_directory", "/srv/"+svc)
	o.openArr("paths")
	o.b = append(o.b, `"/srv/app/main.go","/srv/app/handler.go"`...)
	o.closeArr()
	o.openArr("exceptions")
	nEx := 1 + g.rng.IntN(3)
	for e := range nEx {
		o.elem()
		o.str("id", g.id())
		o.str("type", pick(g, exceptions))
		o.str("message", "operation failed: "+pick(g, tables)+" is unavailable (attempt "+strconv.Itoa(e+1)+")")
		if e == 0 {
			o.bool("remote", g.rng.IntN(2) == 0)
		}
		o.openArr("stack")
		frames := 8 + g.rng.IntN(30)
		for f := range frames {
			o.elem()
			o.str("path", "github.com/example/"+svc+"/internal/handler/"+pick(g, []string{"cart.go", "orders.go", "db.go", "http.go"}))
			o.int("line", 10+f*7+g.rng.IntN(5))
			o.str("label", pick(g, []string{"(*Handler).ServeHTTP", "processOrder", "loadCart", "(*Client).Do", "retry"}))
			o.close()
		}
		o.closeArr()
		o.close()
	}
	o.closeArr()
	o.close()
	o.openArr("subsegments")
	o.elem()
	o.str("id", g.id())
	o.str("name", "DynamoDB")
	o.str("namespace", "aws")
	o.num("start_time", start+(end-start)*0.1)
	o.num("end_time", end-(end-start)*0.1)
	o.bool("fault", true)
	o.open("aws")
	o.str("operation", pick(g, ddbOps))
	o.str("region", pick(g, regions))
	o.str("table_name", pick(g, tables))
	o.close()
	o.close()
	o.closeArr()
	o.close()
	g.count(1, 2)
	return o.b
}
