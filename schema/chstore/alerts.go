package chstore

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// AlertRuleRecord is an alerting rule as stored: its id and its JSON
// document (query/alert owns the format and validates it).
type AlertRuleRecord struct {
	ID         string
	Body       []byte
	CreatedAt  time.Time
	ModifiedAt time.Time
}

const alertRuleColumns = "id, body, created_us, version, deleted"

// PutAlertRule stores r as the newest version of rule r.ID and returns it
// with ModifiedAt (and a zero CreatedAt) set to the write time.
func (s *Store) PutAlertRule(ctx context.Context, r AlertRuleRecord) (AlertRuleRecord, error) {
	return s.writeAlertRule(ctx, r, false)
}

// DeleteAlertRule stores a tombstone for rule id; deleting a missing rule
// is not an error.
func (s *Store) DeleteAlertRule(ctx context.Context, id string) error {
	_, err := s.writeAlertRule(ctx, AlertRuleRecord{ID: id}, true)
	return err
}

func (s *Store) writeAlertRule(ctx context.Context, r AlertRuleRecord, deleted bool) (AlertRuleRecord, error) {
	v := nextVersion(time.Now())
	r.ModifiedAt = time.UnixMicro(int64(v)).UTC()
	if r.CreatedAt.IsZero() {
		r.CreatedAt = r.ModifiedAt
	}
	err := sendColumns(syncInsert(ctx), s.conn, "INSERT INTO "+s.db+".alert_rules ("+alertRuleColumns+")",
		[]string{r.ID}, []string{string(r.Body)}, []uint64{uint64(max(r.CreatedAt.UnixMicro(), 0))},
		[]uint64{v}, []uint8{b2u(deleted)})
	if err != nil {
		return AlertRuleRecord{}, fmt.Errorf("write alert rule %q: %w", r.ID, err)
	}
	return r, nil
}

// AlertRules returns the newest version of every rule that is not
// deleted, sorted by id.
func (s *Store) AlertRules(ctx context.Context) ([]AlertRuleRecord, error) {
	rows, err := s.conn.Query(ctx, "SELECT id, argMax(body, version), argMax(created_us, version), max(version) FROM "+
		s.db+".alert_rules GROUP BY id HAVING argMax(deleted, version) = 0 ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("query alert rules: %w", err)
	}
	defer rows.Close()
	var out []AlertRuleRecord
	for rows.Next() {
		var (
			r                  AlertRuleRecord
			body               string
			createdUS, version uint64
		)
		if err := rows.Scan(&r.ID, &body, &createdUS, &version); err != nil {
			return nil, fmt.Errorf("scan alert rules: %w", err)
		}
		r.Body = []byte(body)
		r.CreatedAt = time.UnixMicro(int64(createdUS)).UTC()
		r.ModifiedAt = time.UnixMicro(int64(version)).UTC()
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query alert rules: %w", err)
	}
	return out, nil
}

// AlertStateRecord is the alerting engine's state of one rule: the current
// episode, its state and the engine's JSON document of the rest.
// Deleted removes the state (the rule was deleted).
type AlertStateRecord struct {
	RuleID    string
	EpisodeID string
	State     string
	Body      []byte
	Deleted   bool
}

// PutAlertStates stores the newest state of each rule in states (one
// insert).
func (s *Store) PutAlertStates(ctx context.Context, states []AlertStateRecord) error {
	if len(states) == 0 {
		return nil
	}
	n := len(states)
	ids, eps, sts, bodies := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	vers, dels := make([]uint64, n), make([]uint8, n)
	for i, st := range states {
		ids[i], eps[i], sts[i], bodies[i] = st.RuleID, st.EpisodeID, st.State, string(st.Body)
		vers[i], dels[i] = nextVersion(time.Now()), b2u(st.Deleted)
	}
	err := sendColumns(syncInsert(ctx), s.conn, "INSERT INTO "+s.db+".alert_state (rule_id, episode_id, state, body, version, deleted)",
		ids, eps, sts, bodies, vers, dels)
	if err != nil {
		return fmt.Errorf("write alert states: %w", err)
	}
	return nil
}

// AlertStates returns the newest state of every rule that has one.
func (s *Store) AlertStates(ctx context.Context) ([]AlertStateRecord, error) {
	rows, err := s.conn.Query(ctx, "SELECT rule_id, argMax(episode_id, version), argMax(state, version), argMax(body, version) FROM "+
		s.db+".alert_state GROUP BY rule_id HAVING argMax(deleted, version) = 0 ORDER BY rule_id")
	if err != nil {
		return nil, fmt.Errorf("query alert states: %w", err)
	}
	defer rows.Close()
	var out []AlertStateRecord
	for rows.Next() {
		var (
			r    AlertStateRecord
			body string
		)
		if err := rows.Scan(&r.RuleID, &r.EpisodeID, &r.State, &body); err != nil {
			return nil, fmt.Errorf("scan alert states: %w", err)
		}
		r.Body = []byte(body)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query alert states: %w", err)
	}
	return out, nil
}

// AlertEvent is one state change of an alert (alert_history).
type AlertEvent struct {
	Time      time.Time
	RuleID    string
	RuleName  string
	EpisodeID string
	// State is pending, firing, updated, resolved or inactive.
	State     string
	Severity  string
	Value     float64
	Threshold float64
	// Matching counts what crossed the threshold (matching traces,
	// faulting traces, slow requests) and Total its population.
	Matching, Total uint64
	// RootService and RootServiceType name the service the alert is
	// about (root cause), when known.
	RootService, RootServiceType string
	TraceIDs                     []string
	Message                      string
}

const alertEventColumns = "date, time_us, rule_id, rule_name, episode_id, state, severity, value, threshold, matching, total, " +
	"root_service, root_service_type, trace_ids, message"

