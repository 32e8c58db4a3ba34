package chstore

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/fluoro/fluoro/collector/segment"
)

// documentColumns and spanColumns are the explicit column lists of the
// inserts; the order matches the Append calls below.
const (
	documentColumns = "date, trace_id, id, parent_id, kind, in_progress, start_time, end_time, version, raw"
	spanColumns     = "date, trace_id, id, parent_id, segment_id, service, origin, name, namespace, is_segment, depth, " +
		"start, start_us, end_us, duration_us, in_progress, error, fault, throttle, " +
		"http_method, http_url, http_status, http_client_ip, http_user_agent, http_traced, user, resource_arn, " +
		"ann_str.key, ann_str.value, ann_num.key, ann_num.value, ann_bool.key, ann_bool.value, " +
		"aws_operation, aws_region, aws_account_id, aws_resource, sql_url, sql_database_type, " +
		"cause_type, cause_message, cause_id, remote, version"
)

// WriteDocuments inserts docs into the documents and spans tables (one
// batch each, documents first so that a trace is searchable only once its
// documents are stored) and returns nil only after ClickHouse acknowledged
// both. Writing the same documents again (a replay after an error) adds
// exact duplicates that readers and merges collapse.
func (s *Store) WriteDocuments(ctx context.Context, docs []segment.Document) error {
	if len(docs) == 0 {
		return nil
	}
	// Distributed tables (cluster layout) acknowledge only after the shards
	// stored the rows; harmless on a single server.
	ctx = clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"insert_distributed_sync": 1}))
	if err := s.writeDocuments(ctx, docs); err != nil {
		return fmt.Errorf("insert %d documents: %w", len(docs), err)
	}
	if err := s.writeSpans(ctx, docs); err != nil {
		return fmt.Errorf("insert spans of %d documents: %w", len(docs), err)
	}
	return nil
}

func (s *Store) writeDocuments(ctx context.Context, docs []segment.Document) error {
	n := len(docs)
	var (
		date      = make([]time.Time, n)
		traceID   = make([]string, n)
		id        = make([]string, n)
		parentID  = make([]string, n)
		kind      = make([]uint8, n)
		inProg    = make([]uint8, n)
		startTime = make([]float64, n)
		endTime   = make([]float64, n)
		version   = make([]uint64, n)
		raw       = make([]string, n)
	)
	for i := range docs {
		d := &docs[i]
		date[i] = docDate(d)
		traceID[i], id[i], parentID[i] = d.TraceID, d.ID, d.ParentID
		kind[i] = uint8(d.Kind)
		inProg[i] = b2u(d.InProgress)
		startTime[i], endTime[i] = d.StartTime, d.EndTime
		version[i] = Version(d)
		raw[i] = string(d.Raw)
	}
	return sendColumns(ctx, s.conn, "INSERT INTO "+s.db+".documents ("+documentColumns+")",
		date, traceID, id, parentID, kind, inProg, startTime, endTime, version, raw)
}

func (s *Store) writeSpans(ctx context.Context, docs []segment.Document) error {
	n := 0
	for i := range docs {
		n += len(docs[i].Spans)
	}
	if n == 0 {
		return nil
	}
	var c spanCols
	c.init(n)
	for i := range docs {
		d := &docs[i]
		v := Version(d)
		for j := range d.Spans {
			c.add(&d.Spans[j], v)
		}
	}
	return sendColumns(ctx, s.conn, "INSERT INTO "+s.db+".spans ("+spanColumns+")", c.list()...)
}

