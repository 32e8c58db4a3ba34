package servicegraph

import (
	"math"
	"strings"

	"github.com/fluoro/fluoro/collector/segment"
)

// Span is what the graph needs of one segment or subsegment.
type Span struct {
	TraceID   string
	ID        string
	ParentID  string // enclosing (sub)segment, or the caller for segments
	SegmentID string // id of the top-level document that carried the span
	// Service and Origin are the enclosing segment's name and origin;
	// Service is "" inside an independent subsegment whose segment was not
	// known when it was stored.
	Service, Origin string
	Name, Namespace string
	// AccountID is the span's aws.account_id.
	AccountID string
	IsSegment bool
	// StartUS and EndUS are epoch microseconds; EndUS is 0 while in progress.
	StartUS, EndUS         uint64
	InProgress             bool
	Error, Fault, Throttle bool
	HTTPStatus             uint16
	// AWSOperation and AWSResource are the aws call's operation and the
	// resource it names (table, queue URL, bucket, function…).
	AWSOperation, AWSResource string
	// SQL is set for subsegments with a sql object (url or database type).
	SQL bool
	// Version orders versions of the same span: the highest wins.
	Version uint64
}

// complete reports whether the span has an end time.
func (s *Span) complete() bool { return !s.InProgress && s.EndUS > 0 }

// durUS is the span's duration; 0 while in progress.
func (s *Span) durUS() uint64 {
	if !s.complete() || s.EndUS < s.StartUS {
		return 0
	}
	return s.EndUS - s.StartUS
}

// FromSegment converts a decoded span, with the version of its document
// (0 when unknown: a complete span then still beats an in-progress one).
// Times are rounded to microseconds exactly as schema/chstore stores them.
func FromSegment(s *segment.Span, version uint64) Span {
	sp := Span{
		TraceID: strings.ToLower(s.TraceID), ID: strings.ToLower(s.ID), ParentID: strings.ToLower(s.ParentID),
		SegmentID: strings.ToLower(s.SegmentID),
		Service:   s.Service, Origin: s.Origin, Name: s.Name, Namespace: s.Namespace, AccountID: s.AWSAccountID,
		IsSegment: s.IsSegment, StartUS: micros(s.StartTime), InProgress: s.InProgress,
		Error: s.Error, Fault: s.Fault, Throttle: s.Throttle, HTTPStatus: s.HTTPStatus,
		AWSOperation: s.AWSOperation, AWSResource: s.AWSResource,
		SQL:     s.SQLURL != "" || s.SQLDatabaseType != "",
		Version: version,
	}
	if !s.InProgress {
		sp.EndUS = micros(s.EndTime)
	}
	if version == 0 && !s.InProgress {
		sp.Version = 1
	}
	return sp
}

// micros converts epoch seconds to microseconds like schema/chstore.
func micros(sec float64) uint64 {
	if !(sec > 0) {
		return 0
	}
	us := math.Round(sec * 1e6)
	if us >= math.MaxUint64 {
		return math.MaxUint64
	}
	return uint64(us)
}

// NodeKey identifies a node: nodes with the same key across traces are one.
type NodeKey struct {
	Name, Type, AccountID string
}

// TypeClient is the Type of client nodes.
const TypeClient = "client"

// inferrable reports whether a subsegment calls a node X-Ray infers when
// no segment answers it (as query/filter).
func inferrable(s *Span) bool {
	return !s.IsSegment && (s.Namespace == "aws" || s.Namespace == "remote" || s.SQL)
}

// inferredNode names the node inferred from subsegment s (xray.md §6.2),
// exactly like query/filter's inferredNode.
func inferredNode(s *Span) NodeKey {
	k := NodeKey{Name: s.Name, AccountID: s.AccountID}
	switch {
	case s.Namespace == "aws":
		res := s.AWSResource
		switch {
		case s.Name == "DynamoDB" && res != "":
			k.Name, k.Type = res, "AWS::DynamoDB::Table"
		case s.Name == "SQS" && res != "":
			k.Name, k.Type = res[strings.LastIndexByte(res, '/')+1:], "AWS::SQS::Queue"
		case s.Name == "S3" && res != "":
			k.Name, k.Type = res, "AWS::S3::Bucket"
		case s.Name == "Lambda" && s.AWSOperation == "Invoke" && res != "":
			k.Name, k.Type = lambdaFunctionName(res), "AWS::Lambda"
		default:
			k.Type = "AWS::" + s.Name
		}
	case s.SQL:
		k.Type = "Database::SQL"
	default:
		k.Type = "remote"
	}
	return k
}

// lambdaFunctionName reduces a function name, ARN or qualified name to the
// bare function name.
func lambdaFunctionName(fn string) string {
	if i := strings.Index(fn, ":function:"); i >= 0 {
		fn = fn[i+len(":function:"):]
	}
	if i := strings.IndexByte(fn, ':'); i >= 0 {
		fn = fn[:i]
	}
	return fn
}

// Classes of a request's outcome, by precedence.
type class uint8

const (
	classOK class = iota
	classError
	classThrottle
	classFault
)

// classify applies xray.md §6.5: flags win over the HTTP status; fault >
// throttle > error > ok (query/filter's spanClass).
func classify(s *Span) class {
	switch {
	case s.Fault:
		return classFault
	case s.Throttle:
		return classThrottle
	case s.Error:
		return classError
	case s.HTTPStatus >= 500 && s.HTTPStatus < 600:
		return classFault
	case s.HTTPStatus == 429:
		return classThrottle
	case s.HTTPStatus >= 400 && s.HTTPStatus < 500:
		return classError
	}
	return classOK
}
