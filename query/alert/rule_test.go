package alert

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestValidateRule(t *testing.T) {
	pos := func(n int) *int { return &n }
	ok := func() Rule {
		return Rule{Name: "Checkout faults", Filter: `fault AND service("checkout")`, Condition: Condition{Kind: KindTrace}}
	}
	for _, tc := range []struct {
		name string
		edit func(r *Rule)
		want []FieldError // nil: valid
	}{
		{"per-trace", func(*Rule) {}, nil},
		{"count", func(r *Rule) {
			r.Condition = Condition{Kind: "COUNT", Window: Duration(time.Minute), Threshold: 10}
			r.For = Duration(time.Minute)
		}, nil},
		{"ratio edge", func(r *Rule) {
			r.Filter = ""
			r.Condition = Condition{Kind: KindRatio, Edge: &Edge{From: "a", To: "b"}, Class: "error", Threshold: 0.05}
		}, nil},
		{"latency", func(r *Rule) {
			r.Condition = Condition{Kind: KindLatency, Service: "api", Percentile: 95, Threshold: 1.5}
		}, nil},
		{"group", func(r *Rule) { r.Filter, r.Group = "", "checkout" }, nil},
		{"malformed expression", func(r *Rule) { r.Filter = `fault AND service("checkout"` },
			[]FieldError{{Field: "filter", Position: pos(28)}}},
		{"unknown keyword", func(r *Rule) { r.Filter = `responsetme > 1` },
			[]FieldError{{Field: "filter", Position: pos(0)}}},
		{"negative window", func(r *Rule) { r.Condition = Condition{Kind: KindCount, Window: Duration(-time.Minute), Threshold: 1} },
			[]FieldError{{Field: "condition.window"}}},
		{"unknown kind", func(r *Rule) { r.Condition.Kind = "rate" }, []FieldError{{Field: "condition.kind"}}},
		{"missing kind", func(r *Rule) { r.Condition.Kind = "" }, []FieldError{{Field: "condition.kind"}}},
		{"per-trace without filter", func(r *Rule) { r.Filter = "" }, []FieldError{{Field: "filter"}}},
		{"per-trace with for", func(r *Rule) { r.For = Duration(time.Minute) }, []FieldError{{Field: "for"}}},
		{"filter and group", func(r *Rule) { r.Group = "g" }, []FieldError{{Field: "group"}}},
		{"ratio without target", func(r *Rule) { r.Condition = Condition{Kind: KindRatio, Threshold: 0.1} },
			[]FieldError{{Field: "condition.service"}}},
		{"ratio above 1", func(r *Rule) { r.Condition = Condition{Kind: KindRatio, Service: "a", Threshold: 5} },
			[]FieldError{{Field: "condition.threshold"}}},
		{"ratio bad class", func(r *Rule) { r.Condition = Condition{Kind: KindRatio, Service: "a", Class: "slow"} },
			[]FieldError{{Field: "condition.class"}}},
		{"latency percentile", func(r *Rule) { r.Condition = Condition{Kind: KindLatency, Percentile: 100, Threshold: 1} },
			[]FieldError{{Field: "condition.percentile"}}},
		{"latency without threshold", func(r *Rule) { r.Condition = Condition{Kind: KindLatency} },
			[]FieldError{{Field: "condition.threshold"}}},
		{"interval too short", func(r *Rule) {
			r.Condition = Condition{Kind: KindCount}
			r.Interval = Duration(time.Millisecond)
		}, []FieldError{{Field: "interval"}}},
		{"window too long", func(r *Rule) { r.Condition = Condition{Kind: KindCount, Window: Duration(48 * time.Hour)} },
			[]FieldError{{Field: "condition.window"}}},
		{"negative threshold", func(r *Rule) { r.Condition = Condition{Kind: KindCount, Threshold: -1} },
			[]FieldError{{Field: "condition.threshold"}}},
		{"severity", func(r *Rule) { r.Severity = "page" }, []FieldError{{Field: "severity"}}},
		{"label", func(r *Rule) { r.Labels = map[string]string{"bad-name": "x"} }, []FieldError{{Field: "labels"}}},
		{"receiver", func(r *Rule) { r.Receivers = []string{"pager"} }, []FieldError{{Field: "receivers"}}},
		{"mute", func(r *Rule) { r.Mute = []MuteWindow{{From: "25:00", To: "06:00"}} }, []FieldError{{Field: "mute[0]"}}},
		{"mute empty", func(r *Rule) { r.Mute = []MuteWindow{{}} }, []FieldError{{Field: "mute[0]"}}},
		{"id", func(r *Rule) { r.ID = "no spaces" }, []FieldError{{Field: "id"}}},
		{"no name", func(r *Rule) { r.Name = "" }, []FieldError{{Field: "name"}, {Field: "id"}}},
		{"two problems", func(r *Rule) {
			r.Condition = Condition{Kind: KindCount, Window: Duration(-time.Second)}
			r.Filter = "fault AND"
		}, []FieldError{{Field: "filter", Position: pos(9)}, {Field: "condition.window"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ok()
			tc.edit(&r)
			err := r.Validate(map[string]bool{"hook": true})
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Validate = %v, want a *ValidationError", err)
			}
			got := map[string]FieldError{}
			for _, fe := range ve.Errors {
				if fe.Message == "" {
					t.Errorf("%s: empty message", fe.Field)
				}
				got[fe.Field] = fe
			}
			for _, w := range tc.want {
				fe, found := got[w.Field]
				if !found {
					t.Fatalf("Validate = %v; no problem reported for %s", err, w.Field)
				}
				if (w.Position == nil) != (fe.Position == nil) || w.Position != nil && *w.Position != *fe.Position {
					t.Errorf("%s position = %v, want %v (%s)", w.Field, fe.Position, w.Position, fe.Message)
				}
			}
			if len(got) != len(tc.want) {
				t.Errorf("Validate = %v, want problems in %v", err, tc.want)
			}
		})
	}
}