// sendColumns prepares a batch for query and appends one slice per column.
func sendColumns(ctx context.Context, conn driver.Conn, query string, cols ...any) error {
	b, err := conn.PrepareBatch(ctx, query)
	if err != nil {
		return err
	}
	defer b.Close()
	if got := len(b.Columns()); got != len(cols) {
		return fmt.Errorf("BUG: insert has %d columns, %d slices given", got, len(cols))
	}
	for i, col := range cols {
		if err := b.Column(i).Append(col); err != nil {
			return fmt.Errorf("column %s: %w", b.Columns()[i].Name(), err)
		}
	}
	return b.Send()
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// spanCols holds the spans insert column-wise.
type spanCols struct {
	date                                                                  []time.Time
	traceID, id, parentID, segmentID, service, origin, name, namespace    []string
	isSegment                                                             []uint8
	depth                                                                 []uint16
	start                                                                 []time.Time
	startUS, endUS, durationUS                                            []uint64
	inProgress, isError, fault, throttle                                  []uint8
	httpMethod, httpURL                                                   []string
	httpStatus                                                            []uint16
	httpClientIP, httpUserAgent                                           []string
	httpTraced                                                            []uint8
	user, resourceARN                                                     []string
	annStrKey, annStrValue, annNumKey, annBoolKey                         [][]string
	annNumValue                                                           [][]float64
	annBoolValue                                                          [][]uint8
	awsOperation, awsRegion, awsAccountID, awsResource, sqlURL, sqlDBType []string
	causeType, causeMessage, causeID                                      []string
	remote                                                                []uint8
	version                                                               []uint64
}

func (c *spanCols) init(n int) {
	strs := func() []string { return make([]string, 0, n) }
	u8 := func() []uint8 { return make([]uint8, 0, n) }
	u64 := func() []uint64 { return make([]uint64, 0, n) }
	c.date, c.start = make([]time.Time, 0, n), make([]time.Time, 0, n)
	c.traceID, c.id, c.parentID, c.segmentID = strs(), strs(), strs(), strs()
	c.service, c.origin, c.name, c.namespace = strs(), strs(), strs(), strs()
	c.isSegment, c.depth = u8(), make([]uint16, 0, n)
	c.startUS, c.endUS, c.durationUS = u64(), u64(), u64()
	c.inProgress, c.isError, c.fault, c.throttle = u8(), u8(), u8(), u8()
	c.httpMethod, c.httpURL, c.httpStatus = strs(), strs(), make([]uint16, 0, n)
	c.httpClientIP, c.httpUserAgent, c.httpTraced = strs(), strs(), u8()
	c.user, c.resourceARN = strs(), strs()
	c.annStrKey, c.annStrValue = make([][]string, 0, n), make([][]string, 0, n)
	c.annNumKey, c.annNumValue = make([][]string, 0, n), make([][]float64, 0, n)
	c.annBoolKey, c.annBoolValue = make([][]string, 0, n), make([][]uint8, 0, n)
	c.awsOperation, c.awsRegion, c.awsAccountID, c.awsResource = strs(), strs(), strs(), strs()
	c.sqlURL, c.sqlDBType = strs(), strs()
	c.causeType, c.causeMessage, c.causeID, c.remote = strs(), strs(), strs(), u8()
	c.version = u64()
}

var empty = []string{}

func (c *spanCols) add(sp *segment.Span, version uint64) {
	startUS := micros(sp.StartTime)
	var endUS, durUS uint64
	if !sp.InProgress {
		endUS = micros(sp.EndTime)
		if endUS > startUS {
			durUS = endUS - startUS
		}
	}
	startSec := time.Unix(int64(startUS/1e6), 0).UTC()
	c.date = append(c.date, startSec.Truncate(day))
	c.traceID = append(c.traceID, sp.TraceID)
	c.id = append(c.id, sp.ID)
	c.parentID = append(c.parentID, sp.ParentID)
	c.segmentID = append(c.segmentID, sp.SegmentID)
	c.service = append(c.service, sp.Service)
	c.origin = append(c.origin, sp.Origin)
	c.name = append(c.name, sp.Name)
	c.namespace = append(c.namespace, sp.Namespace)
	c.isSegment = append(c.isSegment, b2u(sp.IsSegment))
	c.depth = append(c.depth, sp.Depth)
	c.start = append(c.start, startSec)
	c.startUS = append(c.startUS, startUS)
	c.endUS = append(c.endUS, endUS)
	c.durationUS = append(c.durationUS, durUS)
	c.inProgress = append(c.inProgress, b2u(sp.InProgress))
	c.isError = append(c.isError, b2u(sp.Error))
	c.fault = append(c.fault, b2u(sp.Fault))
	c.throttle = append(c.throttle, b2u(sp.Throttle))
	c.httpMethod = append(c.httpMethod, sp.HTTPMethod)
	c.httpURL = append(c.httpURL, sp.HTTPURL)
	c.httpStatus = append(c.httpStatus, sp.HTTPStatus)
	c.httpClientIP = append(c.httpClientIP, sp.HTTPClientIP)
	c.httpUserAgent = append(c.httpUserAgent, sp.HTTPUserAgent)
	c.httpTraced = append(c.httpTraced, b2u(sp.HTTPTraced))
	c.user = append(c.user, sp.User)
	c.resourceARN = append(c.resourceARN, sp.ResourceARN)
	// Nested columns need equal-length key and value arrays, or ClickHouse
	// rejects the whole block: trim to the shorter one.
	sk, sv := sp.AnnStrKeys, sp.AnnStrValues
	if len(sv) < len(sk) {
		sk = sk[:len(sv)]
	}
	c.annStrKey = append(c.annStrKey, nonNil(sk))
	c.annStrValue = append(c.annStrValue, nonNil(sv[:len(sk)]))
	nk, nv := sp.AnnNumKeys, sp.AnnNumValues
	if len(nv) < len(nk) {
		nk = nk[:len(nv)]
	}
	nv = nv[:len(nk)]
	if nv == nil {
		nv = []float64{}
	}
	c.annNumKey = append(c.annNumKey, nonNil(nk))
	c.annNumValue = append(c.annNumValue, nv)
	bk, bv := sp.AnnBoolKeys, sp.AnnBoolValues
	if len(bv) < len(bk) {
		bk = bk[:len(bv)]
	}
	bu := make([]uint8, len(bk))
	for i := range bk {
		bu[i] = b2u(bv[i])
	}
	c.annBoolKey = append(c.annBoolKey, nonNil(bk))
	c.annBoolValue = append(c.annBoolValue, bu)
	c.awsOperation = append(c.awsOperation, sp.AWSOperation)
	c.awsRegion = append(c.awsRegion, sp.AWSRegion)
	c.awsAccountID = append(c.awsAccountID, sp.AWSAccountID)
	c.awsResource = append(c.awsResource, sp.AWSResource)
	c.sqlURL = append(c.sqlURL, sp.SQLURL)
	c.sqlDBType = append(c.sqlDBType, sp.SQLDatabaseType)
	c.causeType = append(c.causeType, sp.CauseType)
	c.causeMessage = append(c.causeMessage, sp.CauseMessage)
	c.causeID = append(c.causeID, sp.CauseID)
	c.remote = append(c.remote, b2u(sp.Remote))
	c.version = append(c.version, version)
}

func nonNil(s []string) []string {
	if s == nil {
		return empty
	}
	return s
}

// list returns the columns in spanColumns order.
func (c *spanCols) list() []any {
	return []any{
		c.date, c.traceID, c.id, c.parentID, c.segmentID, c.service, c.origin, c.name, c.namespace, c.isSegment, c.depth,
		c.start, c.startUS, c.endUS, c.durationUS, c.inProgress, c.isError, c.fault, c.throttle,
		c.httpMethod, c.httpURL, c.httpStatus, c.httpClientIP, c.httpUserAgent, c.httpTraced, c.user, c.resourceARN,
		c.annStrKey, c.annStrValue, c.annNumKey, c.annNumValue, c.annBoolKey, c.annBoolValue,
		c.awsOperation, c.awsRegion, c.awsAccountID, c.awsResource, c.sqlURL, c.sqlDBType,
		c.causeType, c.causeMessage, c.causeID, c.remote, c.version,
	}
}