// AppendAlertEvents inserts events into the alert history (one insert).
func (s *Store) AppendAlertEvents(ctx context.Context, events []AlertEvent) error {
	if len(events) == 0 {
		return nil
	}
	n := len(events)
	var (
		dates                               = make([]time.Time, n)
		times, matching, total              = make([]uint64, n), make([]uint64, n), make([]uint64, n)
		rules, names, eps, states, sevs, rs = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		rts, msgs                           = make([]string, n), make([]string, n)
		values, thresholds                  = make([]float64, n), make([]float64, n)
		traceIDs                            = make([][]string, n)
	)
	for i, e := range events {
		dates[i] = e.Time.UTC().Truncate(day)
		times[i] = uint64(max(e.Time.UnixMicro(), 0))
		rules[i], names[i], eps[i], states[i], sevs[i] = e.RuleID, e.RuleName, e.EpisodeID, e.State, e.Severity
		values[i], thresholds[i], matching[i], total[i] = e.Value, e.Threshold, e.Matching, e.Total
		rs[i], rts[i], msgs[i] = e.RootService, e.RootServiceType, e.Message
		traceIDs[i] = nonNil(e.TraceIDs)
	}
	err := sendColumns(syncInsert(ctx), s.conn, "INSERT INTO "+s.db+".alert_history ("+alertEventColumns+")",
		dates, times, rules, names, eps, states, sevs, values, thresholds, matching, total, rs, rts, traceIDs, msgs)
	if err != nil {
		return fmt.Errorf("write alert history: %w", err)
	}
	return nil
}

// AlertEventQuery selects alert history. Zero fields do not restrict.
type AlertEventQuery struct {
	RuleID, EpisodeID string
	// Start and End bound the event time [Start, End).
	Start, End time.Time
	// Limit bounds the result (default 100, at most 10000).
	Limit int
	// Oldest returns the oldest events first instead of the newest.
	Oldest bool
}

// AlertEvents returns the events q selects, newest first (oldest first
// with q.Oldest).
func (s *Store) AlertEvents(ctx context.Context, q AlertEventQuery) ([]AlertEvent, error) {
	where, args := alertWhere(q.RuleID, q.EpisodeID, q.Start, q.End)
	order := "DESC"
	if q.Oldest {
		order = "ASC"
	}
	rows, err := s.conn.Query(ctx, "SELECT "+alertEventColumns+" FROM "+s.db+".alert_history"+where+
		" ORDER BY time_us "+order+", state LIMIT "+strconv.Itoa(clampLimit(q.Limit)), args...)
	if err != nil {
		return nil, fmt.Errorf("query alert history: %w", err)
	}
	defer rows.Close()
	var out []AlertEvent
	for rows.Next() {
		var (
			e    AlertEvent
			date time.Time
			us   uint64
		)
		if err := rows.Scan(&date, &us, &e.RuleID, &e.RuleName, &e.EpisodeID, &e.State, &e.Severity, &e.Value, &e.Threshold,
			&e.Matching, &e.Total, &e.RootService, &e.RootServiceType, &e.TraceIDs, &e.Message); err != nil {
			return nil, fmt.Errorf("scan alert history: %w", err)
		}
		e.Time = time.UnixMicro(int64(us)).UTC()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query alert history: %w", err)
	}
	return out, nil
}

// AlertEpisode summarises one episode of an alert that fired: from its
// first event to its resolution.
type AlertEpisode struct {
	EpisodeID, RuleID, RuleName, Severity string
	// Start is the first event (pending or firing), FiredAt the first
	// firing event, End the resolution (zero while the episode is open).
	Start, FiredAt, End time.Time
	// LastUpdate is the newest event.
	LastUpdate time.Time
	// State is the newest event's state.
	State                        string
	Matching, Total              uint64 // the largest seen in the episode
	Value, Threshold             float64
	RootService, RootServiceType string
	// Message is the newest event's message.
	Message string
	// Events counts the episode's history events.
	Events uint64
}

// AlertEpisodeQuery selects episodes that fired and overlap [Start, End).
type AlertEpisodeQuery struct {
	Start, End time.Time
	EpisodeID  string
	RuleID     string
	// Limit bounds the result (default 100, at most 10000).
	Limit int
}

// AlertEpisodes returns the episodes q selects that fired, newest first.
// Episodes are read from the history; one that fired before the start of
// the retained history is reported from its retained events.
func (s *Store) AlertEpisodes(ctx context.Context, q AlertEpisodeQuery) ([]AlertEpisode, error) {
	var (
		conds []string
		args  []any
	)
	if q.EpisodeID != "" {
		conds, args = append(conds, "episode_id = ?"), append(args, q.EpisodeID)
	}
	if q.RuleID != "" {
		conds, args = append(conds, "rule_id = ?"), append(args, q.RuleID)
	}
	where := ""
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	having := []string{"countIf(state = 'firing') > 0"}
	if !q.End.IsZero() {
		having = append(having, "min(time_us) < "+strconv.FormatInt(q.End.UnixMicro(), 10))
	}
	if !q.Start.IsZero() {
		// Open episodes, or resolved at or after Start.
		having = append(having, "(countIf(state = 'resolved') = 0 OR maxIf(time_us, state = 'resolved') >= "+strconv.FormatInt(q.Start.UnixMicro(), 10)+")")
	}
	rows, err := s.conn.Query(ctx, "SELECT episode_id, any(rule_id), argMax(rule_name, time_us), argMax(severity, time_us),"+
		" min(time_us), minIf(time_us, state = 'firing'), if(countIf(state = 'resolved') > 0, maxIf(time_us, state = 'resolved'), 0),"+
		" max(time_us), argMax(state, time_us), max(matching), max(total), argMax(value, time_us), argMax(threshold, time_us),"+
		" argMaxIf(root_service, time_us, root_service != ''), argMaxIf(root_service_type, time_us, root_service != ''),"+
		" argMax(message, time_us), count()"+
		" FROM "+s.db+".alert_history"+where+" GROUP BY episode_id HAVING "+strings.Join(having, " AND ")+
		" ORDER BY min(time_us) DESC, episode_id LIMIT "+strconv.Itoa(clampLimit(q.Limit)), args...)
	if err != nil {
		return nil, fmt.Errorf("query alert episodes: %w", err)
	}
	defer rows.Close()
	var out []AlertEpisode
	for rows.Next() {
		var (
			e                          AlertEpisode
			start, fired, end, updated uint64
		)
		if err := rows.Scan(&e.EpisodeID, &e.RuleID, &e.RuleName, &e.Severity, &start, &fired, &end, &updated, &e.State,
			&e.Matching, &e.Total, &e.Value, &e.Threshold, &e.RootService, &e.RootServiceType, &e.Message, &e.Events); err != nil {
			return nil, fmt.Errorf("scan alert episodes: %w", err)
		}
		e.Start = time.UnixMicro(int64(start)).UTC()
		e.FiredAt = time.UnixMicro(int64(fired)).UTC()
		if end > 0 {
			e.End = time.UnixMicro(int64(end)).UTC()
		}
		e.LastUpdate = time.UnixMicro(int64(updated)).UTC()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query alert episodes: %w", err)
	}
	return out, nil
}