func TestValidateDefaults(t *testing.T) {
	r := Rule{Name: "Slow API!", Condition: Condition{Kind: KindLatency, Threshold: 2}}
	if err := r.Validate(nil); err != nil {
		t.Fatal(err)
	}
	if r.ID != "slow-api" || r.Severity != SeverityWarning || r.Interval.D() != 30*time.Second ||
		r.Condition.Window.D() != 5*time.Minute || r.Condition.Percentile != 99 || r.Condition.MinRequests != 1 {
		t.Fatalf("defaults: %+v", r)
	}
}

func TestDurationJSON(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		out  string
	}{
		{`"5m"`, 5 * time.Minute, `"5m"`},
		{`"90s"`, 90 * time.Second, `"1m30s"`},
		{`"1h30m"`, 90 * time.Minute, `"1h30m"`},
		{`"2d"`, 48 * time.Hour, `"2d"`},
		{`"2h"`, 2 * time.Hour, `"2h"`},
		{`30`, 30 * time.Second, `"30s"`},
		{`1.5`, 1500 * time.Millisecond, `"1.5s"`},
		{`""`, 0, `"0s"`},
		{`"-1m"`, -time.Minute, `"-1m"`},
	} {
		var d Duration
		if err := json.Unmarshal([]byte(tc.in), &d); err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if d.D() != tc.want {
			t.Errorf("%s = %v, want %v", tc.in, d.D(), tc.want)
		}
		b, _ := json.Marshal(d)
		if string(b) != tc.out {
			t.Errorf("%s marshals as %s, want %s", tc.in, b, tc.out)
		}
	}
	for _, bad := range []string{`"5 minutes"`, `"xd"`, `true`, `1e300`} {
		var d Duration
		if err := json.Unmarshal([]byte(bad), &d); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

func TestMuteWindow(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		name string
		m    MuteWindow
		t    string
		want bool
	}{
		{"absolute inside", MuteWindow{Start: at("2026-03-01T10:00:00Z"), End: at("2026-03-01T12:00:00Z")}, "2026-03-01T11:00:00Z", true},
		{"absolute end excluded", MuteWindow{Start: at("2026-03-01T10:00:00Z"), End: at("2026-03-01T12:00:00Z")}, "2026-03-01T12:00:00Z", false},
		{"daily inside", MuteWindow{From: "09:00", To: "17:00"}, "2026-03-02T10:00:00Z", true},
		{"daily outside", MuteWindow{From: "09:00", To: "17:00"}, "2026-03-02T17:00:00Z", false},
		{"overnight late", MuteWindow{From: "22:00", To: "06:00"}, "2026-03-02T23:30:00Z", true},
		{"overnight early", MuteWindow{From: "22:00", To: "06:00"}, "2026-03-03T05:59:00Z", true},
		{"overnight day", MuteWindow{From: "22:00", To: "06:00"}, "2026-03-03T12:00:00Z", false},
		// 2026-03-07 is a Saturday.
		{"weekend", MuteWindow{Weekdays: []string{"sat", "sun"}, From: "00:00", To: "00:00"}, "2026-03-07T15:00:00Z", true},
		{"weekday", MuteWindow{Weekdays: []string{"sat", "sun"}, From: "00:00", To: "00:00"}, "2026-03-09T15:00:00Z", false},
		{"friday night into saturday", MuteWindow{Weekdays: []string{"Fri"}, From: "22:00", To: "06:00"}, "2026-03-07T05:00:00Z", true},
		{"time zone", MuteWindow{From: "09:00", To: "10:00", TZ: "Europe/Berlin"}, "2026-03-02T08:30:00Z", true},
		{"both", MuteWindow{Start: at("2026-03-01T00:00:00Z"), End: at("2026-03-02T00:00:00Z"), From: "09:00", To: "10:00"}, "2026-03-02T09:30:00Z", false},
	} {
		if len(tc.m.problems()) > 0 {
			t.Fatalf("%s: invalid window: %v", tc.name, tc.m.problems())
		}
		if got := tc.m.Active(at(tc.t)); got != tc.want {
			t.Errorf("%s: Active(%s) = %v, want %v", tc.name, tc.t, got, tc.want)
		}
	}
}

