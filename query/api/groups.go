package api

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/fluoro/fluoro/query/filter"
	"github.com/fluoro/fluoro/schema/chstore"
)

// GroupStore keeps X-Ray groups; *chstore.Store satisfies it.
type GroupStore interface {
	// Groups returns every stored group, sorted by name.
	Groups(ctx context.Context) ([]chstore.Group, error)
	// Group returns the group with that name or ARN, or an error wrapping
	// chstore.ErrNotFound.
	Group(ctx context.Context, nameOrARN string) (chstore.Group, error)
	// PutGroup stores a new version of a group and returns it with its
	// times set.
	PutGroup(ctx context.Context, g chstore.Group) (chstore.Group, error)
	// DeleteGroup removes the group with that name.
	DeleteGroup(ctx context.Context, name string) error
}

// Group rules (xray.md §4.10). The region and account appear in ARNs.
const (
	defaultGroupName = "Default"
	arnRegion        = "us-east-1"
	arnAccount       = "000000000000"
	maxGroupName     = 32
	maxGroupARN      = 400
	// MaxGroups is how many groups besides Default may exist (X-Ray's
	// quota).
	MaxGroups = 25
	// groupsPageSize is how many groups one GetGroups page holds.
	groupsPageSize = 25
	maxGroupTags   = 50
	maxNextToken   = 100
)

// defaultGroupARN is the ARN of the Default group (no unique id: it always
// exists).
var defaultGroupARN = fmt.Sprintf("arn:aws:xray:%s:%s:group/%s", arnRegion, arnAccount, defaultGroupName)

// errNoSuchGroup is wrapped by lookups of a group that does not exist.
var errNoSuchGroup = errors.New("no such group")

// insightsConfiguration is X-Ray's InsightsConfiguration.
type insightsConfiguration struct {
	InsightsEnabled      bool `json:"InsightsEnabled"`
	NotificationsEnabled bool `json:"NotificationsEnabled"`
}

// groupJSON is X-Ray's Group (and GroupSummary: the same members).
type groupJSON struct {
	GroupName             string                `json:"GroupName"`
	GroupARN              string                `json:"GroupARN"`
	FilterExpression      *string               `json:"FilterExpression,omitempty"`
	InsightsConfiguration insightsConfiguration `json:"InsightsConfiguration"`
}

func groupOut(g chstore.Group) groupJSON {
	out := groupJSON{GroupName: g.Name, GroupARN: g.ARN, InsightsConfiguration: insightsConfiguration{
		InsightsEnabled: g.InsightsEnabled, NotificationsEnabled: g.NotificationsEnabled}}
	if g.FilterExpression != "" {
		out.FilterExpression = &g.FilterExpression
	}
	return out
}

type insightsConfigurationIn struct {
	InsightsEnabled      *bool
	NotificationsEnabled *bool
}

type tagIn struct {
	Key   *string
	Value *string
}

// groupRef is how a request names a group: GroupName or GroupARN.
type groupRef struct {
	GroupName *string
	GroupARN  *string
}

type createGroupInput struct {
	GroupName             *string
	FilterExpression      *string
	InsightsConfiguration *insightsConfigurationIn
	Tags                  []tagIn
}

type updateGroupInput struct {
	groupRef
	FilterExpression      *string
	InsightsConfiguration *insightsConfigurationIn
}

type groupOutput struct {
	Group groupJSON `json:"Group"`
}

// checkGroupName validates a new group's name: 1-32 letters, digits, '-'
// or '_' (it is part of the ARN and of group.name filters).
func checkGroupName(name string) error {
	if n := utf8.RuneCountInString(name); n < 1 || n > maxGroupName {
		return invalidRequest("GroupName %q must be 1 to %d characters long", name, maxGroupName)
	}
	if i := strings.IndexFunc(name, func(r rune) bool {
		return !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}); i >= 0 {
		return invalidRequest("GroupName %q has the character %q; use letters, digits, '-' and '_'", name, name[i:i+1])
	}
	if name == defaultGroupName {
		return invalidRequest("GroupName Default is reserved: the Default group always exists and holds every trace")
	}
	return nil
}

