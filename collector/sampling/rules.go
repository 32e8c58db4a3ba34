package sampling

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// epoch marshals a time as JSON epoch seconds (fractional; 0 for the zero
// time, as X-Ray reports the Default rule's CreatedAt).
type epoch time.Time

func (e epoch) MarshalJSON() ([]byte, error) {
	t := time.Time(e)
	if t.IsZero() {
		return []byte("0"), nil
	}
	return fmt.Appendf(nil, "%.6f", float64(t.UnixMicro())/1e6), nil
}

// ruleOut is a SamplingRule on the wire.
type ruleOut struct {
	RuleName          string            `json:"RuleName"`
	RuleARN           string            `json:"RuleARN"`
	ResourceARN       string            `json:"ResourceARN"`
	Priority          int               `json:"Priority"`
	FixedRate         float64           `json:"FixedRate"`
	ReservoirSize     int               `json:"ReservoirSize"`
	ServiceName       string            `json:"ServiceName"`
	ServiceType       string            `json:"ServiceType"`
	Host              string            `json:"Host"`
	HTTPMethod        string            `json:"HTTPMethod"`
	URLPath           string            `json:"URLPath"`
	Version           int               `json:"Version"`
	Attributes        map[string]string `json:"Attributes"`
	SamplingRateBoost *boostJSON        `json:"SamplingRateBoost,omitempty"`
}

type boostJSON struct {
	MaxRate               *float64 `json:"MaxRate"`
	CooldownWindowMinutes *int64   `json:"CooldownWindowMinutes"`
}

// recordOut is a SamplingRuleRecord on the wire.
type recordOut struct {
	SamplingRule ruleOut `json:"SamplingRule"`
	CreatedAt    epoch   `json:"CreatedAt"`
	ModifiedAt   epoch   `json:"ModifiedAt"`
}

func toWire(r RuleRecord) recordOut {
	ru := r.Rule
	out := ruleOut{
		RuleName: ru.RuleName, RuleARN: ru.RuleARN, ResourceARN: ru.ResourceARN, Priority: ru.Priority,
		FixedRate: ru.FixedRate, ReservoirSize: ru.ReservoirSize, ServiceName: ru.ServiceName,
		ServiceType: ru.ServiceType, Host: ru.Host, HTTPMethod: ru.HTTPMethod, URLPath: ru.URLPath,
		Version: ru.Version, Attributes: ru.Attributes,
	}
	if out.Attributes == nil {
		out.Attributes = map[string]string{}
	}
	if b := ru.Boost; b != nil {
		cd := int64(b.CooldownWindowMinutes)
		out.SamplingRateBoost = &boostJSON{MaxRate: &b.MaxRate, CooldownWindowMinutes: &cd}
	}
	return recordOut{SamplingRule: out, CreatedAt: epoch(r.CreatedAt), ModifiedAt: epoch(r.ModifiedAt)}
}

// ruleIn is a SamplingRule or SamplingRuleUpdate as received. Numbers are
// float64 so that out-of-range values get a clear message rather than a
// JSON type error.
type ruleIn struct {
	RuleName          *string
	RuleARN           *string
	ResourceARN       *string
	Priority          *float64
	FixedRate         *float64
	ReservoirSize     *float64
	ServiceName       *string
	ServiceType       *string
	Host              *string
	HTTPMethod        *string
	URLPath           *string
	Version           *float64
	Attributes        map[string]string
	SamplingRateBoost *boostJSON
}

type tagJSON struct {
	Key   *string
	Value *string
}

// Limits of the model (xray.md §4.9).
const (
	maxRuleName   = 32
	maxResource   = 500
	maxService    = 64
	maxHost       = 64
	maxMethod     = 10
	maxURLPath    = 128
	maxAttributes = 5
	maxAttrLen    = 32
	maxPriority   = 9999
	maxTags       = 50
)

