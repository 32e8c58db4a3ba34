package otlp

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// maxNameRunes is X-Ray's limit on segment and subsegment names.
const maxNameRunes = 200

// Rejected is a span that could not become a segment document.
type Rejected struct {
	TraceID, SpanID string // hex, as received
	Reason          string
}

// Documents converts every span of td into an X-Ray segment document (JSON),
// the mapping AWS's X-Ray exporter for OpenTelemetry uses:
//
//   - the trace id's 32 hex digits become 1-<8>-<24>, the span id is the
//     document id and the parent span id its parent_id;
//   - a span of kind SERVER or CONSUMER, or without a parent, is a segment
//     named after the resource's service.name; any other span is an
//     independent subsegment ("type": "subsegment") named after the span,
//     and a CLIENT or PRODUCER span is a downstream call
//     ("namespace": "remote", named after peer.service, server.address or
//     the URL's host when present);
//   - HTTP attributes (old and new semantic conventions) fill the http
//     block; a 429 sets throttle and error, another 4xx error, a 5xx — or
//     the span's status Error without an HTTP status — fault;
//   - "exception" events become the cause's exceptions;
//   - the span's attributes go to metadata ("default" namespace), except
//     those named in the aws.xray.annotations attribute, which become
//     annotations, as with the AWS exporter.
//
// Spans with an invalid trace or span id — including a trace id that does
// not begin with the trace's start in epoch seconds, as X-Ray trace ids
// must (OpenTelemetry SDKs need the X-Ray ID generator, as for AWS) — or
// that end before they start, are returned in rejected.
func Documents(td ptrace.Traces) (docs [][]byte, rejected []Rejected) {
	var b bytes.Buffer
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		res := rs.Resource().Attributes()
		service := "unknown_service"
		if v, ok := res.Get("service.name"); ok && v.AsString() != "" {
			service = v.AsString()
		}
		origin := originOf(res)
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				sp := spans.At(k)
				b.Reset()
				if err := writeSpan(&b, sp, service, origin); err != nil {
					tid, sid := sp.TraceID(), sp.SpanID()
					rejected = append(rejected, Rejected{TraceID: hex.EncodeToString(tid[:]), SpanID: hex.EncodeToString(sid[:]), Reason: err.Error()})
					continue
				}
				docs = append(docs, bytes.Clone(b.Bytes()))
			}
		}
	}
	return docs, rejected
}

var (
	errTraceID = errors.New("trace id is empty (all zeros)")
	errSpanID  = errors.New("span id is empty (all zeros)")
	errTimes   = errors.New("span ends before it starts")
	errNoStart = errors.New("span has no start time")
	errIDEpoch = errors.New("trace id is not an X-Ray trace id (its first 4 bytes must be the trace's start in epoch seconds;" +
		" generate ids with the X-Ray ID generator, e.g. go.opentelemetry.io/contrib/propagators/aws/xray.NewIDGenerator())")
)

// A trace id's epoch may lie this far after a span's start (clock skew),
// and this far before it (a long trace), in seconds.
const (
	maxIDSkew   = 5 * 60
	maxTraceAge = 28 * 24 * 60 * 60
)

// xraySpan is the part of a segment document a span fills.
type xraySpan struct {
	Name        string         `json:"name"`
	ID          string         `json:"id"`
	TraceID     string         `json:"trace_id"`
	ParentID    string         `json:"parent_id,omitempty"`
	Type        string         `json:"type,omitempty"`
	StartTime   float64        `json:"start_time"`
	EndTime     float64        `json:"end_time"`
	Namespace   string         `json:"namespace,omitempty"`
	Origin      string         `json:"origin,omitempty"`
	Fault       bool           `json:"fault,omitempty"`
	Error       bool           `json:"error,omitempty"`
	Throttle    bool           `json:"throttle,omitempty"`
	HTTP        *xrayHTTP      `json:"http,omitempty"`
	Cause       *xrayCause     `json:"cause,omitempty"`
	Annotations map[string]any `json:"annotations,omitempty"`
	Metadata    map[string]any `json:"metadata,omitempty"`
}

type xrayHTTP struct {
	Request  *xrayRequest  `json:"request,omitempty"`
	Response *xrayResponse `json:"response,omitempty"`
}