// checkInsights applies an InsightsConfiguration onto g.
func checkInsights(in *insightsConfigurationIn, g *chstore.Group) error {
	if in == nil {
		return nil
	}
	if in.InsightsEnabled != nil {
		g.InsightsEnabled = *in.InsightsEnabled
	}
	if in.NotificationsEnabled != nil {
		g.NotificationsEnabled = *in.NotificationsEnabled
	}
	if g.NotificationsEnabled && !g.InsightsEnabled {
		return invalidRequest("InsightsConfiguration: NotificationsEnabled requires InsightsEnabled")
	}
	return nil
}

// checkGroupTags validates tags as X-Ray does.
func checkGroupTags(in []tagIn) ([]chstore.Tag, error) {
	if len(in) > maxGroupTags {
		return nil, invalidRequest("Tags has %d tags; at most %d are allowed", len(in), maxGroupTags)
	}
	out := make([]chstore.Tag, 0, len(in))
	seen := map[string]bool{}
	for i, t := range in {
		if t.Key == nil || t.Value == nil {
			return nil, invalidRequest("Tags[%d] needs a Key and a Value", i)
		}
		k, v := *t.Key, *t.Value
		if n := utf8.RuneCountInString(k); n < 1 || n > 128 {
			return nil, invalidRequest("tag key %q must be 1 to 128 characters long", k)
		}
		if utf8.RuneCountInString(v) > 256 {
			return nil, invalidRequest("tag %q: value is longer than 256 characters", k)
		}
		if strings.HasPrefix(strings.ToLower(k), "aws:") {
			return nil, invalidRequest("tag key %q: the prefix aws: is reserved", k)
		}
		for _, s := range []string{k, v} {
			if i := strings.IndexFunc(s, func(r rune) bool {
				return !(strings.ContainsRune(" _.:/=+-@", r) || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' ||
					r > 0x7f && r != utf8.RuneError)
			}); i >= 0 {
				return nil, invalidRequest("tag %q: %q has the character %q; allowed are letters, digits, space and _ . : / = + - @", k, s, s[i:i+1])
			}
		}
		if seen[k] {
			return nil, invalidRequest("tag key %q appears twice", k)
		}
		seen[k] = true
		out = append(out, chstore.Tag{Key: k, Value: v})
	}
	return out, nil
}

// newGroupARN returns arn:aws:xray:<region>:<account>:group/<name>/<id>
// with a random 24-character id, so a group re-created under the same
// name gets a new ARN.
func newGroupARN(name string) string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("arn:aws:xray:%s:%s:group/%s/%s", arnRegion, arnAccount, name, base32.StdEncoding.EncodeToString(b[:]))
}

// defaultGroup returns the Default group: no filter (every trace), its
// insights settings as stored (UpdateGroup may change them).
func (s *Server) defaultGroup(ctx context.Context) (chstore.Group, error) {
	g := chstore.Group{Name: defaultGroupName}
	if s.groups != nil {
		stored, err := s.groups.Group(ctx, defaultGroupName)
		switch {
		case err == nil:
			g = stored
		case !errors.Is(err, chstore.ErrNotFound):
			return chstore.Group{}, &storeError{fmt.Errorf("read the Default group: %w", err)}
		}
	}
	g.ARN, g.FilterExpression = defaultGroupARN, ""
	return g, nil
}

// lookupGroup returns the group named by name or ARN (exactly one set),
// the Default group included, or errNoSuchGroup.
func (s *Server) lookupGroup(ctx context.Context, name, arn string) (chstore.Group, error) {
	if name == defaultGroupName || arn == defaultGroupARN {
		return s.defaultGroup(ctx)
	}
	key := name
	if key == "" {
		key = arn
	}
	if s.groups == nil {
		return chstore.Group{}, errNoSuchGroup
	}
	g, err := s.groups.Group(ctx, key)
	if errors.Is(err, chstore.ErrNotFound) || (err == nil && name == "" && g.ARN != arn) || (err == nil && name != "" && g.Name != name) {
		return chstore.Group{}, errNoSuchGroup
	}
	if err != nil {
		return chstore.Group{}, &storeError{fmt.Errorf("read group %q: %w", key, err)}
	}
	return g, nil
}

