package filter

import (
	"context"
	"testing"
	"time"

	"github.com/fluoro/fluoro/collector/segment"
	"github.com/fluoro/fluoro/schema/chtest"
)

// writeDocuments stores docs in db's spans table. Interim: replaced by
// chstore.WriteDocuments once schema/chstore lands.
func writeDocuments(t *testing.T, ctx context.Context, db *chtest.DB, docs []segment.Document) {
	t.Helper()
	b, err := db.Conn.PrepareBatch(ctx, "INSERT INTO "+db.Name+".spans (date, trace_id, id, parent_id, segment_id, service, origin, name, namespace, is_segment, depth, start, start_us, end_us, duration_us, in_progress, error, fault, throttle, http_method, http_url, http_status, http_client_ip, http_user_agent, http_traced, user, resource_arn, ann_str.key, ann_str.value, ann_num.key, ann_num.value, ann_bool.key, ann_bool.value, aws_operation, aws_region, aws_account_id, aws_resource, sql_url, sql_database_type, cause_type, cause_message, cause_id, remote, version)")
	if err != nil {
		t.Fatal(err)
	}
	u8 := func(x bool) uint8 {
		if x {
			return 1
		}
		return 0
	}
	nz := func(x []string) []string {
		if x == nil {
			return []string{}
		}
		return x
	}
	for _, d := range docs {
		v := uint64(d.ReceivedNanos)
		if !d.InProgress {
			v |= 1 << 62
		}
		for i := range d.Spans {
			s := &d.Spans[i]
			startUS, endUS := micros(s.StartTime), uint64(0)
			if !s.InProgress {
				endUS = micros(s.EndTime)
			}
			st := time.Unix(int64(s.StartTime), 0).UTC()
			bools := make([]uint8, len(s.AnnBoolValues))
			for j, x := range s.AnnBoolValues {
				bools[j] = u8(x)
			}
			nums := s.AnnNumValues
			if nums == nil {
				nums = []float64{}
			}
			if err := b.Append(st, s.TraceID, s.ID, s.ParentID, s.SegmentID, s.Service, s.Origin, s.Name, s.Namespace,
				u8(s.IsSegment), s.Depth, st, startUS, endUS, endUS-min(startUS, endUS), u8(s.InProgress), u8(s.Error), u8(s.Fault), u8(s.Throttle),
				s.HTTPMethod, s.HTTPURL, s.HTTPStatus, s.HTTPClientIP, s.HTTPUserAgent, u8(s.HTTPTraced), s.User, s.ResourceARN,
				nz(s.AnnStrKeys), nz(s.AnnStrValues), nz(s.AnnNumKeys), nums, nz(s.AnnBoolKeys), bools,
				s.AWSOperation, s.AWSRegion, s.AWSAccountID, s.AWSResource, s.SQLURL, s.SQLDatabaseType,
				s.CauseType, s.CauseMessage, s.CauseID, u8(s.Remote), v); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
}