type xrayRequest struct {
	Method    string `json:"method,omitempty"`
	URL       string `json:"url,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
	ClientIP  string `json:"client_ip,omitempty"`
}

type xrayResponse struct {
	Status int64 `json:"status,omitempty"`
}

type xrayCause struct {
	Exceptions []xrayException `json:"exceptions"`
}

type xrayException struct {
	ID      string `json:"id"`
	Type    string `json:"type,omitempty"`
	Message string `json:"message,omitempty"`
	Remote  bool   `json:"remote,omitempty"`
}

func writeSpan(b *bytes.Buffer, sp ptrace.Span, service, origin string) error {
	tid, sid := sp.TraceID(), sp.SpanID()
	if tid.IsEmpty() {
		return errTraceID
	}
	if sid.IsEmpty() {
		return errSpanID
	}
	start, end := sp.StartTimestamp(), sp.EndTimestamp()
	if start == 0 {
		return errNoStart
	}
	if end < start {
		return errTimes
	}
	// An X-Ray trace id begins with the trace's start in epoch seconds, and
	// the store and every time-range query rely on it (AWS refuses other
	// ids too): random OpenTelemetry ids must be refused, not stored where
	// no query finds them.
	epoch := int64(binary.BigEndian.Uint32(tid[:4]))
	if s := int64(start) / 1e9; epoch > s+maxIDSkew || epoch < s-maxTraceAge {
		return fmt.Errorf("%w: it begins with %08x, %s, for a span that starts at %s",
			errIDEpoch, epoch, time.Unix(epoch, 0).UTC().Format(time.RFC3339), time.Unix(0, int64(start)).UTC().Format(time.RFC3339))
	}
	th := hex.EncodeToString(tid[:])
	x := xraySpan{
		ID:        hex.EncodeToString(sid[:]),
		TraceID:   "1-" + th[:8] + "-" + th[8:],
		StartTime: seconds(start),
		EndTime:   seconds(end),
	}
	if p := sp.ParentSpanID(); !p.IsEmpty() {
		x.ParentID = hex.EncodeToString(p[:])
	}
	attrs := sp.Attributes()
	kind := sp.Kind()
	segment := kind == ptrace.SpanKindServer || kind == ptrace.SpanKindConsumer || x.ParentID == ""
	if segment {
		x.Name, x.Origin = cleanName(service), origin
	} else {
		x.Type = "subsegment"
		x.Name = cleanName(sp.Name())
		if kind == ptrace.SpanKindClient || kind == ptrace.SpanKindProducer {
			x.Namespace = "remote"
			if n := downstreamName(attrs); n != "" {
				x.Name = cleanName(n)
			}
		}
	}

	// HTTP.
	req := &xrayRequest{
		Method:    str(attrs, "http.request.method", "http.method"),
		URL:       str(attrs, "url.full", "http.url"),
		UserAgent: str(attrs, "user_agent.original", "http.user_agent"),
		ClientIP:  str(attrs, "client.address", "http.client_ip"),
	}
	if req.URL == "" && segment {
		req.URL = serverURL(attrs)
	}
	status, hasStatus := num(attrs, "http.response.status_code", "http.status_code")
	if *req != (xrayRequest{}) || hasStatus {
		x.HTTP = &xrayHTTP{}
		if *req != (xrayRequest{}) {
			x.HTTP.Request = req
		}
		if hasStatus {
			x.HTTP.Response = &xrayResponse{Status: status}
		}
	}
	switch {
	case hasStatus && status == 429:
		x.Throttle, x.Error = true, true
	case hasStatus && status >= 400 && status < 500:
		x.Error = true
	case hasStatus && status >= 500:
		x.Fault = true
	case sp.Status().Code() == ptrace.StatusCodeError:
		x.Fault = true
	}

	// Exceptions.
	events := sp.Events()
	for i := 0; i < events.Len(); i++ {
		ev := events.At(i)
		if ev.Name() != "exception" {
			continue
		}
		ea := ev.Attributes()
		if x.Cause == nil {
			x.Cause = &xrayCause{}
		}
		id := fmt.Sprintf("%s%04x", x.ID[:12], len(x.Cause.Exceptions)&0xffff)
		x.Cause.Exceptions = append(x.Cause.Exceptions, xrayException{
			ID: id, Type: str(ea, "exception.type"), Message: str(ea, "exception.message"),
			Remote: kind == ptrace.SpanKindClient,
		})
	}
	if x.Cause != nil && !x.Fault && !x.Error {
		x.Fault = true
	}

	// Annotations and metadata.
	annotate := map[string]bool{}
	if v, ok := attrs.Get("aws.xray.annotations"); ok && v.Type() == pcommon.ValueTypeSlice {
		s := v.Slice()
		for i := 0; i < s.Len(); i++ {
			annotate[s.At(i).AsString()] = true
		}
	}
	meta := map[string]any{}
	attrs.Range(func(k string, v pcommon.Value) bool {
		if k == "aws.xray.annotations" {
			return true
		}
		if annotate[k] {
			if av, ok := annotationValue(v); ok {
				if x.Annotations == nil {
					x.Annotations = map[string]any{}
				}
				x.Annotations[annotationKey(k)] = av
				return true
			}
		}
		if v.Type() == pcommon.ValueTypeDouble && (math.IsNaN(v.Double()) || math.IsInf(v.Double(), 0)) {
			meta[k] = v.AsString() // JSON has no NaN or infinity
			return true
		}
		meta[k] = v.AsRaw()
		return true
	})
	if len(meta) > 0 {
		x.Metadata = map[string]any{"default": meta}
	}
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&x); err != nil {
		return fmt.Errorf("encode segment document: %w", err)
	}
	b.Truncate(b.Len() - 1) // Encode's newline
	return nil
}

// seconds turns Unix nanoseconds into X-Ray's epoch seconds, to the
// microsecond.
func seconds(t pcommon.Timestamp) float64 {
	return math.Round(float64(t)/1e3) / 1e6
}

// str returns the first of keys present as a non-empty string.
func str(attrs pcommon.Map, keys ...string) string {
	for _, k := range keys {
		if v, ok := attrs.Get(k); ok {
			if s := v.AsString(); s != "" {
				return s
			}
		}
	}
	return ""
}

// num returns the first of keys present as an integer (or a numeric string).
func num(attrs pcommon.Map, keys ...string) (int64, bool) {
	for _, k := range keys {
		v, ok := attrs.Get(k)
		if !ok {
			continue
		}
		switch v.Type() {
		case pcommon.ValueTypeInt:
			return v.Int(), true
		case pcommon.ValueTypeDouble:
			return int64(v.Double()), true
		case pcommon.ValueTypeStr:
			var n int64
			if _, err := fmt.Sscan(v.Str(), &n); err == nil {
				return n, true
			}
		}
	}
	return 0, false
}

// downstreamName names the service a CLIENT or PRODUCER span calls.
func downstreamName(attrs pcommon.Map) string {
	if s := str(attrs, "peer.service", "server.address", "net.peer.name", "db.system", "rpc.service", "messaging.destination.name"); s != "" {
		return s
	}
	if u := str(attrs, "url.full", "http.url"); u != "" {
		if i := strings.Index(u, "://"); i >= 0 {
			host := u[i+3:]
			if j := strings.IndexAny(host, "/?#"); j >= 0 {
				host = host[:j]
			}
			return host
		}
	}
	return ""
}

// serverURL rebuilds a server span's URL from the new semantic
// conventions' parts.
func serverURL(attrs pcommon.Map) string {
	host := str(attrs, "server.address", "http.host", "net.host.name")
	path := str(attrs, "url.path", "http.target")
	if host == "" || path == "" {
		return path
	}
	scheme := str(attrs, "url.scheme", "http.scheme")
	if scheme == "" {
		scheme = "http"
	}
	if port, ok := num(attrs, "server.port", "net.host.port"); ok && port > 0 {
		host = fmt.Sprintf("%s:%d", host, port)
	}
	return scheme + "://" + host + path
}

// originOf maps the resource's cloud.platform to an X-Ray origin.
func originOf(res pcommon.Map) string {
	switch str(res, "cloud.platform") {
	case "aws_lambda":
		return "AWS::Lambda::Function"
	case "aws_ec2":
		return "AWS::EC2::Instance"
	case "aws_ecs":
		return "AWS::ECS::Container"
	case "aws_eks":
		return "AWS::EKS::Container"
	case "aws_elastic_beanstalk":
		return "AWS::ElasticBeanstalk::Environment"
	}
	return ""
}

// cleanName keeps what X-Ray allows in a name (letters, digits, white
// space and _ . : / % & # = + \ - @), replaces anything else with '_' and
// clips to 200 characters.
func cleanName(s string) string {
	if s == "" {
		return "unnamed"
	}
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == maxNameRunes {
			break
		}
		n++
		switch {
		case r == utf8.RuneError:
			b.WriteByte('_')
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == ' ':
			b.WriteRune(r)
		case strings.ContainsRune("_.:/%&#=+\\-@", r):
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// annotationKey keeps letters, digits and '_' (X-Ray's annotation keys).
func annotationKey(k string) string {
	var b strings.Builder
	for _, r := range k {
		if r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// annotationValue returns v when it is a string, number or boolean.
func annotationValue(v pcommon.Value) (any, bool) {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return v.Str(), true
	case pcommon.ValueTypeBool:
		return v.Bool(), true
	case pcommon.ValueTypeInt:
		return v.Int(), true
	case pcommon.ValueTypeDouble:
		if f := v.Double(); !math.IsNaN(f) && !math.IsInf(f, 0) {
			return f, true
		}
	}
	return nil, false
}