// AlertDelivery is one delivery attempt of a notification to a receiver.
type AlertDelivery struct {
	Time           time.Time
	NotificationID string
	RuleID         string
	EpisodeID      string
	Receiver       string
	ReceiverType   string
	// State is the notified alert state (firing, resolved).
	State   string
	Attempt int
	// Outcome is delivered, failed (will be retried), gave_up, muted or
	// dropped.
	Outcome    string
	HTTPStatus int
	Error      string
	Duration   time.Duration
}

const alertDeliveryColumns = "date, time_us, notification_id, rule_id, episode_id, receiver, receiver_type, state, attempt, outcome, " +
	"http_status, error, duration_us"

// AppendAlertDeliveries records delivery attempts (one insert).
func (s *Store) AppendAlertDeliveries(ctx context.Context, ds []AlertDelivery) error {
	if len(ds) == 0 {
		return nil
	}
	n := len(ds)
	var (
		dates                                   = make([]time.Time, n)
		times, durs                             = make([]uint64, n), make([]uint64, n)
		nids, rules, eps, recvs, types, sts, oc = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		errs                                    = make([]string, n)
		attempts, statuses                      = make([]uint16, n), make([]uint16, n)
	)
	for i, d := range ds {
		dates[i] = d.Time.UTC().Truncate(day)
		times[i], durs[i] = uint64(max(d.Time.UnixMicro(), 0)), uint64(max(d.Duration.Microseconds(), 0))
		nids[i], rules[i], eps[i], recvs[i], types[i], sts[i], oc[i] = d.NotificationID, d.RuleID, d.EpisodeID, d.Receiver, d.ReceiverType, d.State, d.Outcome
		errs[i] = d.Error
		attempts[i], statuses[i] = uint16(min(max(d.Attempt, 0), 65535)), uint16(min(max(d.HTTPStatus, 0), 65535))
	}
	err := sendColumns(syncInsert(ctx), s.conn, "INSERT INTO "+s.db+".alert_deliveries ("+alertDeliveryColumns+")",
		dates, times, nids, rules, eps, recvs, types, sts, attempts, oc, statuses, errs, durs)
	if err != nil {
		return fmt.Errorf("write alert deliveries: %w", err)
	}
	return nil
}

// AlertDeliveryQuery selects delivery attempts. Zero fields do not restrict.
type AlertDeliveryQuery struct {
	RuleID, EpisodeID string
	Start, End        time.Time
	Limit             int
}

// AlertDeliveries returns the delivery attempts q selects, newest first.
func (s *Store) AlertDeliveries(ctx context.Context, q AlertDeliveryQuery) ([]AlertDelivery, error) {
	where, args := alertWhere(q.RuleID, q.EpisodeID, q.Start, q.End)
	rows, err := s.conn.Query(ctx, "SELECT "+alertDeliveryColumns+" FROM "+s.db+".alert_deliveries"+where+
		" ORDER BY time_us DESC, attempt DESC LIMIT "+strconv.Itoa(clampLimit(q.Limit)), args...)
	if err != nil {
		return nil, fmt.Errorf("query alert deliveries: %w", err)
	}
	defer rows.Close()
	var out []AlertDelivery
	for rows.Next() {
		var (
			d                 AlertDelivery
			date              time.Time
			us, dur           uint64
			attempt, httpCode uint16
		)
		if err := rows.Scan(&date, &us, &d.NotificationID, &d.RuleID, &d.EpisodeID, &d.Receiver, &d.ReceiverType, &d.State,
			&attempt, &d.Outcome, &httpCode, &d.Error, &dur); err != nil {
			return nil, fmt.Errorf("scan alert deliveries: %w", err)
		}
		d.Time = time.UnixMicro(int64(us)).UTC()
		d.Attempt, d.HTTPStatus, d.Duration = int(attempt), int(httpCode), time.Duration(dur)*time.Microsecond
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query alert deliveries: %w", err)
	}
	return out, nil
}

