package alert

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/fluoro/fluoro/query/filter"
)

// Condition kinds.
const (
	// KindTrace fires for every new trace matching the rule's filter,
	// evaluated in memory as traces settle.
	KindTrace = "trace"
	// KindCount fires when more than Threshold matching traces started in
	// the last Window.
	KindCount = "count"
	// KindRatio fires when the fault (or error) ratio of a service or an
	// edge over the last Window is above Threshold.
	KindRatio = "ratio"
	// KindLatency fires when a response-time percentile over the last
	// Window is above Threshold seconds.
	KindLatency = "latency"
)

// Severities.
const (
	SeverityCritical = "critical"
	SeverityWarning  = "warning"
	SeverityInfo     = "info"
)

// Rule is an alerting rule: which traces (Filter or Group), the condition
// on them, how often it is evaluated and for how long it must hold, and
// how the alert is labelled, muted and routed. Rules are data: created
// through the REST API (stored in ClickHouse) or loaded from the rules
// file.
type Rule struct {
	// ID identifies the rule (letters, digits, '_', '-', '.'; at most 64);
	// derived from Name when empty on create.
	ID   string `json:"id"`
	Name string `json:"name"`
	// Description is free text included in notifications.
	Description string `json:"description,omitempty"`
	// Filter is an X-Ray filter expression selecting the traces; Group
	// names an X-Ray group whose expression does. At most one of them;
	// neither selects every trace (not allowed for KindTrace).
	Filter    string    `json:"filter,omitempty"`
	Group     string    `json:"group,omitempty"`
	Condition Condition `json:"condition"`
	// Interval is how often a threshold rule is evaluated (default 30s,
	// at least 1s). Not used by KindTrace.
	Interval Duration `json:"interval,omitempty"`
	// For is how long a threshold condition must hold before the alert
	// fires (pending until then). Not used by KindTrace.
	For Duration `json:"for,omitempty"`
	// Severity is critical, warning (default) or info.
	Severity string            `json:"severity,omitempty"`
	Labels   map[string]string `json:"labels,omitempty"`
	// Mute lists windows in which no notification is sent (the alert is
	// still evaluated; a firing alert is notified when its mute ends).
	Mute []MuteWindow `json:"mute,omitempty"`
	// Receivers names the receivers notified; empty means all.
	Receivers []string `json:"receivers,omitempty"`
	// Disabled rules are kept but not evaluated.
	Disabled bool `json:"disabled,omitempty"`

	// Set by the engine: where the rule comes from ("api" or "file") and
	// when it was created and last changed.
	Source     string    `json:"source,omitempty"`
	CreatedAt  time.Time `json:"created_at,omitzero"`
	ModifiedAt time.Time `json:"modified_at,omitzero"`
}

// Condition is what a rule tests.
type Condition struct {
	// Kind is trace, count, ratio or latency.
	Kind string `json:"kind"`
	// Window: the time range evaluated (count, ratio, latency; default
	// 5m, at most 24h); for trace, how long without a new matching trace
	// before the alert resolves (default 5m).
	Window Duration `json:"window,omitempty"`
	// Threshold: the condition holds when the value is above it: a number
	// of traces (count), a ratio in [0, 1] (ratio), seconds (latency).
	Threshold float64 `json:"threshold,omitempty"`
	// Service names the node (ratio; latency: measure its segments
	// instead of the traces' root segments).
	Service string `json:"service,omitempty"`
	// Edge (ratio) is the call from one node to another.
	Edge *Edge `json:"edge,omitempty"`
	// Class (ratio) is fault (default: 5xx) or error (4xx).
	Class string `json:"class,omitempty"`
	// Percentile (latency) in (0, 100), default 99.
	Percentile float64 `json:"percentile,omitempty"`
	// MinRequests (ratio, latency): below this population the condition
	// does not hold (default 1).
	MinRequests int `json:"min_requests,omitempty"`
}