// checkName validates a rule name.
func checkName(member, name string) error {
	n := utf8.RuneCountInString(name)
	switch {
	case n < 1 || n > maxRuleName:
		return invalid("%s %q must be 1 to %d characters long", member, name, maxRuleName)
	case strings.ContainsAny(name, "/"):
		return invalid("%s %q must not contain '/' (it is part of the rule's ARN)", member, name)
	case strings.IndexFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0:
		return invalid("%s %q must not contain control characters", member, name)
	}
	return nil
}

func checkLen(member string, v *string, limit int) error {
	if v != nil && utf8.RuneCountInString(*v) > limit {
		return invalid("%s is %d characters long; at most %d are allowed", member, utf8.RuneCountInString(*v), limit)
	}
	return nil
}

func checkInt(member string, v *float64, lo, hi float64) (int, error) {
	if v == nil {
		return 0, nil
	}
	if *v != math.Trunc(*v) || *v < lo || *v > hi {
		return 0, invalid("%s %v must be a whole number from %v to %v", member, *v, lo, hi)
	}
	return int(*v), nil
}

// apply checks the members in set and copies them onto r. required names
// the members that must be present (CreateSamplingRule).
func (in *ruleIn) apply(r *Rule, required bool) error {
	const p = "SamplingRule."
	if required {
		var missing []string
		for _, m := range []struct {
			name    string
			present bool
		}{
			{"ResourceARN", in.ResourceARN != nil}, {"Priority", in.Priority != nil}, {"FixedRate", in.FixedRate != nil},
			{"ReservoirSize", in.ReservoirSize != nil}, {"ServiceName", in.ServiceName != nil}, {"ServiceType", in.ServiceType != nil},
			{"Host", in.Host != nil}, {"HTTPMethod", in.HTTPMethod != nil}, {"URLPath", in.URLPath != nil}, {"Version", in.Version != nil},
		} {
			if !m.present {
				missing = append(missing, m.name)
			}
		}
		if len(missing) > 0 {
			return invalid("SamplingRule is missing the required member(s) %s; use \"*\" to match anything", strings.Join(missing, ", "))
		}
	}
	for _, c := range []struct {
		member string
		v      *string
		limit  int
		dst    *string
	}{
		{"ResourceARN", in.ResourceARN, maxResource, &r.ResourceARN},
		{"ServiceName", in.ServiceName, maxService, &r.ServiceName},
		{"ServiceType", in.ServiceType, maxService, &r.ServiceType},
		{"Host", in.Host, maxHost, &r.Host},
		{"HTTPMethod", in.HTTPMethod, maxMethod, &r.HTTPMethod},
		{"URLPath", in.URLPath, maxURLPath, &r.URLPath},
	} {
		if err := checkLen(p+c.member, c.v, c.limit); err != nil {
			return err
		}
		if c.v != nil {
			*c.dst = *c.v
		}
	}
	if in.ResourceARN != nil && *in.ResourceARN == "" {
		return invalid("%sResourceARN must not be empty; \"*\" matches every resource", p)
	}
	if in.Priority != nil {
		v, err := checkInt(p+"Priority", in.Priority, 1, maxPriority)
		if err != nil {
			return err
		}
		r.Priority = v
	}
	if in.FixedRate != nil {
		if f := *in.FixedRate; math.IsNaN(f) || f < 0 || f > 1 {
			return invalid("%sFixedRate %v must be between 0 and 1 (e.g. 0.05 samples 5 %% of requests)", p, f)
		}
		r.FixedRate = *in.FixedRate
	}
	if in.ReservoirSize != nil {
		v, err := checkInt(p+"ReservoirSize", in.ReservoirSize, 0, math.MaxInt32)
		if err != nil {
			return err
		}
		r.ReservoirSize = v
	}
	if in.Version != nil {
		v, err := checkInt(p+"Version", in.Version, 1, math.MaxInt32)
		if err != nil {
			return err
		}
		r.Version = v
	}
	if in.Attributes != nil {
		if len(in.Attributes) > maxAttributes {
			return invalid("%sAttributes has %d entries; at most %d are allowed", p, len(in.Attributes), maxAttributes)
		}
		for k, v := range in.Attributes {
			if n := utf8.RuneCountInString(k); n < 1 || n > maxAttrLen {
				return invalid("%sAttributes key %q must be 1 to %d characters long", p, k, maxAttrLen)
			}
			if n := utf8.RuneCountInString(v); n < 1 || n > maxAttrLen {
				return invalid("%sAttributes[%q] value %q must be 1 to %d characters long", p, k, v, maxAttrLen)
			}
		}
		r.Attributes = in.Attributes
	}
	if b := in.SamplingRateBoost; b != nil {
		if b.MaxRate == nil || b.CooldownWindowMinutes == nil {
			return invalid("%sSamplingRateBoost needs MaxRate and CooldownWindowMinutes", p)
		}
		if f := *b.MaxRate; math.IsNaN(f) || f < 0 || f > 1 {
			return invalid("%sSamplingRateBoost.MaxRate %v must be between 0 and 1", p, f)
		}
		if c := *b.CooldownWindowMinutes; c < 1 || c > math.MaxInt32 {
			return invalid("%sSamplingRateBoost.CooldownWindowMinutes %d must be at least 1", p, c)
		}
		r.Boost = &Boost{MaxRate: *b.MaxRate, CooldownWindowMinutes: int(*b.CooldownWindowMinutes)}
	}
	return nil
}

