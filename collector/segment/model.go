package segment

// Kind says what a top-level document is.
type Kind uint8

const (
	// KindSegment is a segment document (no "type" member).
	KindSegment Kind = 1
	// KindSubsegment is an independent subsegment document ("type":"subsegment").
	KindSubsegment Kind = 2
)

// String returns "segment" or "subsegment".
func (k Kind) String() string {
	switch k {
	case KindSegment:
		return "segment"
	case KindSubsegment:
		return "subsegment"
	}
	return "unknown"
}

// Document is one top-level document as received: a segment or an independent
// subsegment. A datagram whose body is a JSON array of subsegments yields one
// Document per element.
type Document struct {
	TraceID    string // "1-5759e988-bd862e3fe1be46a994272793"
	ID         string // 16 lowercase hex digits
	ParentID   string // "" for a root segment
	Kind       Kind
	Name       string
	StartTime  float64 // epoch seconds
	EndTime    float64 // epoch seconds; 0 while InProgress
	InProgress bool
	// ReceivedNanos is when the collector received the document (Unix ns).
	// Storage uses it to keep the newest of two complete documents.
	ReceivedNanos int64
	// Raw is the document's JSON exactly as received (for an array body: the
	// element's bytes). BatchGetTraces returns it verbatim. Raw is read-only:
	// the Decoder's strings (in Spans) share its memory.
	Raw []byte
	// Spans holds the document itself (Spans[0]) followed by every embedded
	// subsegment, depth first, one flattened row each.
	Spans []Span
}

// Span is one segment or subsegment flattened into typed columns: one row of
// the span table.
type Span struct {
	TraceID   string
	ID        string
	ParentID  string // the enclosing (sub)segment for embedded subsegments
	SegmentID string // ID of the top-level Document that carried this span
	// Service is the name of the enclosing segment; "" inside an independent
	// subsegment whose segment is not known at ingest time.
	Service string
	// Origin is the segment's "origin" (AWS::EC2::Instance, AWS::Lambda::Function…);
	// for subsegments the enclosing segment's origin when known.
	Origin    string
	Name      string
	Namespace string // "", "aws", "remote" or "local"
	// IsSegment is true for a segment document's own row.
	IsSegment bool
	// Depth is 0 for a top-level document, 1 for its direct subsegments, …
	Depth uint16

	StartTime  float64
	EndTime    float64
	InProgress bool

	Error    bool
	Fault    bool
	Throttle bool

	HTTPMethod        string
	HTTPURL           string
	HTTPStatus        uint16
	HTTPClientIP      string
	HTTPUserAgent     string
	HTTPContentLength int64
	HTTPTraced        bool // request.traced: the callee is instrumented

	User        string
	ResourceARN string

	// Annotations, by X-Ray's three value types, as parallel key/value
	// slices (they map onto ClickHouse Nested columns without copying).
	AnnStrKeys    []string
	AnnStrValues  []string
	AnnNumKeys    []string
	AnnNumValues  []float64
	AnnBoolKeys   []string
	AnnBoolValues []bool

	AWSOperation string
	AWSRegion    string
	AWSAccountID string
	// AWSResource is the called resource when the aws object names one:
	// table_name, queue_url, bucket_name, function_name, topic_arn…
	AWSResource string

	SQLURL          string
	SQLDatabaseType string

	// The first exception of "cause" (type and message); CauseID is set when
	// "cause" is a 16-hex exception id string instead of an object.
	CauseType    string
	CauseMessage string
	CauseID      string
	// Remote is true when any exception is marked remote (a downstream error).
	Remote bool
}

// Duration returns EndTime-StartTime, or 0 while in progress.
func (s *Span) Duration() float64 {
	if s.InProgress || s.EndTime < s.StartTime {
		return 0
	}
	return s.EndTime - s.StartTime
}
