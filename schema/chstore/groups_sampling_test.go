package chstore_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fluoro/fluoro/schema"
	"github.com/fluoro/fluoro/schema/chstore"
	"github.com/fluoro/fluoro/schema/chtest"
)

func TestGroups(t *testing.T) {
	t.Parallel()
	s, db := open(t)
	ctx := context.Background()

	if gs, err := s.Groups(ctx); err != nil || len(gs) != 0 {
		t.Fatalf("Groups on an empty store = %v, %v", gs, err)
	}
	a, err := s.PutGroup(ctx, chstore.Group{Name: "api", ARN: "arn:aws:xray:us-east-1:000000000000:group/api/A1",
		FilterExpression: `service("api") { fault }`, InsightsEnabled: true, Tags: []chstore.Tag{{"team", "x"}, {"env", ""}}})
	if err != nil {
		t.Fatal(err)
	}
	if a.ModifiedAt.IsZero() || !a.CreatedAt.Equal(a.ModifiedAt) {
		t.Fatalf("PutGroup times: %+v", a)
	}
	if _, err := s.PutGroup(ctx, chstore.Group{Name: "slow", ARN: "arn:aws:xray:us-east-1:000000000000:group/slow/B2", FilterExpression: "responsetime > 5"}); err != nil {
		t.Fatal(err)
	}
	// A newer version replaces the older one.
	a2 := a
	a2.FilterExpression = "fault"
	a2.InsightsEnabled, a2.NotificationsEnabled = true, true
	a2.Tags = nil
	a2, err = s.PutGroup(ctx, a2)
	if err != nil {
		t.Fatal(err)
	}
	if !a2.ModifiedAt.After(a.ModifiedAt) || !a2.CreatedAt.Equal(a.CreatedAt) {
		t.Fatalf("second version times: %+v after %+v", a2, a)
	}
	for _, key := range []string{"api", a.ARN} {
		g, err := s.Group(ctx, key)
		if err != nil {
			t.Fatalf("Group(%q): %v", key, err)
		}
		if !reflect.DeepEqual(g, a2) {
			t.Fatalf("Group(%q) = %+v, want %+v", key, g, a2)
		}
	}
	if _, err := s.Group(ctx, "API"); !errors.Is(err, chstore.ErrNotFound) {
		t.Fatalf("Group(API) (names are case-sensitive) = %v, want ErrNotFound", err)
	}
	if err := s.DeleteGroup(ctx, "slow"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Group(ctx, "slow"); !errors.Is(err, chstore.ErrNotFound) {
		t.Fatalf("Group(slow) after delete = %v", err)
	}
	// Re-created under a new ARN: the old ARN no longer names it.
	if _, err := s.PutGroup(ctx, chstore.Group{Name: "slow", ARN: "arn:aws:xray:us-east-1:000000000000:group/slow/C3"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Group(ctx, "arn:aws:xray:us-east-1:000000000000:group/slow/B2"); !errors.Is(err, chstore.ErrNotFound) {
		t.Fatalf("Group(old ARN) = %v, want ErrNotFound", err)
	}

	// Merged or not, readers see the same; and a new Store (a restart)
	// reads what the first wrote.
	if err := db.Conn.Exec(ctx, "OPTIMIZE TABLE "+db.Name+".groups FINAL"); err != nil {
		t.Fatal(err)
	}
	s2, err := chstore.Open(ctx, db.DSN, chstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	gs, err := s2.Groups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) != 2 || gs[0].Name != "api" || gs[1].Name != "slow" || gs[1].FilterExpression != "" || !reflect.DeepEqual(gs[0], a2) {
		t.Fatalf("Groups after reopen = %+v", gs)
	}
}

func TestSamplingRules(t *testing.T) {
	t.Parallel()
	s, _ := open(t)
	ctx := context.Background()

	rules, last, err := s.SamplingRules(ctx)
	if err != nil || len(rules) != 0 || !last.IsZero() {
		t.Fatalf("SamplingRules on an empty store = %v, %v, %v", rules, last, err)
	}
	base := chstore.SamplingRule{ResourceARN: "*", FixedRate: 0.1, ReservoirSize: 2, ServiceName: "*", ServiceType: "*",
		Host: "*", HTTPMethod: "*", URLPath: "*", Version: 1, Attributes: map[string]string{}}
	b := base
	b.RuleName, b.RuleARN, b.Priority = "b", "arn:b", 5
	b.Attributes = map[string]string{"k2": "v2", "k1": "v1"}
	b.Boost = &chstore.SamplingRateBoost{MaxRate: 0.5, CooldownWindowMinutes: 3}
	a := base
	a.RuleName, a.RuleARN, a.Priority = "a", "arn:a", 5
	c := base
	c.RuleName, c.RuleARN, c.Priority = "c", "arn:c", 1
	var recs []chstore.SamplingRuleRecord
	for _, r := range []chstore.SamplingRule{b, a, c} {
		rec, err := s.PutSamplingRule(ctx, chstore.SamplingRuleRecord{Rule: r, Tags: []chstore.Tag{{"k", r.RuleName}}})
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	rules, last, err = s.SamplingRules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []chstore.SamplingRuleRecord{recs[2], recs[1], recs[0]} // priority, then name
	if !reflect.DeepEqual(rules, want) {
		t.Fatalf("SamplingRules = %+v\nwant %+v", rules, want)
	}
	if !last.Equal(recs[2].ModifiedAt) {
		t.Fatalf("last modification %v, want %v", last, recs[2].ModifiedAt)
	}
	if err := s.DeleteSamplingRule(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	rules, last2, err := s.SamplingRules(ctx)
	if err != nil || len(rules) != 2 || rules[0].Rule.RuleName != "a" {
		t.Fatalf("after delete: %+v, %v", rules, err)
	}
	if !last2.After(last) {
		t.Fatalf("deleting did not advance the last modification: %v then %v", last, last2)
	}
}

func TestSamplingStatistics(t *testing.T) {
	t.Parallel()
	s, _ := open(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	w := now.Truncate(10 * time.Second)
	stats := []chstore.SamplingStatistic{
		{RuleName: "r", ClientID: "c1", Timestamp: w, Received: w.Add(-30 * time.Second), RequestCount: 100, SampledCount: 5, BorrowCount: 1},
		{RuleName: "r", ClientID: "c1", Timestamp: w, Received: w.Add(time.Second), RequestCount: 10, SampledCount: 2, BorrowCount: 0},
		{RuleName: "r", ClientID: "c2", Timestamp: w, Received: w.Add(2 * time.Second), RequestCount: 30, SampledCount: 3, BorrowCount: 1},
		{RuleName: "q", ClientID: "c2", Timestamp: w, Received: w.Add(3 * time.Second), RequestCount: 7, SampledCount: 7},
	}
	if err := s.WriteSamplingStatistics(ctx, stats); err != nil {
		t.Fatal(err)
	}
	got, err := s.SamplingStatistics(ctx, w.Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[1].ClientID != "c1" || got[1].RequestCount != 10 || !got[1].Received.Equal(w.Add(time.Second)) || got[0].RuleName != "q" {
		t.Fatalf("SamplingStatistics = %+v", got)
	}
	if got, err := s.SamplingStatistics(ctx, w.Add(3*time.Second)); err != nil || len(got) != 1 {
		t.Fatalf("SamplingStatistics since the last report = %+v, %v", got, err)
	}
	sums, err := s.SamplingStatisticSummaries(ctx, w.Add(-time.Minute), w.Add(time.Minute), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	want := []chstore.SamplingStatisticSummary{
		{RuleName: "q", Timestamp: w, RequestCount: 7, SampledCount: 7},
		{RuleName: "r", Timestamp: w, RequestCount: 40, SampledCount: 5, BorrowCount: 1},
		{RuleName: "r", Timestamp: w.Add(-30 * time.Second), RequestCount: 100, SampledCount: 5, BorrowCount: 1},
	}
	if !reflect.DeepEqual(sums, want) {
		t.Fatalf("summaries = %+v\nwant %+v", sums, want)
	}
	if sums, err := s.SamplingStatisticSummaries(ctx, w.Add(-time.Minute), w.Add(2*time.Second), 10*time.Second); err != nil || len(sums) != 2 || sums[0].RequestCount != 10 {
		t.Fatalf("summaries before the third report = %+v, %v", sums, err)
	}
}

// TestGroupsSamplingCluster runs groups, rules and statistics through the
// Distributed tables of the cluster layout (see TestClusterLayout).
func TestGroupsSamplingCluster(t *testing.T) {
	t.Parallel()
	srv := chtest.NewServer(t)
	ctx := context.Background()
	name := chtest.UniqueName(t)
	t.Cleanup(func() { srv.Exec(t, "DROP DATABASE IF EXISTS "+name) })
	if _, err := schema.Migrate(ctx, srv.Conn, schema.Options{Database: name, Cluster: "fluoro_local", NoZooKeeper: true}); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"groups", "sampling_rules", "sampling_stats"} {
		if n := srv.Count(t, "SELECT count() FROM system.tables WHERE database = ? AND name = ? AND engine = 'Distributed'", name, table); n != 1 {
			t.Fatalf("%s is not a Distributed table", table)
		}
	}
	s, err := chstore.Open(ctx, strings.TrimSuffix(srv.DSN, srv.Name)+name, chstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, expr := range []string{"fault", "error"} {
		if _, err := s.PutGroup(ctx, chstore.Group{Name: "a", ARN: "arn:a", FilterExpression: expr}); err != nil {
			t.Fatal(err)
		}
	}
	if g, err := s.Group(ctx, "arn:a"); err != nil || g.FilterExpression != "error" {
		t.Fatalf("Group = %+v, %v", g, err)
	}
	if err := s.DeleteGroup(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if gs, err := s.Groups(ctx); err != nil || len(gs) != 0 {
		t.Fatalf("Groups after delete = %+v, %v", gs, err)
	}
	if _, err := s.PutSamplingRule(ctx, chstore.SamplingRuleRecord{Rule: chstore.SamplingRule{RuleName: "r", Priority: 3}}); err != nil {
		t.Fatal(err)
	}
	if rs, last, err := s.SamplingRules(ctx); err != nil || len(rs) != 1 || last.IsZero() {
		t.Fatalf("SamplingRules = %+v, %v, %v", rs, last, err)
	}
	now := time.Now()
	if err := s.WriteSamplingStatistics(ctx, []chstore.SamplingStatistic{{RuleName: "r", ClientID: "c", Timestamp: now, Received: now, RequestCount: 3}}); err != nil {
		t.Fatal(err)
	}
	if st, err := s.SamplingStatistics(ctx, now.Add(-time.Minute)); err != nil || len(st) != 1 || st[0].RequestCount != 3 {
		t.Fatalf("SamplingStatistics = %+v, %v", st, err)
	}
	if sums, err := s.SamplingStatisticSummaries(ctx, now.Add(-time.Minute), now.Add(time.Minute), 10*time.Second); err != nil || len(sums) != 1 {
		t.Fatalf("SamplingStatisticSummaries = %+v, %v", sums, err)
	}
}