// checkTags validates resource tags as X-Ray does.
func checkTags(in []tagJSON) ([]Tag, error) {
	if len(in) > maxTags {
		return nil, invalid("Tags has %d tags; at most %d are allowed", len(in), maxTags)
	}
	out := make([]Tag, 0, len(in))
	seen := map[string]bool{}
	for i, t := range in {
		if t.Key == nil || t.Value == nil {
			return nil, invalid("Tags[%d] needs a Key and a Value", i)
		}
		k, v := *t.Key, *t.Value
		if n := utf8.RuneCountInString(k); n < 1 || n > 128 {
			return nil, invalid("tag key %q must be 1 to 128 characters long", k)
		}
		if utf8.RuneCountInString(v) > 256 {
			return nil, invalid("tag %q: value is longer than 256 characters", k)
		}
		if strings.HasPrefix(strings.ToLower(k), "aws:") {
			return nil, invalid("tag key %q: the prefix aws: is reserved", k)
		}
		for _, s := range []string{k, v} {
			if i := strings.IndexFunc(s, func(r rune) bool {
				return !(r == ' ' || r == '_' || r == '.' || r == ':' || r == '/' || r == '=' || r == '+' || r == '-' || r == '@' ||
					r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r > 0x7f && r != utf8.RuneError)
			}); i >= 0 {
				return nil, invalid("tag %q: %q has the character %q; allowed are letters, digits, space and _ . : / = + - @", k, s, s[i:i+1])
			}
		}
		if seen[k] {
			return nil, invalid("tag key %q appears twice", k)
		}
		seen[k] = true
		out = append(out, Tag{Key: k, Value: v})
	}
	return out, nil
}

type createInput struct {
	SamplingRule *ruleIn
	Tags         []tagJSON
}

type recordOutput struct {
	SamplingRuleRecord recordOut `json:"SamplingRuleRecord"`
}

// CreateRule validates and stores a new rule (CreateSamplingRule).
func (s *Service) create(ctx context.Context, in *createInput) (recordOutput, error) {
	if in.SamplingRule == nil {
		return recordOutput{}, invalid("SamplingRule is required")
	}
	if in.SamplingRule.RuleName == nil {
		return recordOutput{}, invalid("SamplingRule.RuleName is required (1 to %d characters)", maxRuleName)
	}
	name := *in.SamplingRule.RuleName
	if err := checkName("SamplingRule.RuleName", name); err != nil {
		return recordOutput{}, err
	}
	if name == DefaultRuleName {
		return recordOutput{}, invalid("the Default rule always exists; change its FixedRate and ReservoirSize with UpdateSamplingRule")
	}
	rec := RuleRecord{Rule: Rule{RuleName: name, RuleARN: s.ruleARN(name), Attributes: map[string]string{}}}
	if err := in.SamplingRule.apply(&rec.Rule, true); err != nil {
		return recordOutput{}, err
	}
	tags, err := checkTags(in.Tags)
	if err != nil {
		return recordOutput{}, err
	}
	rec.Tags = tags

	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.invalidate()
	rs, _, err := s.Rules(ctx)
	if err != nil {
		return recordOutput{}, err
	}
	if _, ok := findRule(rs, name, ""); ok {
		return recordOutput{}, invalid("a sampling rule named %q already exists; change it with UpdateSamplingRule or pick another name", name)
	}
	if len(rs)-1 >= s.o.MaxRules {
		return recordOutput{}, &apiError{http.StatusBadRequest, codeRuleLimitExceeded,
			fmt.Sprintf("there are already %d sampling rules besides Default, the most allowed; delete one first", len(rs)-1)}
	}
	rec, err = s.store.PutSamplingRule(ctx, rec)
	s.invalidate()
	if err != nil {
		return recordOutput{}, fmt.Errorf("create sampling rule: %w", err)
	}
	return recordOutput{toWire(rec)}, nil
}