// Edge is a call between two nodes, by name.
type Edge struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// MuteWindow is a time range without notifications: an absolute one
// (Start–End), a recurring one (From–To each listed weekday, in TZ), or
// both (recurring within the absolute range). A recurring window whose To
// is not after From runs past midnight into the next day.
type MuteWindow struct {
	Start    time.Time `json:"start,omitzero"`
	End      time.Time `json:"end,omitzero"`
	Weekdays []string  `json:"weekdays,omitempty"` // mon … sun; empty: every day
	From     string    `json:"from,omitempty"`     // "22:00"
	To       string    `json:"to,omitempty"`       // "06:00"
	TZ       string    `json:"tz,omitempty"`       // IANA name, default UTC
	Comment  string    `json:"comment,omitempty"`
}

// Duration is a time.Duration written in JSON as a string ("90s", "5m",
// "1h30m", "2d") and also read from a number of seconds.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats d compactly ("5m", "1h30m", "1.5s").
func (d Duration) String() string {
	t := time.Duration(d)
	switch {
	case t == 0:
		return "0s"
	case t%(24*time.Hour) == 0:
		return strconv.FormatInt(int64(t/(24*time.Hour)), 10) + "d"
	case t%time.Hour == 0:
		return strconv.FormatInt(int64(t/time.Hour), 10) + "h"
	case t%time.Minute == 0 && t < time.Hour:
		return strconv.FormatInt(int64(t/time.Minute), 10) + "m"
	}
	s := t.String()
	s = strings.Replace(s, "m0s", "m", 1)
	return strings.Replace(s, "h0m", "h", 1)
}

// MarshalJSON writes d as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a duration string or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] != '"' {
		var sec float64
		if err := json.Unmarshal(b, &sec); err != nil {
			return fmt.Errorf("duration: want a string like \"5m\" or a number of seconds, got %s", b)
		}
		if math.IsNaN(sec) || math.Abs(sec) > 1e9 {
			return fmt.Errorf("duration: %s seconds is out of range", b)
		}
		*d = Duration(sec * float64(time.Second))
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// ParseDuration parses a Go duration ("90s", "1h30m") or a number of days
// ("2d"); "" is 0.
func ParseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	if n, ok := strings.CutSuffix(s, "d"); ok {
		v, err := strconv.ParseFloat(n, 64)
		if err != nil || math.IsNaN(v) || math.Abs(v) > 1e5 {
			return 0, fmt.Errorf("duration %q: want e.g. 5m, 1h30m or 2d", s)
		}
		return Duration(v * float64(24*time.Hour)), nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("duration %q: want e.g. 5m, 1h30m or 2d", s)
	}
	return Duration(v), nil
}

// FieldError is one problem of a rule: the field (JSON path, e.g.
// "condition.window"), the byte offset in a filter expression when the
// problem is there, and what is wrong.
type FieldError struct {
	Field    string `json:"field"`
	Position *int   `json:"position,omitempty"`
	Message  string `json:"message"`
}

// ValidationError lists every problem of a rule.
type ValidationError struct {
	Errors []FieldError
}

// Error joins the problems: "filter: expected … at 12; condition.window:
// must be positive".
func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Errors))
	for i, fe := range e.Errors {
		parts[i] = fe.Field + ": " + fe.Message
		if fe.Position != nil {
			parts[i] += " at position " + strconv.Itoa(*fe.Position)
		}
	}
	return strings.Join(parts, "; ")
}

var (
	idPattern    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	labelPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)
	clockPattern = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)
	weekdayNames = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
		"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}
)

// Limits of a rule.
const (
	maxWindow     = 24 * time.Hour
	minInterval   = time.Second
	maxInterval   = 24 * time.Hour
	maxFor        = 7 * 24 * time.Hour
	maxLabels     = 32
	maxMutes      = 32
	maxFilterLen  = 2000
	maxNameLen    = 128
	maxDescLen    = 2000
	defaultWindow = 5 * time.Minute
	defaultEvery  = 30 * time.Second
)