// alertWhere is the WHERE clause shared by the history and delivery
// queries.
func alertWhere(ruleID, episodeID string, start, end time.Time) (string, []any) {
	var (
		conds []string
		args  []any
	)
	if ruleID != "" {
		conds, args = append(conds, "rule_id = ?"), append(args, ruleID)
	}
	if episodeID != "" {
		conds, args = append(conds, "episode_id = ?"), append(args, episodeID)
	}
	if !start.IsZero() {
		conds = append(conds, "date >= "+dateLiteral(start), "time_us >= "+strconv.FormatInt(max(start.UnixMicro(), 0), 10))
	}
	if !end.IsZero() {
		conds = append(conds, "date <= "+dateLiteral(end), "time_us < "+strconv.FormatInt(max(end.UnixMicro(), 0), 10))
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

func clampLimit(n int) int {
	if n <= 0 {
		return defaultLimit
	}
	return min(n, maxLimit)
}

// Kinds of AlertQuery.
const (
	// AlertCount counts the traces matching Having.
	AlertCount = "count"
	// AlertRatio counts, among the traces matching Having, those also
	// matching BadHaving.
	AlertRatio = "ratio"
	// AlertLatency takes a quantile of response times: of the root
	// segments of the traces matching Having, or of the segments of
	// Service (of traces matching Having, when set).
	AlertLatency = "latency"
)

// AlertQuery is one scheduled evaluation of a threshold alert over the
// traces that started in [Start, End) (by their trace id's epoch; for a
// service's latency, by the segments' start). Every condition comes from
// query/filter's SQL back-end with its values bound as arguments.
type AlertQuery struct {
	Kind       string
	Start, End time.Time
	// Having is a trace-level condition (aggregates over the spans of one
	// trace); empty selects every trace.
	Having     string
	HavingArgs []any
	// Where (count, ratio) is an optional row-level necessary condition
	// of Having (query/filter's Prefilter): every trace satisfying Having
	// has a spans row in the window satisfying Where. Only the traces with
	// such a row are then aggregated, which spares the FINAL GROUP BY of
	// every trace of the window; results are the same without it.
	Where     string
	WhereArgs []any
	// Annotations (count, ratio), when set, is a necessary condition of
	// Having answered by the annotation index (query/filter's
	// AnnotationLookup): every trace satisfying Having carries one of
	// these string annotations. Preferred to Where: the index is read
	// instead of the annotation arrays of every span of the window.
	Annotations []Annotation
	// BadHaving (ratio) selects the traces counted in Matching.
	BadHaving     string
	BadHavingArgs []any
	// Service (latency): the node whose segments' durations are measured;
	// empty measures each trace's root segment.
	Service string
	// Quantile (latency) is in (0, 1), e.g. 0.99.
	Quantile float64
	// ThresholdUS (latency) selects the samples and Matching: durations
	// above it, in µs.
	ThresholdUS uint64
	// Samples bounds TraceIDs (default 10).
	Samples int
}

// AlertResult is what an AlertQuery found.
type AlertResult struct {
	// Total is the population: matching traces (count), traces matching
	// Having (ratio), measured requests (latency).
	Total uint64
	// Matching is what the alert counts: Total (count), bad traces
	// (ratio), requests slower than ThresholdUS (latency).
	Matching uint64
	// Value is the number compared with the threshold: the count, the
	// ratio Matching/Total (0 without traffic), the quantile in seconds.
	Value float64
	// TraceIDs are sample traces behind Matching.
	TraceIDs []string
}

// EvaluateAlert runs q in ClickHouse.
func (s *Store) EvaluateAlert(ctx context.Context, q AlertQuery) (AlertResult, error) {
	if !q.Start.Before(q.End) {
		return AlertResult{}, fmt.Errorf("%w: alert window start %v is not before end %v", ErrBadQuery, q.Start, q.End)
	}
	samples := q.Samples
	if samples <= 0 {
		samples = 10
	}
	samples = min(samples, 1000)
	n := strconv.Itoa(samples)
	traceWindow := traceWindowFor(q.Start, q.End)
	having := func(h string) string {
		if h == "" {
			return ""
		}
		return " HAVING (" + h + ")"
	}
	var (
		sql  string
		args []any
		res  AlertResult
	)
	pre := s.alertPrewhere([]AlertQuery{q})
	if q.Kind == AlertCount || q.Kind == AlertRatio && q.BadHaving != "" {
		if pre.clause != "" {
			cand, err := s.lookCandidates(ctx, pre, q.Start, q.End, nil, nil)
			if err != nil {
				return AlertResult{}, err
			}
			if !cand.found {
				return AlertResult{}, nil
			}
			pre.clause += cand.narrow
			pre.args = append(pre.args, cand.narrowArgs...)
		}
	}
	prewhere, whereArgs := pre.clause, pre.args
	switch q.Kind {
	case AlertCount:
		sql = "SELECT count(), groupArray(" + n + ")(trace_id) FROM (SELECT trace_id FROM " + s.db + ".spans FINAL" + prewhere + " WHERE " + traceWindow +
			" GROUP BY trace_id" + having(q.Having) + " ORDER BY trace_id DESC)"
		args = append(append([]any{}, whereArgs...), q.HavingArgs...)
		var ids []string
		if err := s.conn.QueryRow(ctx, sql, args...).Scan(&res.Total, &ids); err != nil {
			return AlertResult{}, fmt.Errorf("evaluate count alert: %w", err)
		}
		res.Matching, res.Value, res.TraceIDs = res.Total, float64(res.Total), ids
		return res, nil
	case AlertRatio:
		if q.BadHaving == "" {
			return AlertResult{}, fmt.Errorf("%w: ratio alert without BadHaving", ErrBadQuery)
		}
		sql = "SELECT count(), sum(bad_), groupArrayIf(" + n + ")(trace_id, bad_ = 1) FROM (SELECT trace_id, (" + q.BadHaving + ") AS bad_ FROM " +
			s.db + ".spans FINAL" + prewhere + " WHERE " + traceWindow + " GROUP BY trace_id" + having(q.Having) + " ORDER BY trace_id DESC)"
		args = append(append(append([]any{}, q.BadHavingArgs...), whereArgs...), q.HavingArgs...)
		var ids []string
		if err := s.conn.QueryRow(ctx, sql, args...).Scan(&res.Total, &res.Matching, &ids); err != nil {
			return AlertResult{}, fmt.Errorf("evaluate ratio alert: %w", err)
		}
		if res.Total > 0 {
			res.Value = float64(res.Matching) / float64(res.Total)
		}
		res.TraceIDs = ids
		return res, nil
	case AlertLatency:
		if !(q.Quantile > 0 && q.Quantile < 1) {
			return AlertResult{}, fmt.Errorf("%w: latency alert quantile %v is not in (0, 1)", ErrBadQuery, q.Quantile)
		}
		qs := strconv.FormatFloat(q.Quantile, 'f', -1, 64)
		var inner string
		if q.Service == "" {
			// Each trace's response time: the duration of its earliest
			// complete segment (the root, as the filter's responsetime).
			inner = "SELECT trace_id, argMinIf(if(end_us >= start_us, end_us - start_us, 0), start_us, is_segment = 1 AND in_progress = 0) AS d_" +
				" FROM " + s.db + ".spans FINAL WHERE " + traceWindow + " GROUP BY trace_id HAVING countIf(is_segment = 1 AND in_progress = 0) > 0"
			if q.Having != "" {
				inner += " AND (" + q.Having + ")"
				args = append(args, q.HavingArgs...)
			}
		} else {
			startUS, endUS := max(q.Start.UnixMicro(), 0), max(q.End.UnixMicro(), 0)
			inner = "SELECT trace_id, if(end_us >= start_us, end_us - start_us, 0) AS d_ FROM " + s.db + ".spans FINAL WHERE " +
				dateRange(q.Start, q.End) + " AND start >= " + dateTimeLiteral(q.Start.Add(-time.Second)) + " AND start <= " + dateTimeLiteral(q.End) +
				" AND start_us >= " + strconv.FormatInt(startUS, 10) + " AND start_us < " + strconv.FormatInt(endUS, 10) +
				" AND service = ? AND is_segment = 1 AND in_progress = 0"
			args = append(args, q.Service)
			if q.Having != "" {
				inner += " AND trace_id IN (SELECT trace_id FROM " + s.db + "." + s.spansLocal + " FINAL WHERE " + traceWindowFor(q.Start.Add(-day), q.End) +
					" GROUP BY trace_id HAVING (" + q.Having + "))"
				args = append(args, q.HavingArgs...)
			}
		}
		th := strconv.FormatUint(q.ThresholdUS, 10)
		sql = "SELECT count(), toFloat64(quantileExact(" + qs + ")(d_)), countIf(d_ > " + th + "), groupArrayIf(" + n + ")(trace_id, d_ > " + th + ") FROM (" +
			inner + " ORDER BY d_ DESC)"
		var (
			qv  float64
			ids []string
		)
		if err := s.conn.QueryRow(ctx, sql, args...).Scan(&res.Total, &qv, &res.Matching, &ids); err != nil {
			return AlertResult{}, fmt.Errorf("evaluate latency alert: %w", err)
		}
		if res.Total > 0 {
			res.Value = qv / 1e6
		}
		res.TraceIDs = ids
		return res, nil
	default:
		return AlertResult{}, fmt.Errorf("%w: alert kind %q is not count, ratio or latency", ErrBadQuery, q.Kind)
	}
}

// alertSkew is how much earlier than its trace id's epoch a span of a
// trace may start (clocks of hosts differ) and still be seen by a
// threshold alert. Smaller than TraceIDs' hour: an alert window is short
// and evaluated often, and this bound is what keeps the scan to the
// window.
const alertSkew = 10 * time.Second

// traceWindowFor is the WHERE condition selecting the spans of the traces
// that started in [from, to): a string range of trace ids (they sort by
// their epoch) and the day/start bounds that let the primary key skip
// granules.
func traceWindowFor(from, to time.Time) string {
	f := from.Add(-alertSkew)
	return dateRange(f, to.Add(day)) + " AND start >= " + dateTimeLiteral(f) +
		" AND " + traceIDRange(from, to)
}

// EvaluateAlerts runs several alert queries, sharing one scan of the
// spans table among count and ratio queries over the same window, and
// among latency queries of services (without a trace condition) over the
// same window. A shared query that fails is retried query by query, so a
// failing condition fails only its own alert. errs[i] is nil when
// results[i] is valid.
func (s *Store) EvaluateAlerts(ctx context.Context, qs []AlertQuery) (results []AlertResult, errs []error) {
	results, errs = make([]AlertResult, len(qs)), make([]error, len(qs))
	type key struct {
		traces     bool
		start, end int64
	}
	groups := map[key][]int{}
	var order []key
	for i, q := range qs {
		var k key
		switch {
		case (q.Kind == AlertCount || q.Kind == AlertRatio && q.BadHaving != "") && q.Start.Before(q.End):
			k = key{true, q.Start.UnixMicro(), q.End.UnixMicro()}
		case q.Kind == AlertLatency && q.Service != "" && q.Having == "" && q.Quantile > 0 && q.Quantile < 1 && q.Start.Before(q.End):
			k = key{false, q.Start.UnixMicro(), q.End.UnixMicro()}
		default:
			results[i], errs[i] = s.EvaluateAlert(ctx, q)
			continue
		}
		if groups[k] == nil {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	for _, k := range order {
		idx := groups[k]
		if len(idx) == 1 {
			results[idx[0]], errs[idx[0]] = s.EvaluateAlert(ctx, qs[idx[0]])
			continue
		}
		batch := make([]AlertQuery, len(idx))
		for j, i := range idx {
			batch[j] = qs[i]
		}
		var (
			rs  []AlertResult
			err error
		)
		if k.traces {
			rs, err = s.evaluateTraceBatch(ctx, batch)
		} else {
			rs, err = s.evaluateServiceLatencyBatch(ctx, batch)
		}
		if err != nil && ctx.Err() == nil {
			for _, i := range idx {
				results[i], errs[i] = s.EvaluateAlert(ctx, qs[i])
			}
			continue
		}
		for j, i := range idx {
			if err != nil {
				errs[i] = err
			} else {
				results[i] = rs[j]
			}
		}
	}
	return results, errs
}

func sampleLimit(q AlertQuery) string {
	n := q.Samples
	if n <= 0 {
		n = 10
	}
	return strconv.Itoa(min(n, 1000))
}

// evaluateTraceBatch runs count and ratio queries of one window. Only
// those that may count something are compiled into the shared scan (its
// SQL grows with every query, and analysing a large one costs ClickHouse
// more than a scan of a quiet window): a query with Annotations when one
// of them is in the window's annotation index, with a Where when a row of
// the window satisfies it, and every query without either. The others
// answer zero. Between incidents no rule has a candidate at all.
func (s *Store) evaluateTraceBatch(ctx context.Context, qs []AlertQuery) ([]AlertResult, error) {
	from, to := qs[0].Start, qs[0].End
	active := make([]bool, len(qs))
	var (
		prefiltered []AlertQuery // with Annotations present in the index, or a Where
		conds       []string     // the Wheres, in order
		condArgs    []any
		condQ       []int // qs index of each Where
		allPre      = true
	)
	present, err := s.presentAnnotations(ctx, qs)
	if err != nil {
		return nil, err
	}
	for i, q := range qs {
		switch {
		case len(q.Annotations) > 0:
			for _, a := range q.Annotations {
				active[i] = active[i] || present[a]
			}
			if active[i] {
				prefiltered = append(prefiltered, q)
			}
		case q.Where != "":
			prefiltered = append(prefiltered, q)
			conds = append(conds, "("+q.Where+")")
			condArgs = append(condArgs, q.WhereArgs...)
			condQ = append(condQ, i)
		default:
			active[i], allPre = true, false
		}
	}
	var cand candidates
	if len(prefiltered) > 0 {
		pre := s.alertPrewhere(prefiltered)
		if cand, err = s.lookCandidates(ctx, pre, from, to, conds, condArgs); err != nil {
			return nil, err
		}
		for j, i := range condQ {
			active[i] = cand.condHit[j]
		}
	}
	var (
		sub []AlertQuery
		idx []int
	)
	for i, ok := range active {
		if ok {
			sub, idx = append(sub, qs[i]), append(idx, i)
		}
	}
	rs := make([]AlertResult, len(qs))
	if len(sub) == 0 || allPre && !cand.found {
		return rs, nil // every Total and Value is 0
	}
	if !allPre {
		cand = candidates{} // some query reads every trace: no narrowing
	}
	subRs, err := s.evaluateTraceScan(ctx, sub, cand)
	if err != nil {
		return nil, err
	}
	for j, i := range idx {
		rs[i] = subRs[j]
	}
	return rs, nil
}

// presentAnnotations looks up which of qs' Annotations the window's
// annotation index holds.
func (s *Store) presentAnnotations(ctx context.Context, qs []AlertQuery) (map[Annotation]bool, error) {
	var (
		pairs []string
		args  []any
		seen  = map[Annotation]bool{}
	)
	for _, q := range qs {
		for _, a := range q.Annotations {
			if !seen[a] {
				seen[a] = true
				pairs = append(pairs, "(key = ? AND value = ?)")
				args = append(args, a.Key, a.Value)
			}
		}
	}
	present := map[Annotation]bool{}
	if len(pairs) == 0 {
		return present, nil
	}
	from, to := qs[0].Start, qs[0].End
	rs, err := s.conn.Query(ctx, "SELECT DISTINCT key, value FROM "+s.db+".annotation_index WHERE "+dateRange(from, to)+
		" AND "+traceIDRange(from, to)+
		" AND ("+strings.Join(pairs, " OR ")+")", args...)
	if err != nil {
		return nil, fmt.Errorf("look for alert candidates: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		var a Annotation
		if err := rs.Scan(&a.Key, &a.Value); err != nil {
			return nil, fmt.Errorf("look for alert candidates: %w", err)
		}
		present[a] = true
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("look for alert candidates: %w", err)
	}
	return present, nil
}

// evaluateTraceScan runs count and ratio queries of one window in one
// scan: every query's conditions are columns of the per-trace subquery.
// With cand from lookCandidates (every query prefiltered), it reads only
// the candidates' rows and answers from the scan cache when they did not
// change.
func (s *Store) evaluateTraceScan(ctx context.Context, qs []AlertQuery, cand candidates) ([]AlertResult, error) {
	var (
		inner, outer []string
		args         []any
	)
	for i, q := range qs {
		m, b := fmt.Sprintf("m%d_", i), fmt.Sprintf("b%d_", i)
		cond := "1"
		if q.Having != "" {
			cond = "(" + q.Having + ")"
			args = append(args, q.HavingArgs...)
		}
		inner = append(inner, cond+" AS "+m)
		n := sampleLimit(q)
		if q.Kind == AlertCount {
			outer = append(outer, "sum("+m+")", "sum("+m+")", "groupArrayIf("+n+")(trace_id, "+m+" = 1)")
			continue
		}
		inner = append(inner, "("+q.BadHaving+") AS "+b)
		args = append(args, q.BadHavingArgs...)
		outer = append(outer, "sum("+m+")", "sumIf("+b+", "+m+" = 1)", "groupArrayIf("+n+")(trace_id, "+m+" = 1 AND "+b+" = 1)")
	}
	var (
		key      string
		prewhere string
	)
	if cand.found {
		pre := s.alertPrewhere(qs)
		key = queriesKey(qs)
		if rs, ok := s.scans.get(key, cand.fp); ok {
			return rs, nil
		}
		prewhere = pre.clause + cand.narrow
		args = append(append(args, pre.args...), cand.narrowArgs...)
	}
	sql := "SELECT " + strings.Join(outer, ", ") + " FROM (SELECT trace_id, " + strings.Join(inner, ", ") + " FROM " + s.db +
		".spans FINAL" + prewhere + " WHERE " + traceWindowFor(qs[0].Start, qs[0].End) + " GROUP BY trace_id)"
	rs, err := s.scanBatch(ctx, qs, sql, args, func(r *AlertResult, q AlertQuery) {
		if q.Kind == AlertCount {
			r.Value = float64(r.Total)
		} else if r.Total > 0 {
			r.Value = float64(r.Matching) / float64(r.Total)
		}
	})
	if err == nil && key != "" {
		s.scans.put(key, cand.fp, rs)
	}
	return rs, err
}

// candidateSets is how alertPrewhere narrows count and ratio queries:
// clause is the PREWHERE clause with its args, and sets the subqueries
// selecting the candidate traces, with theirs ("" clause: every trace).
type candidateSets struct {
	clause  string
	args    []any
	sets    []string
	setArgs [][]any
}

// alertPrewhere restricts count and ratio queries over one window to the
// traces that can match one of them: traces with one of their Annotations
// in the annotation index, or with a spans row satisfying their Where;
// nothing when a query has neither (it needs every trace). Like TraceIDs'
// prefilter, the subqueries read local tables on a cluster (spans and the
// index are both sharded by trace id) and every version of a row, and
// PREWHERE is safe with FINAL because trace_id is in the sorting key.
func (s *Store) alertPrewhere(qs []AlertQuery) candidateSets {
	var (
		rows, pairs       []string
		rowArgs, pairArgs []any
	)
	for _, q := range qs {
		switch {
		case q.Kind == AlertLatency:
			return candidateSets{}
		case len(q.Annotations) > 0:
			for _, a := range q.Annotations {
				pairs = append(pairs, "(key = ? AND value = ?)")
				pairArgs = append(pairArgs, a.Key, a.Value)
			}
		case q.Where != "":
			rows = append(rows, "("+q.Where+")")
			rowArgs = append(rowArgs, q.WhereArgs...)
		default:
			return candidateSets{}
		}
	}
	from, to := qs[0].Start, qs[0].End
	var c candidateSets
	if len(pairs) > 0 {
		c.sets = append(c.sets, "SELECT trace_id FROM "+s.db+"."+s.local("annotation_index")+" WHERE "+dateRange(from, to)+
			" AND "+traceIDRange(from, to)+
			" AND ("+strings.Join(pairs, " OR ")+")")
		c.setArgs = append(c.setArgs, pairArgs)
	}
	if len(rows) > 0 {
		c.sets = append(c.sets, "SELECT trace_id FROM "+s.db+"."+s.spansLocal+" WHERE "+traceWindowFor(from, to)+
			" AND ("+strings.Join(rows, " OR ")+")")
		c.setArgs = append(c.setArgs, rowArgs)
	}
	var in []string
	for i, set := range c.sets {
		in = append(in, "trace_id IN ("+set+")")
		c.args = append(c.args, c.setArgs[i]...)
	}
	if len(in) > 0 {
		c.clause = " PREWHERE (" + strings.Join(in, " OR ") + ")"
	}
	return c
}

// maxCandidateServices bounds the per-service ranges lookCandidates adds
// to a scan.
const maxCandidateServices = 100

// candidates is what lookCandidates found out about a window's candidate
// traces (those in the sets of an alertPrewhere).
type candidates struct {
	// found: there are candidates (the zero value: not looked up).
	found bool
	// condHit[j]: some row of the window satisfies conds[j].
	condHit []bool
	// narrow (" AND (…)", with narrowArgs) restricts a PREWHERE to the
	// services and start times of the candidates' spans; empty beyond
	// maxCandidateServices services.
	narrow     string
	narrowArgs []any
	fp         candidateFingerprint
}

// lookCandidates looks up where c's candidate traces' spans are, in one
// query: a scan of the window's trace ids (no FINAL) with the sets as
// subqueries (a lookup in the annotation index, or a scan of the window's
// rows for the Wheres). found is false when there is no candidate (the
// queries then count nothing, and the FINAL aggregation of the window is
// not needed). narrow restricts a scan to the services and start times of
// the candidates' spans, which lead the spans table's sorting key: the
// FINAL aggregation then reads those ranges instead of the whole window
// (rows of one sorting key are all in or all out, so FINAL's result is
// unchanged). condHit tells which of conds (row conditions, each also in
// c's sets) some row satisfies.
func (s *Store) lookCandidates(ctx context.Context, c candidateSets, from, to time.Time, conds []string, condArgs []any) (candidates, error) {
	out := candidates{condHit: make([]bool, len(conds))}
	var (
		in   []string
		args []any
	)
	cols := "service, toUInt32(min(start)), toUInt32(max(start)), count(), sum(cityHash64(trace_id, id, version))"
	for _, cond := range conds {
		cols += ", max(" + cond + ")"
	}
	args = append(args, condArgs...)
	for i, set := range c.sets {
		in = append(in, "trace_id IN ("+set+")")
		args = append(args, c.setArgs[i]...)
	}
	// PREWHERE: the other columns are read for the candidates' rows only.
	rows, err := s.conn.Query(ctx, "SELECT "+cols+" FROM "+s.db+".spans PREWHERE "+strings.Join(in, " OR ")+
		" WHERE "+traceWindowFor(from, to)+" GROUP BY service ORDER BY service", args...)
	if err != nil {
		return out, fmt.Errorf("look for alert candidates: %w", err)
	}
	defer rows.Close()
	var (
		ranges []string
		hits   = make([]uint8, len(conds))
	)
	for rows.Next() {
		var (
			svc     string
			lo, hi  uint32
			n, hash uint64
		)
		dest := []any{&svc, &lo, &hi, &n, &hash}
		for j := range hits {
			dest = append(dest, &hits[j])
		}
		if err := rows.Scan(dest...); err != nil {
			return out, fmt.Errorf("look for alert candidates: %w", err)
		}
		for j, h := range hits {
			out.condHit[j] = out.condHit[j] || h == 1
		}
		ranges = append(ranges, fmt.Sprintf("(service = ? AND start >= toDateTime(%d) AND start <= toDateTime(%d))", lo, hi))
		out.narrowArgs = append(out.narrowArgs, svc)
		out.fp.rows += n
		out.fp.hash += hash
	}
	if err := rows.Err(); err != nil {
		return out, fmt.Errorf("look for alert candidates: %w", err)
	}
	out.found = len(ranges) > 0
	out.fp.ranges = fmt.Sprint(ranges, out.narrowArgs)
	if len(ranges) > maxCandidateServices {
		out.narrowArgs = nil
	} else if out.found {
		out.narrow = " AND (" + strings.Join(ranges, " OR ") + ")"
	}
	return out, nil
}

// candidateFingerprint identifies the spans rows (every version) of a
// window's candidate traces: equal fingerprints mean the FINAL scan over
// them would read the same rows and answer the same.
type candidateFingerprint struct {
	rows, hash uint64
	ranges     string
}

// scanCache keeps the last shared scan's results per set of queries, so
// that an evaluation whose candidates did not change (the usual case while
// an incident lasts: its traces are complete, the window moves on) costs
// the candidate lookups only. One entry per set of queries; bounded.
type scanCache struct {
	mu sync.Mutex
	m  map[string]scanCacheEntry
}

type scanCacheEntry struct {
	fp candidateFingerprint
	rs []AlertResult
}

const maxScanCacheEntries = 256

func (c *scanCache) get(key string, fp candidateFingerprint) ([]AlertResult, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok || e.fp != fp {
		return nil, false
	}
	return cloneResults(e.rs), true
}

func (c *scanCache) put(key string, fp candidateFingerprint, rs []AlertResult) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxScanCacheEntries {
		c.m = map[string]scanCacheEntry{}
	}
	c.m[key] = scanCacheEntry{fp: fp, rs: cloneResults(rs)}
}

func cloneResults(rs []AlertResult) []AlertResult {
	out := slices.Clone(rs)
	for i := range out {
		out[i].TraceIDs = slices.Clone(out[i].TraceIDs)
	}
	return out
}

// queriesKey identifies a set of count and ratio queries apart from their
// window.
func queriesKey(qs []AlertQuery) string {
	var b strings.Builder
	for _, q := range qs {
		fmt.Fprintf(&b, "%s\x00%s\x00%q\x00%s\x00%q\x00%s\x00%q\x00%q\x00%d\x01",
			q.Kind, q.Having, q.HavingArgs, q.BadHaving, q.BadHavingArgs, q.Where, q.WhereArgs, q.Annotations, q.Samples)
	}
	return b.String()
}

// local returns the name of table t's local table (t_local on a cluster).
func (s *Store) local(t string) string {
	if s.spansLocal != "spans" {
		return t + "_local"
	}
	return t
}

// evaluateServiceLatencyBatch runs latency queries of services over one
// window in one scan of those services' segments.
func (s *Store) evaluateServiceLatencyBatch(ctx context.Context, qs []AlertQuery) ([]AlertResult, error) {
	var (
		outer, in []string
		args      []any
		inArgs    []any
	)
	seen := map[string]bool{}
	for _, q := range qs {
		th := strconv.FormatUint(q.ThresholdUS, 10)
		outer = append(outer, "countIf(service = ?)", "countIf(service = ? AND d_ > "+th+")",
			"groupArrayIf("+sampleLimit(q)+")(trace_id, service = ? AND d_ > "+th+")",
			"toFloat64(quantileExactIf("+strconv.FormatFloat(q.Quantile, 'f', -1, 64)+")(d_, service = ?))")
		args = append(args, q.Service, q.Service, q.Service, q.Service)
		if !seen[q.Service] {
			seen[q.Service] = true
			in, inArgs = append(in, "?"), append(inArgs, q.Service)
		}
	}
	start, end := qs[0].Start, qs[0].End
	sql := "SELECT " + strings.Join(outer, ", ") + " FROM (SELECT trace_id, service, if(end_us >= start_us, end_us - start_us, 0) AS d_ FROM " +
		s.db + ".spans FINAL WHERE " + dateRange(start, end) + " AND start >= " + dateTimeLiteral(start.Add(-time.Second)) +
		" AND start <= " + dateTimeLiteral(end) + " AND start_us >= " + strconv.FormatInt(max(start.UnixMicro(), 0), 10) +
		" AND start_us < " + strconv.FormatInt(max(end.UnixMicro(), 0), 10) +
		" AND service IN (" + strings.Join(in, ", ") + ") AND is_segment = 1 AND in_progress = 0)"
	return s.scanBatch(ctx, qs, sql, append(args, inArgs...), func(r *AlertResult, q AlertQuery) {
		if r.Total == 0 {
			r.Value = 0
		} else {
			r.Value /= 1e6
		}
	})
}

// scanBatch runs a batch query whose one row holds, per query, Total,
// Matching, the samples and (latency) the quantile, and lets fix derive
// each Value.
func (s *Store) scanBatch(ctx context.Context, qs []AlertQuery, sql string, args []any, fix func(*AlertResult, AlertQuery)) ([]AlertResult, error) {
	rs := make([]AlertResult, len(qs))
	var dest []any
	for i, q := range qs {
		dest = append(dest, &rs[i].Total, &rs[i].Matching, &rs[i].TraceIDs)
		if q.Kind == AlertLatency {
			dest = append(dest, &rs[i].Value)
		}
	}
	if err := s.conn.QueryRow(ctx, sql, args...).Scan(dest...); err != nil {
		return nil, fmt.Errorf("evaluate %d alerts: %w", len(qs), err)
	}
	for i := range rs {
		fix(&rs[i], qs[i])
	}
	return rs, nil
}
