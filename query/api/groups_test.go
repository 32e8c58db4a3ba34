package api

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/xray"
	"github.com/aws/aws-sdk-go-v2/service/xray/types"

	"github.com/fluoro/fluoro/schema/chstore"
	"github.com/fluoro/fluoro/schema/chtest"
)

var _ GroupStore = (*chstore.Store)(nil)

// groupsAPI serves the API over a fresh store of db; calling it again on
// the same db is a restart.
func groupsAPI(t *testing.T, db *chtest.DB) (*chstore.Store, *xray.Client) {
	t.Helper()
	store, err := chstore.Open(context.Background(), db.DSN, chstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	s, err := New(DefaultConfig(), Settings{Reader: store, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	return store, xray.New(xray.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(hs.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDFLUOROTEST", "secret", ""),
	})
}

// wantAPIError checks that err is the X-Ray error code whose message
// contains msg.
func wantAPIError(t *testing.T, what string, err error, code, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s succeeded, want %s", what, code)
	}
	ae := apiError(t, err)
	if ae.ErrorCode() != code || !strings.Contains(ae.ErrorMessage(), msg) {
		t.Fatalf("%s: %s %q, want %s containing %q", what, ae.ErrorCode(), ae.ErrorMessage(), code, msg)
	}
}

var groupARN = regexp.MustCompile(`^arn:aws:xray:us-east-1:000000000000:group/([A-Za-z0-9_-]+)/[A-Z2-7]{24}$`)

func TestGroups(t *testing.T) {
	t.Parallel()
	db := chtest.New(t)
	_, client := groupsAPI(t, db)
	ctx := context.Background()

	// A new database has only the Default group.
	out, err := client.GetGroups(ctx, &xray.GetGroupsInput{})
	if err != nil {
		t.Fatalf("GetGroups: %v", err)
	}
	if len(out.Groups) != 1 || aws.ToString(out.Groups[0].GroupName) != "Default" ||
		aws.ToString(out.Groups[0].GroupARN) != "arn:aws:xray:us-east-1:000000000000:group/Default" ||
		out.Groups[0].FilterExpression != nil || out.Groups[0].InsightsConfiguration == nil || out.NextToken != nil {
		t.Fatalf("GetGroups on a new database = %+v", out.Groups)
	}

	created, err := client.CreateGroup(ctx, &xray.CreateGroupInput{
		GroupName:             aws.String("slow"),
		FilterExpression:      aws.String("responsetime > 5"),
		InsightsConfiguration: &types.InsightsConfiguration{InsightsEnabled: aws.Bool(true), NotificationsEnabled: aws.Bool(true)},
		Tags:                  []types.Tag{{Key: aws.String("team"), Value: aws.String("checkout")}},
	})
	if err != nil {
		t.Fatalf("CreateGroup: %v", err)
	}
	slow := created.Group
	if m := groupARN.FindStringSubmatch(aws.ToString(slow.GroupARN)); m == nil || m[1] != "slow" ||
		aws.ToString(slow.FilterExpression) != "responsetime > 5" || !aws.ToBool(slow.InsightsConfiguration.InsightsEnabled) ||
		!aws.ToBool(slow.InsightsConfiguration.NotificationsEnabled) {
		t.Fatalf("created %+v", slow)
	}
	errs, err := client.CreateGroup(ctx, &xray.CreateGroupInput{GroupName: aws.String("slow_errors"), FilterExpression: aws.String(`group.name = "slow" AND error`)})
	if err != nil {
		t.Fatalf("CreateGroup referencing a group: %v", err)
	}
	if errs.Group.InsightsConfiguration == nil || aws.ToBool(errs.Group.InsightsConfiguration.InsightsEnabled) {
		t.Fatalf("insights default to off: %+v", errs.Group.InsightsConfiguration)
	}

	for _, tc := range []struct {
		name string
		in   xray.CreateGroupInput
		msg  string
	}{
		{"duplicate", xray.CreateGroupInput{GroupName: aws.String("slow")}, `a group named "slow" already exists`},
		{"Default", xray.CreateGroupInput{GroupName: aws.String("Default")}, "GroupName Default is reserved"},
		{"space in name", xray.CreateGroupInput{GroupName: aws.String("my group")}, `has the character " "`},
		{"long name", xray.CreateGroupInput{GroupName: aws.String(strings.Repeat("g", 33))}, "must be 1 to 32 characters long"},
		{"syntax error", xray.CreateGroupInput{GroupName: aws.String("g"), FilterExpression: aws.String(`service("api") {{ fault }`)},
			"FilterExpression: expected a keyword, '!' or '(', found '{' at position 16"},
		{"unknown keyword", xray.CreateGroupInput{GroupName: aws.String("g"), FilterExpression: aws.String("bogus = 3")}, "unknown keyword 'bogus' at position 0"},
		{"blank expression", xray.CreateGroupInput{GroupName: aws.String("g"), FilterExpression: aws.String("  ")}, "must not be blank"},
		{"unknown group", xray.CreateGroupInput{GroupName: aws.String("g"), FilterExpression: aws.String(`group.name = "nope"`)}, `group "nope" does not exist`},
		{"itself", xray.CreateGroupInput{GroupName: aws.String("g"), FilterExpression: aws.String(`group.name = "g"`)}, "cycle"},
		{"notifications without insights", xray.CreateGroupInput{GroupName: aws.String("g"),
			InsightsConfiguration: &types.InsightsConfiguration{NotificationsEnabled: aws.Bool(true)}}, "NotificationsEnabled requires InsightsEnabled"},
		{"aws: tag", xray.CreateGroupInput{GroupName: aws.String("g"), Tags: []types.Tag{{Key: aws.String("aws:x"), Value: aws.String("1")}}}, "prefix aws: is reserved"},
		{"long tag key", xray.CreateGroupInput{GroupName: aws.String("g"), Tags: []types.Tag{{Key: aws.String(strings.Repeat("k", 129)), Value: aws.String("1")}}}, "1 to 128 characters"},
	} {
		_, err := client.CreateGroup(ctx, &tc.in)
		wantAPIError(t, "CreateGroup "+tc.name, err, "InvalidRequestException", tc.msg)
	}

	// GetGroup by name and by ARN.
	for _, in := range []xray.GetGroupInput{{GroupName: aws.String("slow")}, {GroupARN: slow.GroupARN}} {
		g, err := client.GetGroup(ctx, &in)
		if err != nil {
			t.Fatalf("GetGroup(%+v): %v", in, err)
		}
		if aws.ToString(g.Group.GroupARN) != aws.ToString(slow.GroupARN) || aws.ToString(g.Group.FilterExpression) != "responsetime > 5" {
			t.Fatalf("GetGroup = %+v", g.Group)
		}
	}
	if g, err := client.GetGroup(ctx, &xray.GetGroupInput{GroupName: aws.String("Default")}); err != nil || g.Group.FilterExpression != nil {
		t.Fatalf("GetGroup(Default) = %+v, %v", g, err)
	}
	_, err = client.GetGroup(ctx, &xray.GetGroupInput{GroupName: aws.String("nope")})
	wantAPIError(t, "GetGroup(nope)", err, "InvalidRequestException", "group nope does not exist")
	_, err = client.GetGroup(ctx, &xray.GetGroupInput{})
	wantAPIError(t, "GetGroup()", err, "InvalidRequestException", "GroupName or GroupARN")
	_, err = client.GetGroup(ctx, &xray.GetGroupInput{GroupName: aws.String("slow"), GroupARN: errs.Group.GroupARN})
	wantAPIError(t, "GetGroup(name and another group's ARN)", err, "InvalidRequestException", "name different groups")

	// UpdateGroup: members left out keep their values.
	up, err := client.UpdateGroup(ctx, &xray.UpdateGroupInput{GroupARN: slow.GroupARN, FilterExpression: aws.String("responsetime > 3")})
	if err != nil {
		t.Fatalf("UpdateGroup: %v", err)
	}
	if aws.ToString(up.Group.FilterExpression) != "responsetime > 3" || !aws.ToBool(up.Group.InsightsConfiguration.NotificationsEnabled) ||
		aws.ToString(up.Group.GroupARN) != aws.ToString(slow.GroupARN) {
		t.Fatalf("updated %+v", up.Group)
	}
	_, err = client.UpdateGroup(ctx, &xray.UpdateGroupInput{GroupName: aws.String("slow"), FilterExpression: aws.String(`group.name = "slow_errors"`)})
	wantAPIError(t, "UpdateGroup making a cycle", err, "InvalidRequestException", "cycle")
	_, err = client.UpdateGroup(ctx, &xray.UpdateGroupInput{GroupName: aws.String("slow"), FilterExpression: aws.String(`responsetime >`)})
	wantAPIError(t, "UpdateGroup with a bad expression", err, "InvalidRequestException", "at position 14")
	_, err = client.UpdateGroup(ctx, &xray.UpdateGroupInput{GroupName: aws.String("Default"), FilterExpression: aws.String("fault")})
	wantAPIError(t, "UpdateGroup(Default, FilterExpression)", err, "InvalidRequestException", "Default group's FilterExpression cannot be set")
	_, err = client.UpdateGroup(ctx, &xray.UpdateGroupInput{GroupName: aws.String("gone"), FilterExpression: aws.String("fault")})
	wantAPIError(t, "UpdateGroup(gone)", err, "InvalidRequestException", "group gone does not exist")
	def, err := client.UpdateGroup(ctx, &xray.UpdateGroupInput{GroupName: aws.String("Default"),
		InsightsConfiguration: &types.InsightsConfiguration{InsightsEnabled: aws.Bool(true)}})
	if err != nil || !aws.ToBool(def.Group.InsightsConfiguration.InsightsEnabled) || aws.ToString(def.Group.GroupARN) != defaultGroupARN {
		t.Fatalf("UpdateGroup(Default insights) = %+v, %v", def, err)
	}

	// DeleteGroup.
	_, err = client.DeleteGroup(ctx, &xray.DeleteGroupInput{GroupName: aws.String("slow")})
	wantAPIError(t, "DeleteGroup of a referenced group", err, "InvalidRequestException", `used by the FilterExpression of group "slow_errors"`)
	_, err = client.DeleteGroup(ctx, &xray.DeleteGroupInput{GroupName: aws.String("Default")})
	wantAPIError(t, "DeleteGroup(Default)", err, "InvalidRequestException", "Default group cannot be deleted")
	if _, err := client.DeleteGroup(ctx, &xray.DeleteGroupInput{GroupARN: errs.Group.GroupARN}); err != nil {
		t.Fatalf("DeleteGroup by ARN: %v", err)
	}
	_, err = client.DeleteGroup(ctx, &xray.DeleteGroupInput{GroupName: aws.String("slow_errors")})
	wantAPIError(t, "DeleteGroup again", err, "InvalidRequestException", "does not exist")
	_, err = client.GetGroup(ctx, &xray.GetGroupInput{GroupARN: errs.Group.GroupARN})
	wantAPIError(t, "GetGroup of a deleted group", err, "InvalidRequestException", "does not exist")

	// Fill up to the limit, then page through them.
	var want []string
	for i := range MaxGroups - 1 {
		name := fmt.Sprintf("g%02d", i)
		if _, err := client.CreateGroup(ctx, &xray.CreateGroupInput{GroupName: aws.String(name), FilterExpression: aws.String(fmt.Sprintf("annotation.n = %d", i))}); err != nil {
			t.Fatalf("CreateGroup %s: %v", name, err)
		}
		want = append(want, name)
	}
	want = append([]string{"Default"}, append(want, "slow")...)
	_, err = client.CreateGroup(ctx, &xray.CreateGroupInput{GroupName: aws.String("one_more")})
	wantAPIError(t, "CreateGroup over the limit", err, "InvalidRequestException", "already 25 groups besides Default")

	list := func(client *xray.Client) ([]types.GroupSummary, int) {
		t.Helper()
		var all []types.GroupSummary
		pages := 0
		for p := xray.NewGetGroupsPaginator(client, &xray.GetGroupsInput{}); p.HasMorePages(); {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatalf("GetGroups page %d: %v", pages, err)
			}
			pages++
			all = append(all, page.Groups...)
		}
		return all, pages
	}
	names := func(gs []types.GroupSummary) []string {
		var out []string
		for _, g := range gs {
			out = append(out, aws.ToString(g.GroupName))
		}
		return out
	}
	before, pages := list(client)
	if !slices.Equal(names(before), want) || pages != 2 {
		t.Fatalf("GetGroups: %d pages %v\nwant 2 pages %v", pages, names(before), want)
	}
	_, err = client.GetGroups(ctx, &xray.GetGroupsInput{NextToken: aws.String("bogus")})
	wantAPIError(t, "GetGroups with a bad token", err, "InvalidRequestException", "not a token this server issued")

	// A restart (new store, new server over the same database) finds
	// everything as it was.
	_, client2 := groupsAPI(t, db)
	after, _ := list(client2)
	if describeGroups(after) != describeGroups(before) {
		t.Fatalf("after a restart GetGroups = %s\nwant %s", describeGroups(after), describeGroups(before))
	}
	g, err := client2.GetGroup(ctx, &xray.GetGroupInput{GroupName: aws.String("Default")})
	if err != nil || !aws.ToBool(g.Group.InsightsConfiguration.InsightsEnabled) {
		t.Fatalf("Default group's insights after a restart: %+v, %v", g, err)
	}
}

func describeGroups(gs []types.GroupSummary) string {
	var b strings.Builder
	for _, g := range gs {
		fmt.Fprintf(&b, "%s %s %q %v/%v\n", aws.ToString(g.GroupName), aws.ToString(g.GroupARN), aws.ToString(g.FilterExpression),
			aws.ToBool(g.InsightsConfiguration.InsightsEnabled), aws.ToBool(g.InsightsConfiguration.NotificationsEnabled))
	}
	return b.String()
}

// TestGroupFilters: group.name / group.arn in GetTraceSummaries select what
// the group's own expression selects.
func TestGroupFilters(t *testing.T) {
	t.Parallel()
	db := chtest.New(t)
	store, client := groupsAPI(t, db)
	// Six traces in one hour: users alice (odd) and bob (even), a fault
	// in every third.
	const epoch = 0x6553f000
	var bodies [][]byte
	for i := 1; i <= 6; i++ {
		id := fmt.Sprintf("1-%08x-%024x", epoch+60*i, i)
		st := float64(epoch + 60*i)
		status, user := 200, "alice"
		if i%3 == 0 {
			status = 503
		}
		if i%2 == 0 {
			user = "bob"
		}
		bodies = append(bodies, fmt.Appendf(nil, `{"trace_id":%q,"id":"%016x","name":"shop","start_time":%v,"end_time":%v,"user":%q,"http":{"request":{"method":"GET","url":"http://shop/%d"},"response":{"status":%d}},"annotations":{"n":%d}}`,
			id, 0xabc0+i, st, st+0.5, user, i, status, i))
	}
	write(t, store, 1e9, bodies...)
	ctx := context.Background()
	g, err := client.CreateGroup(ctx, &xray.CreateGroupInput{GroupName: aws.String("alice"), FilterExpression: aws.String(`user = "alice"`)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.CreateGroup(ctx, &xray.CreateGroupInput{GroupName: aws.String("nested"), FilterExpression: aws.String(`group.name = "alice" OR fault`)}); err != nil {
		t.Fatal(err)
	}
	ids := func(expr string) []string {
		t.Helper()
		var out []string
		p := xray.NewGetTraceSummariesPaginator(client, &xray.GetTraceSummariesInput{
			StartTime: aws.Time(time.Unix(epoch, 0)), EndTime: aws.Time(time.Unix(epoch+3600, 0)), FilterExpression: aws.String(expr)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatalf("GetTraceSummaries(%s): %v", expr, err)
			}
			for _, s := range page.TraceSummaries {
				out = append(out, aws.ToString(s.Id))
			}
		}
		slices.Sort(out)
		return out
	}
	all := ids("")
	if len(all) != 6 {
		t.Fatalf("traces %v, want 6", all)
	}
	for _, tc := range []struct{ group, direct string }{
		{`group.name = "alice"`, `user = "alice"`},
		{fmt.Sprintf(`group.arn = %q`, aws.ToString(g.Group.GroupARN)), `user = "alice"`},
		{`group.name != "alice"`, `!(user = "alice")`},
		{`group.name = "nested"`, `user = "alice" OR fault`},
		{`group.name = "Default"`, ``},
		{`group.name = "Default" AND fault`, `fault`},
	} {
		got, want := ids(tc.group), ids(tc.direct)
		if !slices.Equal(got, want) {
			t.Errorf("%s selects %v; %q selects %v", tc.group, got, tc.direct, want)
		}
	}
	if got := ids(`group.name = "nested"`); len(got) != 4 {
		t.Errorf(`group.name = "nested" selects %v, want traces 1, 3, 5 (alice) and 6 (fault)`, got)
	}
	_, err = client.GetTraceSummaries(ctx, &xray.GetTraceSummariesInput{StartTime: aws.Time(time.Unix(epoch, 0)), EndTime: aws.Time(time.Unix(epoch+60, 0)),
		FilterExpression: aws.String(`group.arn = "arn:aws:xray:us-east-1:000000000000:group/alice/NOPE"`)})
	wantAPIError(t, "group.arn of no group", err, "InvalidRequestException", `group "arn:aws:xray:us-east-1:000000000000:group/alice/NOPE" does not exist`)
}

// memGroups is an in-memory GroupStore.
type memGroups struct {
	mu sync.Mutex
	m  map[string]chstore.Group
}

func (m *memGroups) Groups(context.Context) ([]chstore.Group, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []chstore.Group
	for _, g := range m.m {
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b chstore.Group) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (m *memGroups) Group(_ context.Context, key string) (chstore.Group, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, g := range m.m {
		if g.Name == key || g.ARN == key {
			return g, nil
		}
	}
	return chstore.Group{}, chstore.ErrNotFound
}

func (m *memGroups) PutGroup(_ context.Context, g chstore.Group) (chstore.Group, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	g.ModifiedAt = time.Now()
	m.m[g.Name] = g
	return g, nil
}

func (m *memGroups) DeleteGroup(_ context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.m, name)
	return nil
}

// FuzzGroupAndInsightRequests feeds arbitrary bodies to the group and
// insight operations: never a panic, never a 500, and every rejection in
// X-Ray's error shape.
func FuzzGroupAndInsightRequests(f *testing.F) {
	paths := []string{"/CreateGroup", "/GetGroup", "/Groups", "/UpdateGroup", "/DeleteGroup",
		"/InsightSummaries", "/Insight", "/InsightEvents", "/InsightImpactGraph"}
	for i, seed := range []string{
		``, `{}`, `[]`, `null`,
		`{"GroupName":"g","FilterExpression":"fault OR responsetime > 2","InsightsConfiguration":{"InsightsEnabled":true},"Tags":[{"Key":"k","Value":"v"}]}`,
		`{"GroupName":"g","FilterExpression":"group.name = \"g\""}`,
		`{"GroupARN":"arn:aws:xray:us-east-1:000000000000:group/Default"}`,
		`{"NextToken":"eyJ2IjoxLCJhIjoiZyJ9"}`,
		`{"StartTime":1700000000,"EndTime":1700003600,"GroupName":"Default","States":["ACTIVE"],"MaxResults":5}`,
		`{"InsightId":"abc-123","StartTime":1700000000,"EndTime":1700003600}`,
	} {
		f.Add(uint8(i), []byte(seed))
	}
	s, err := New(DefaultConfig(), Settings{Reader: newFakeReader(), Groups: &memGroups{m: map[string]chstore.Group{}}})
	if err != nil {
		f.Fatal(err)
	}
	h := s.Handler()
	f.Fuzz(func(t *testing.T, op uint8, body []byte) {
		path := paths[int(op)%len(paths)]
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", path, bytes.NewReader(body)))
		switch {
		case rec.Code == 200:
		case rec.Code >= 500:
			t.Fatalf("%s %q: %d %s", path, body, rec.Code, rec.Body)
		case rec.Header().Get("X-Amzn-ErrorType") == "" || !strings.Contains(rec.Body.String(), `"Message":`):
			t.Fatalf("%s %q: %d without the X-Ray error shape: %s", path, body, rec.Code, rec.Body)
		}
	})
}
