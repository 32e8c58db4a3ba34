//go:build filterdev

package filter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fluoro/fluoro/collector/segment"
)

// Development harness (go test -tags filterdev): the differential test
// against a scratch ClickHouse through clickhouse-client, until schema/chtest exists.

func chc(t *testing.T, db, query string, stdin []byte) string {
	t.Helper()
	cmd := exec.Command("clickhouse-client", "--port", "19000", "-d", db, "-q", query)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("clickhouse-client %q: %v: %s", query[:min(len(query), 300)], err, stderr.String())
	}
	return out.String()
}

func bindDev(having string, args []any) string {
	var b strings.Builder
	i := 0
	for _, c := range having {
		if c != '?' {
			b.WriteRune(c)
			continue
		}
		switch v := args[i].(type) {
		case string:
			b.WriteString("'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\x00", `\0`).Replace(v) + "'")
		case float64:
			b.WriteString("cast(" + strconv.FormatFloat(v, 'g', -1, 64) + ", 'Float64')")
		default:
			panic(fmt.Sprintf("arg %T", v))
		}
		i++
	}
	return b.String()
}

func spanRow(s *segment.Span, version uint64) map[string]any {
	endUS := uint64(0)
	if !s.InProgress {
		endUS = micros(s.EndTime)
	}
	dur := uint64(0)
	if endUS > micros(s.StartTime) {
		dur = endUS - micros(s.StartTime)
	}
	b := func(x bool) int {
		if x {
			return 1
		}
		return 0
	}
	bools := make([]int, len(s.AnnBoolValues))
	for i, v := range s.AnnBoolValues {
		bools[i] = b(v)
	}
	nz := func(x []string) []string {
		if x == nil {
			return []string{}
		}
		return x
	}
	nf := s.AnnNumValues
	if nf == nil {
		nf = []float64{}
	}
	st := time.Unix(int64(s.StartTime), 0).UTC()
	return map[string]any{
		"date": st.Format("2006-01-02"), "trace_id": s.TraceID, "id": s.ID, "parent_id": s.ParentID, "segment_id": s.SegmentID,
		"service": s.Service, "origin": s.Origin, "name": s.Name, "namespace": s.Namespace, "is_segment": b(s.IsSegment),
		"depth": s.Depth, "start": st.Format("2006-01-02 15:04:05"), "start_us": micros(s.StartTime), "end_us": endUS, "duration_us": dur,
		"in_progress": b(s.InProgress), "error": b(s.Error), "fault": b(s.Fault), "throttle": b(s.Throttle),
		"http_method": s.HTTPMethod, "http_url": s.HTTPURL, "http_status": s.HTTPStatus, "http_client_ip": s.HTTPClientIP,
		"http_user_agent": s.HTTPUserAgent, "user": s.User, "resource_arn": s.ResourceARN,
		"ann_str.key": nz(s.AnnStrKeys), "ann_str.value": nz(s.AnnStrValues), "ann_num.key": nz(s.AnnNumKeys), "ann_num.value": nf,
		"ann_bool.key": nz(s.AnnBoolKeys), "ann_bool.value": bools,
		"aws_operation": s.AWSOperation, "aws_region": s.AWSRegion, "aws_account_id": s.AWSAccountID, "aws_resource": s.AWSResource,
		"sql_url": s.SQLURL, "sql_database_type": s.SQLDatabaseType, "cause_type": s.CauseType, "cause_message": s.CauseMessage,
		"remote": b(s.Remote), "version": version,
	}
}

func TestDifferentialDev(t *testing.T) {
	corpus, hand := testCorpus()
	db := "filter_scratch"
	table := fmt.Sprintf("spans_%d", time.Now().UnixNano())
	chc(t, db, "CREATE TABLE "+table+" AS spans", nil)
	t.Cleanup(func() { chc(t, db, "DROP TABLE "+table, nil) })
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	var ids []string
	for _, c := range corpus {
		ids = append(ids, "'"+c.id+"'")
		for _, d := range c.docs {
			v := uint64(d.ReceivedNanos)
			if !d.InProgress {
				v |= 1 << 62
			}
			for i := range d.Spans {
				if err := enc.Encode(spanRow(&d.Spans[i], v)); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	chc(t, db, "INSERT INTO "+table+" FORMAT JSONEachRow", buf.Bytes())
	in := strings.Join(ids, ",")
	res := checkDifferential(t, corpus, testExprs(), func(having string, args []any) ([]string, error) {
		q := "SELECT trace_id FROM " + table + " FINAL WHERE trace_id IN (" + in + ") GROUP BY trace_id HAVING " + bindDev(having, args)
		out := strings.TrimSpace(chc(t, db, q, nil))
		if out == "" {
			return nil, nil
		}
		return strings.Split(out, "\n"), nil
	})
	checkHandExpect(t, hand, res)
}