// Slug derives a rule id from a name: lower-case letters and digits, runs
// of anything else become '-'.
func Slug(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if r < 128 && (r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
			if b.Len() >= 60 {
				break
			}
			continue
		}
		dash = true
	}
	return b.String()
}

// Normalize fills defaults (severity, interval, window, class,
// percentile, min_requests) in place. Validate calls it.
func (r *Rule) Normalize() {
	r.ID = strings.TrimSpace(r.ID)
	r.Name = strings.TrimSpace(r.Name)
	if r.ID == "" {
		r.ID = Slug(r.Name)
	}
	r.Condition.Kind = strings.ToLower(strings.TrimSpace(r.Condition.Kind))
	if r.Severity == "" {
		r.Severity = SeverityWarning
	}
	r.Severity = strings.ToLower(r.Severity)
	c := &r.Condition
	if c.Window == 0 && c.Kind != "" {
		c.Window = Duration(defaultWindow)
	}
	if c.Kind != KindTrace && r.Interval == 0 {
		r.Interval = Duration(defaultEvery)
	}
	switch c.Kind {
	case KindRatio:
		if c.Class == "" {
			c.Class = "fault"
		}
		c.Class = strings.ToLower(c.Class)
		if c.MinRequests == 0 {
			c.MinRequests = 1
		}
	case KindLatency:
		if c.Percentile == 0 {
			c.Percentile = 99
		}
		if c.MinRequests == 0 {
			c.MinRequests = 1
		}
	}
}