// storeError marks a failure of the group storage (an internal error, not
// the request's fault).
type storeError struct{ err error }

func (e *storeError) Error() string { return e.err.Error() }
func (e *storeError) Unwrap() error { return e.err }

// resolveGroup validates a request's GroupName/GroupARN pair and returns
// that group (the Default group when both are absent and dflt is set).
// Operations that take a group (GetServiceGraph,
// GetTimeSeriesServiceStatistics, GetInsightSummaries) use it; the
// group's FilterExpression ("" for Default: every trace) selects traces.
func (s *Server) resolveGroup(ctx context.Context, name, arn *string, dflt bool) (chstore.Group, error) {
	switch {
	case name == nil && arn == nil:
		if dflt {
			return s.defaultGroup(ctx)
		}
		return chstore.Group{}, invalidRequest("name the group with GroupName or GroupARN")
	case name != nil && (*name == "" || utf8.RuneCountInString(*name) > maxGroupName):
		return chstore.Group{}, invalidRequest("GroupName %q must be 1 to %d characters long", *name, maxGroupName)
	case arn != nil && (*arn == "" || len(*arn) > maxGroupARN):
		return chstore.Group{}, invalidRequest("GroupARN must be 1 to %d characters long", maxGroupARN)
	}
	var n, a string
	if name != nil {
		n = *name
	}
	if arn != nil {
		a = *arn
	}
	g, err := s.lookupGroup(ctx, n, a)
	if errors.Is(err, errNoSuchGroup) {
		return chstore.Group{}, invalidRequest("group %s does not exist; GetGroups lists the groups", strings.TrimSpace(n+" "+a))
	}
	if err != nil {
		return chstore.Group{}, err
	}
	if n != "" && a != "" && g.ARN != a {
		return chstore.Group{}, invalidRequest("GroupName %q and GroupARN %q name different groups; give one of them", n, a)
	}
	return g, nil
}

// groupLookup returns the function filter.ResolveGroups needs:
// group.name / group.arn → that group's filter expression. override, when
// its Name is set, stands for the group being written (its new expression).
func (s *Server) groupLookup(ctx context.Context, override chstore.Group) func(filter.GroupRef) (string, error) {
	return func(ref filter.GroupRef) (string, error) {
		if override.Name != "" && ((ref.Name != "" && ref.Name == override.Name) || (ref.ARN != "" && ref.ARN == override.ARN)) {
			return override.FilterExpression, nil
		}
		g, err := s.lookupGroup(ctx, ref.Name, ref.ARN)
		if err != nil {
			return "", err
		}
		return g.FilterExpression, nil
	}
}

// filterError turns an error of filter.Parse or ResolveGroups into the
// API's error: InvalidRequestException for what the user can fix.
func filterError(member, expr string, err error) error {
	var se *filter.SyntaxError
	switch {
	case errors.As(err, &se) && strings.HasPrefix(err.Error(), "filter expression of group"):
		return invalidRequest("%s: %v", member, err)
	case errors.As(err, &se):
		return invalidRequest("%s: %s at position %d: %s", member, se.Msg, se.Pos, pointAt(expr, se.Pos))
	case errors.Is(err, errNoSuchGroup):
		return invalidRequest("%s: %v; GetGroups lists the groups", member, unwrapNoSuch(err))
	}
	var se2 *storeError
	if errors.As(err, &se2) {
		return fmt.Errorf("%s: %w", member, err)
	}
	// Group cycles, nesting too deep, anything else the parser rejects.
	return invalidRequest("%s: %v", member, err)
}

// unwrapNoSuch phrases a missing-group error of ResolveGroups
// (`group "x": no such group`) for people.
func unwrapNoSuch(err error) string {
	return strings.ReplaceAll(err.Error(), ": "+errNoSuchGroup.Error(), " does not exist")
}