func TestParseFile(t *testing.T) {
	f, err := ParseFile([]byte(`{
  "receivers": [{"name": "ops", "type": "webhook", "url": "http://127.0.0.1:9/hook"}],
  "rules": [{"name": "Checkout faults", "filter": "fault AND service(\"checkout\")", "condition": {"kind": "trace"}, "receivers": ["ops"]},
            {"id": "slow", "name": "Slow", "condition": {"kind": "latency", "threshold": 2, "window": "10m"}, "interval": 60}]
}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Rules) != 2 || f.Rules[0].ID != "checkout-faults" || f.Rules[1].Interval.D() != time.Minute || f.Receivers[0].Name != "ops" {
		t.Fatalf("ParseFile = %+v", f)
	}
	for _, tc := range []struct{ in, want string }{
		{`{"rules": [{"name": "a", "conditon": {}}]}`, `unknown field "conditon"`},
		{"{\n  \"rules\": [\n    {\"name\": 1}]}", "line 3"},
		{`{"rules": [{"name": "a"}, {"id": "a", "name": "b"}]}`, `two rules have the id "a"`},
		{`{} {}`, "after the JSON object"},
	} {
		if _, err := ParseFile([]byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseFile(%s) = %v, want %q", tc.in, err, tc.want)
		}
	}
}

func TestLinkExpr(t *testing.T) {
	for _, tc := range []struct {
		r    Rule
		want string
	}{
		{Rule{Filter: "fault", Condition: Condition{Kind: KindTrace}}, "fault"},
		{Rule{Group: `a"b`, Condition: Condition{Kind: KindCount}}, `group.name = "a\"b"`},
		{Rule{Condition: Condition{Kind: KindRatio, Service: "api", Class: "fault"}}, `service("api") { fault }`},
		{Rule{Filter: "http.method = \"POST\"", Condition: Condition{Kind: KindRatio, Edge: &Edge{"a", "b"}, Class: "error"}},
			`(http.method = "POST") AND (edge("a", "b") { error })`},
		{Rule{Condition: Condition{Kind: KindLatency, Threshold: 1.5}}, "responsetime > 1.5"},
	} {
		if got := linkExpr(&tc.r); got != tc.want {
			t.Errorf("linkExpr(%+v) = %s, want %s", tc.r, got, tc.want)
		}
		if _, errs := tc.want, checkFilter("f", tc.want); len(errs) > 0 {
			t.Errorf("%s does not parse: %v", tc.want, errs)
		}
	}
}