// Validate normalizes r and reports every problem as a *ValidationError
// (nil when the rule is valid). receivers, when not nil, are the known
// receiver names.
func (r *Rule) Validate(receivers map[string]bool) error {
	r.Normalize()
	var errs []FieldError
	bad := func(field, format string, args ...any) {
		errs = append(errs, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if !idPattern.MatchString(r.ID) {
		bad("id", "%q is not a valid id: 1–64 letters, digits, '_', '-' or '.', starting with a letter or digit", r.ID)
	}
	if r.Name == "" {
		bad("name", "is required")
	} else if len(r.Name) > maxNameLen {
		bad("name", "is longer than %d bytes", maxNameLen)
	}
	if len(r.Description) > maxDescLen {
		bad("description", "is longer than %d bytes", maxDescLen)
	}
	if r.Filter != "" && r.Group != "" {
		bad("group", "give either filter or group, not both")
	}
	if len(r.Filter) > maxFilterLen {
		bad("filter", "is longer than %d bytes", maxFilterLen)
	} else if strings.TrimSpace(r.Filter) != "" {
		errs = append(errs, checkFilter("filter", r.Filter)...)
	}
	c := &r.Condition
	switch c.Kind {
	case "":
		bad("condition.kind", "is required: trace, count, ratio or latency")
	case KindTrace:
		if strings.TrimSpace(r.Filter) == "" && r.Group == "" {
			bad("filter", "a per-trace rule needs a filter or a group (it would fire for every trace)")
		}
		if r.For != 0 {
			bad("for", "is not used by per-trace rules (they fire on the first matching trace)")
		}
		if r.Interval != 0 {
			bad("interval", "is not used by per-trace rules (they are evaluated as traces arrive)")
		}
		if c.Threshold != 0 {
			bad("condition.threshold", "is not used by per-trace rules")
		}
	case KindCount, KindRatio, KindLatency:
	default:
		bad("condition.kind", "unknown kind %q: want trace, count, ratio or latency", c.Kind)
	}
	if c.Window < 0 {
		bad("condition.window", "must be positive, got %s", c.Window)
	} else if c.Window.D() > maxWindow {
		bad("condition.window", "must be at most %s, got %s", Duration(maxWindow), c.Window)
	} else if c.Window.D() < time.Second && c.Kind != "" {
		bad("condition.window", "must be at least 1s, got %s", c.Window)
	}
	if c.Kind != KindTrace && c.Kind != "" {
		if r.Interval < 0 || r.Interval.D() < minInterval || r.Interval.D() > maxInterval {
			bad("interval", "must be between 1s and 24h, got %s", r.Interval)
		}
		if r.For < 0 || r.For.D() > maxFor {
			bad("for", "must be between 0s and 7d, got %s", r.For)
		}
	}
	if math.IsNaN(c.Threshold) || math.IsInf(c.Threshold, 0) || c.Threshold < 0 {
		bad("condition.threshold", "must be a number ≥ 0, got %v", c.Threshold)
	}
	if c.Kind != KindRatio {
		if c.Edge != nil {
			bad("condition.edge", "is only used by ratio rules")
		}
		if c.Class != "" {
			bad("condition.class", "is only used by ratio rules")
		}
	}
	if c.Kind != KindRatio && c.Kind != KindLatency && c.Service != "" {
		bad("condition.service", "is only used by ratio and latency rules")
	}
	if c.Kind != KindLatency && c.Percentile != 0 {
		bad("condition.percentile", "is only used by latency rules")
	}
	if c.MinRequests < 0 {
		bad("condition.min_requests", "must be ≥ 0, got %d", c.MinRequests)
	}
	switch c.Kind {
	case KindRatio:
		switch {
		case c.Service == "" && c.Edge == nil:
			bad("condition.service", "a ratio rule needs a service or an edge")
		case c.Service != "" && c.Edge != nil:
			bad("condition.edge", "give either service or edge, not both")
		case c.Edge != nil && (c.Edge.From == "" || c.Edge.To == ""):
			bad("condition.edge", "needs from and to")
		}
		if c.Class != "fault" && c.Class != "error" {
			bad("condition.class", "must be fault or error, got %q", c.Class)
		}
		if c.Threshold > 1 {
			bad("condition.threshold", "a ratio is between 0 and 1, got %v", c.Threshold)
		}
	case KindLatency:
		if !(c.Percentile > 0 && c.Percentile < 100) {
			bad("condition.percentile", "must be in (0, 100), got %v", c.Percentile)
		}
		if c.Threshold <= 0 {
			bad("condition.threshold", "a latency threshold is a positive number of seconds, got %v", c.Threshold)
		}
	}
	switch r.Severity {
	case SeverityCritical, SeverityWarning, SeverityInfo:
	default:
		bad("severity", "must be critical, warning or info, got %q", r.Severity)
	}
	if len(r.Labels) > maxLabels {
		bad("labels", "at most %d labels", maxLabels)
	}
	for k, v := range r.Labels {
		if !labelPattern.MatchString(k) {
			bad("labels", "label name %q: letters, digits and '_', not starting with a digit", k)
		}
		if len(v) > 1024 {
			bad("labels", "label %q is longer than 1024 bytes", k)
		}
	}
	if len(r.Mute) > maxMutes {
		bad("mute", "at most %d mute windows", maxMutes)
	}
	for i, m := range r.Mute {
		for _, msg := range m.problems() {
			bad(fmt.Sprintf("mute[%d]", i), "%s", msg)
		}
	}
	for _, name := range r.Receivers {
		if receivers != nil && !receivers[name] {
			bad("receivers", "unknown receiver %q (receivers come from the rules file and the --alert-* flags)", name)
		}
	}
	switch r.Source {
	case "", SourceAPI, SourceFile:
	default:
		bad("source", "must be api or file")
	}
	if len(errs) > 0 {
		return &ValidationError{Errors: errs}
	}
	return nil
}

// Rule sources.
const (
	SourceAPI  = "api"
	SourceFile = "file"
)

// checkFilter parses expr and checks that both back-ends accept it (group
// references are bound to match-all for the check).
func checkFilter(field, expr string) []FieldError {
	e, err := filter.Parse(expr)
	if err != nil {
		var se *filter.SyntaxError
		if errors.As(err, &se) {
			pos := se.Pos
			return []FieldError{{Field: field, Position: &pos, Message: se.Msg}}
		}
		return []FieldError{{Field: field, Message: err.Error()}}
	}
	re, err := e.ResolveGroups(func(filter.GroupRef) (string, error) { return "", nil })
	if err == nil {
		_, _, err = re.SQL()
	}
	if err != nil {
		return []FieldError{{Field: field, Message: err.Error()}}
	}
	return nil
}

func (m MuteWindow) problems() []string {
	var out []string
	abs := !m.Start.IsZero() || !m.End.IsZero()
	rec := m.From != "" || m.To != "" || len(m.Weekdays) > 0
	if !abs && !rec {
		return []string{"needs start/end or from/to"}
	}
	if abs && (m.Start.IsZero() || m.End.IsZero() || !m.Start.Before(m.End)) {
		out = append(out, "start must be before end (RFC 3339 times)")
	}
	if rec {
		if !clockPattern.MatchString(m.From) || !clockPattern.MatchString(m.To) {
			out = append(out, fmt.Sprintf("from and to must be HH:MM, got %q and %q", m.From, m.To))
		}
		for _, d := range m.Weekdays {
			if _, ok := weekdayNames[strings.ToLower(d)]; !ok {
				out = append(out, fmt.Sprintf("unknown weekday %q: want mon, tue, wed, thu, fri, sat or sun", d))
			}
		}
	}
	if m.TZ != "" {
		if _, err := time.LoadLocation(m.TZ); err != nil {
			out = append(out, fmt.Sprintf("unknown time zone %q", m.TZ))
		}
	}
	return out
}

// Active reports whether t is inside the window.
func (m MuteWindow) Active(t time.Time) bool {
	if !m.Start.IsZero() && (t.Before(m.Start) || !t.Before(m.End)) {
		return false
	}
	if m.From == "" {
		return !m.Start.IsZero()
	}
	loc := time.UTC
	if m.TZ != "" {
		if l, err := time.LoadLocation(m.TZ); err == nil {
			loc = l
		}
	}
	lt := t.In(loc)
	from, to := clockMinutes(m.From), clockMinutes(m.To)
	now := lt.Hour()*60 + lt.Minute()
	day := func(w time.Weekday) bool {
		if len(m.Weekdays) == 0 {
			return true
		}
		for _, d := range m.Weekdays {
			if weekdayNames[strings.ToLower(d)] == w {
				return true
			}
		}
		return false
	}
	if from < to {
		return day(lt.Weekday()) && now >= from && now < to
	}
	// Past midnight: started today, or yesterday and not over yet.
	return day(lt.Weekday()) && now >= from || day(lt.AddDate(0, 0, -1).Weekday()) && now < to
}

func clockMinutes(s string) int {
	if len(s) != 5 {
		return 0
	}
	h, _ := strconv.Atoi(s[:2])
	m, _ := strconv.Atoi(s[3:])
	return h*60 + m
}

// muted reports whether any of r's mute windows is active at t.
func (r *Rule) muted(t time.Time) bool {
	for _, m := range r.Mute {
		if m.Active(t) {
			return true
		}
	}
	return false
}

// quoteFilter renders s as a filter-expression string literal.
func quoteFilter(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// nodeExpr is the filter expression selecting the traces through the
// rule's service or edge, and with the class block when bad is set.
func (c *Condition) nodeExpr(bad bool) string {
	block := ""
	if bad {
		block = " { " + c.Class + " }"
	}
	if c.Edge != nil {
		return "edge(" + quoteFilter(c.Edge.From) + ", " + quoteFilter(c.Edge.To) + ")" + block
	}
	return "service(" + quoteFilter(c.Service) + ")" + block
}