// checkGroupFilter validates a group's filter expression on write: it
// must parse, its group references must resolve without cycles (g stands
// for itself with its new expression) and it must translate to SQL.
func (s *Server) checkGroupFilter(ctx context.Context, g chstore.Group) error {
	expr := g.FilterExpression
	if n := len(expr); n > maxFilterLen {
		return invalidRequest("FilterExpression is %d characters long; at most %d are allowed", n, maxFilterLen)
	}
	if strings.TrimSpace(expr) == "" {
		return invalidRequest("FilterExpression must not be blank; leave it out for a group of every trace")
	}
	e, err := filter.Parse(expr)
	if err != nil {
		return filterError("FilterExpression", expr, err)
	}
	if len(e.Groups()) > 0 {
		if e, err = e.ResolveGroups(s.groupLookup(ctx, g)); err != nil {
			return filterError("FilterExpression", expr, err)
		}
	}
	if _, _, err := e.SQL(); err != nil {
		return invalidRequest("FilterExpression %q is not supported: %v", expr, err)
	}
	return nil
}

func (s *Server) requireGroupStore() error {
	if s.groups == nil {
		return &Error{Status: 501, Code: codeNotImplemented,
			Message: "this Fluoro server has no group storage (Settings.Groups); only the Default group exists"}
	}
	return nil
}

func (s *Server) handleCreateGroup(c echo.Context) error {
	var in createGroupInput
	if err := decodeBody(c, &in); err != nil {
		return err
	}
	if err := s.requireGroupStore(); err != nil {
		return err
	}
	ctx := c.Request().Context()
	if in.GroupName == nil {
		return invalidRequest("GroupName is required (1 to %d letters, digits, '-' or '_')", maxGroupName)
	}
	g := chstore.Group{Name: *in.GroupName}
	if err := checkGroupName(g.Name); err != nil {
		return err
	}
	if err := checkInsights(in.InsightsConfiguration, &g); err != nil {
		return err
	}
	var err error
	if g.Tags, err = checkGroupTags(in.Tags); err != nil {
		return err
	}
	g.ARN = newGroupARN(g.Name)
	if in.FilterExpression != nil {
		g.FilterExpression = *in.FilterExpression
		if err := s.checkGroupFilter(ctx, g); err != nil {
			return err
		}
	}
	s.groupsMu.Lock()
	defer s.groupsMu.Unlock()
	existing, err := s.groups.Groups(ctx)
	if err != nil {
		return fmt.Errorf("list groups: %w", err)
	}
	n := 0
	for _, e := range existing {
		if e.Name == g.Name {
			return invalidRequest("a group named %q already exists; change it with UpdateGroup or pick another name", g.Name)
		}
		if e.Name != defaultGroupName {
			n++
		}
	}
	if n >= MaxGroups {
		return invalidRequest("there are already %d groups besides Default, the most allowed; delete one first", n)
	}
	if g, err = s.groups.PutGroup(ctx, g); err != nil {
		return fmt.Errorf("create group: %w", err)
	}
	return writeJSON(c, groupOutput{groupOut(g)})
}

func (s *Server) handleGetGroup(c echo.Context) error {
	var in groupRef
	if err := decodeBody(c, &in); err != nil {
		return err
	}
	g, err := s.resolveGroup(c.Request().Context(), in.GroupName, in.GroupARN, false)
	if err != nil {
		return err
	}
	return writeJSON(c, groupOutput{groupOut(g)})
}

func (s *Server) handleUpdateGroup(c echo.Context) error {
	var in updateGroupInput
	if err := decodeBody(c, &in); err != nil {
		return err
	}
	if err := s.requireGroupStore(); err != nil {
		return err
	}
	ctx := c.Request().Context()
	s.groupsMu.Lock()
	defer s.groupsMu.Unlock()
	g, err := s.resolveGroup(ctx, in.GroupName, in.GroupARN, false)
	if err != nil {
		return err
	}
	if err := checkInsights(in.InsightsConfiguration, &g); err != nil {
		return err
	}
	if in.FilterExpression != nil {
		if g.Name == defaultGroupName {
			return invalidRequest("the Default group's FilterExpression cannot be set: it holds every trace; create a group instead")
		}
		g.FilterExpression = *in.FilterExpression
		if err := s.checkGroupFilter(ctx, g); err != nil {
			return err
		}
	}
	if g, err = s.groups.PutGroup(ctx, g); err != nil {
		return fmt.Errorf("update group: %w", err)
	}
	if g.Name == defaultGroupName {
		g.ARN = defaultGroupARN
	}
	return writeJSON(c, groupOutput{groupOut(g)})
}