// target resolves the rule named by RuleName or RuleARN (exactly one).
func (s *Service) target(ctx context.Context, name, arn *string) (RuleRecord, error) {
	switch {
	case name == nil && arn == nil:
		return RuleRecord{}, invalid("name the rule with RuleName or RuleARN")
	case name != nil && arn != nil:
		return RuleRecord{}, invalid("name the rule with RuleName or RuleARN, not both")
	}
	rs, _, err := s.Rules(ctx)
	if err != nil {
		return RuleRecord{}, err
	}
	var n, a string
	if name != nil {
		n = *name
		if err := checkName("RuleName", n); err != nil {
			return RuleRecord{}, err
		}
	} else {
		a = *arn
		if a == "" || len(a) > maxResource {
			return RuleRecord{}, invalid("RuleARN must be 1 to %d characters long", maxResource)
		}
	}
	r, ok := findRule(rs, n, a)
	if !ok {
		return RuleRecord{}, invalid("sampling rule %s does not exist; GetSamplingRules lists the rules", strings.TrimSpace(n+" "+a))
	}
	return r, nil
}

type updateInput struct {
	SamplingRuleUpdate *ruleIn
}

func (s *Service) update(ctx context.Context, in *updateInput) (recordOutput, error) {
	u := in.SamplingRuleUpdate
	if u == nil {
		return recordOutput{}, invalid("SamplingRuleUpdate is required")
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.invalidate()
	rec, err := s.target(ctx, u.RuleName, u.RuleARN)
	if err != nil {
		return recordOutput{}, err
	}
	if rec.Rule.RuleName == DefaultRuleName {
		if err := defaultOnly(rec.Rule, u); err != nil {
			return recordOutput{}, err
		}
	}
	if err := u.apply(&rec.Rule, false); err != nil {
		return recordOutput{}, err
	}
	rec, err = s.store.PutSamplingRule(ctx, rec)
	s.invalidate()
	if err != nil {
		return recordOutput{}, fmt.Errorf("update sampling rule: %w", err)
	}
	if rec.Rule.RuleName == DefaultRuleName {
		rec.CreatedAt = time.Time{} // as GetSamplingRules reports it
	}
	return recordOutput{toWire(rec)}, nil
}

// defaultOnly rejects changes to the Default rule other than FixedRate
// and ReservoirSize (members repeating the current value are fine).
func defaultOnly(def Rule, u *ruleIn) error {
	bad := func(m string) error {
		return invalid("only FixedRate and ReservoirSize of the Default rule can be changed, not %s; create a rule with a lower priority instead", m)
	}
	for _, c := range []struct {
		m   string
		v   *string
		cur string
	}{
		{"ResourceARN", u.ResourceARN, def.ResourceARN}, {"ServiceName", u.ServiceName, def.ServiceName},
		{"ServiceType", u.ServiceType, def.ServiceType}, {"Host", u.Host, def.Host},
		{"HTTPMethod", u.HTTPMethod, def.HTTPMethod}, {"URLPath", u.URLPath, def.URLPath},
	} {
		if c.v != nil && *c.v != c.cur {
			return bad(c.m)
		}
	}
	if u.Priority != nil && *u.Priority != float64(def.Priority) {
		return bad("Priority")
	}
	if len(u.Attributes) > 0 {
		return bad("Attributes")
	}
	if u.SamplingRateBoost != nil {
		return bad("SamplingRateBoost")
	}
	return nil
}

type deleteInput struct {
	RuleName *string
	RuleARN  *string
}

func (s *Service) delete(ctx context.Context, in *deleteInput) (recordOutput, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.invalidate()
	rec, err := s.target(ctx, in.RuleName, in.RuleARN)
	if err != nil {
		return recordOutput{}, err
	}
	if rec.Rule.RuleName == DefaultRuleName {
		return recordOutput{}, invalid("the Default rule cannot be deleted; set its FixedRate and ReservoirSize to 0 with UpdateSamplingRule to sample nothing by default")
	}
	err = s.store.DeleteSamplingRule(ctx, rec.Rule.RuleName)
	s.invalidate()
	if err != nil {
		return recordOutput{}, fmt.Errorf("delete sampling rule: %w", err)
	}
	return recordOutput{toWire(rec)}, nil
}

// pageToken is a NextToken: the position after the last item returned,
// opaque to clients.
type pageToken struct {
	V        int    `json:"v"`
	Priority int    `json:"p,omitempty"`
	Name     string `json:"n,omitempty"`
	Since    int64  `json:"s,omitempty"`
	Until    int64  `json:"u,omitempty"`
	Offset   int    `json:"o,omitempty"`
}

func encodeToken(t pageToken) *string {
	t.V = 1
	b, _ := json.Marshal(t)
	s := base64.RawURLEncoding.EncodeToString(b)
	return &s
}

func decodeToken(tok *string) (pageToken, bool, error) {
	if tok == nil || *tok == "" {
		return pageToken{}, false, nil
	}
	bad := invalid("NextToken %.40q is not a token this server issued; repeat the request without NextToken to start from the first page", *tok)
	b, err := base64.RawURLEncoding.DecodeString(*tok)
	if err != nil {
		return pageToken{}, false, bad
	}
	var t pageToken
	if err := json.Unmarshal(b, &t); err != nil || t.V != 1 {
		return pageToken{}, false, bad
	}
	return t, true, nil
}

type listInput struct {
	NextToken *string
}

type rulesOutput struct {
	SamplingRuleRecords []recordOut `json:"SamplingRuleRecords"`
	NextToken           *string     `json:"NextToken,omitempty"`
}

func (s *Service) list(ctx context.Context, in *listInput) (rulesOutput, error) {
	tok, paged, err := decodeToken(in.NextToken)
	if err != nil {
		return rulesOutput{}, err
	}
	rs, _, err := s.Rules(ctx)
	if err != nil {
		return rulesOutput{}, err
	}
	out := rulesOutput{SamplingRuleRecords: []recordOut{}}
	for _, r := range rs {
		if paged && (r.Rule.Priority < tok.Priority || r.Rule.Priority == tok.Priority && r.Rule.RuleName <= tok.Name) {
			continue
		}
		if len(out.SamplingRuleRecords) == s.o.PageSize {
			last := out.SamplingRuleRecords[len(out.SamplingRuleRecords)-1].SamplingRule
			out.NextToken = encodeToken(pageToken{Priority: last.Priority, Name: last.RuleName})
			break
		}
		out.SamplingRuleRecords = append(out.SamplingRuleRecords, toWire(r))
	}
	return out, nil
}

// ServeGetSamplingRules handles POST /GetSamplingRules.
func (s *Service) ServeGetSamplingRules(w http.ResponseWriter, r *http.Request) {
	serve(s, w, r, s.list)
}

func (s *Service) serveCreate(w http.ResponseWriter, r *http.Request) { serve(s, w, r, s.create) }
func (s *Service) serveUpdate(w http.ResponseWriter, r *http.Request) { serve(s, w, r, s.update) }
func (s *Service) serveDelete(w http.ResponseWriter, r *http.Request) { serve(s, w, r, s.delete) }