func (s *Server) handleDeleteGroup(c echo.Context) error {
	var in groupRef
	if err := decodeBody(c, &in); err != nil {
		return err
	}
	if err := s.requireGroupStore(); err != nil {
		return err
	}
	ctx := c.Request().Context()
	s.groupsMu.Lock()
	defer s.groupsMu.Unlock()
	g, err := s.resolveGroup(ctx, in.GroupName, in.GroupARN, false)
	if err != nil {
		return err
	}
	if g.Name == defaultGroupName {
		return invalidRequest("the Default group cannot be deleted")
	}
	// A group other groups' expressions reference cannot go: their
	// expressions would no longer resolve.
	all, err := s.groups.Groups(ctx)
	if err != nil {
		return fmt.Errorf("list groups: %w", err)
	}
	for _, o := range all {
		if o.Name == g.Name || o.FilterExpression == "" {
			continue
		}
		e, err := filter.Parse(o.FilterExpression)
		if err != nil {
			continue
		}
		for _, ref := range e.Groups() {
			if ref.Name == g.Name || ref.ARN == g.ARN {
				return invalidRequest("group %q is used by the FilterExpression of group %q; change that group first", g.Name, o.Name)
			}
		}
	}
	if err := s.groups.DeleteGroup(ctx, g.Name); err != nil {
		return fmt.Errorf("delete group: %w", err)
	}
	return writeJSON(c, struct{}{})
}

type getGroupsInput struct {
	NextToken *string
}

type getGroupsOutput struct {
	Groups    []groupJSON `json:"Groups"`
	NextToken *string     `json:"NextToken,omitempty"`
}

// groupsToken is a GetGroups NextToken: the name of the last group of the
// previous page.
type groupsToken struct {
	V     int    `json:"v"`
	After string `json:"a"`
}

// handleGetGroups lists the groups: Default first, then by name.
func (s *Server) handleGetGroups(c echo.Context) error {
	var in getGroupsInput
	if err := decodeBody(c, &in); err != nil {
		return err
	}
	ctx := c.Request().Context()
	var after *string
	if in.NextToken != nil {
		tok := *in.NextToken
		bad := invalidRequest("NextToken %q is not a token this server issued; repeat the request without NextToken to start from the first page", truncate(tok, 40))
		if len(tok) < 1 || len(tok) > maxNextToken {
			return bad
		}
		b, err := base64.RawURLEncoding.DecodeString(tok)
		var t groupsToken
		if err != nil || json.Unmarshal(b, &t) != nil || t.V != 1 {
			return bad
		}
		after = &t.After
	}
	def, err := s.defaultGroup(ctx)
	if err != nil {
		return err
	}
	all := []chstore.Group{def}
	if s.groups != nil {
		stored, err := s.groups.Groups(ctx)
		if err != nil {
			return fmt.Errorf("list groups: %w", err)
		}
		for _, g := range stored {
			if g.Name != defaultGroupName {
				all = append(all, g)
			}
		}
	}
	out := getGroupsOutput{Groups: []groupJSON{}}
	started := after == nil
	for _, g := range all {
		if !started {
			// Default sorts before every name; the rest are by name.
			started = g.Name != defaultGroupName && (*after == defaultGroupName || g.Name > *after)
			if !started {
				continue
			}
		}
		if len(out.Groups) == groupsPageSize {
			b, _ := json.Marshal(groupsToken{V: 1, After: out.Groups[len(out.Groups)-1].GroupName})
			tok := base64.RawURLEncoding.EncodeToString(b)
			out.NextToken = &tok
			break
		}
		out.Groups = append(out.Groups, groupOut(g))
	}
	return writeJSON(c, out)
}
