package alert

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// FuzzParseFile: the rules-file parser and rule validation never panic;
// a rule that validates survives a JSON round trip unchanged (the form
// stored in ClickHouse and served by the API).
func FuzzParseFile(f *testing.F) {
	for _, s := range []string{
		`{"rules": [{"name": "Checkout faults", "filter": "fault AND service(\"checkout\")", "condition": {"kind": "trace"}}]}`,
		`{"receivers": [{"name": "ops", "type": "webhook", "url": "http://127.0.0.1:9/x"}], "rules": [{"name": "n", "condition": {"kind": "count", "window": "5m", "threshold": 3}, "interval": 30, "for": "1m", "receivers": ["ops"]}]}`,
		`{"rules": [{"name": "r", "condition": {"kind": "ratio", "edge": {"from": "a", "to": "b"}, "class": "error", "threshold": 0.5, "min_requests": 3}, "mute": [{"from": "22:00", "to": "06:00", "weekdays": ["sat"], "tz": "UTC"}]}]}`,
		`{"rules": [{"name": "l", "group": "g", "condition": {"kind": "latency", "percentile": 95, "threshold": 1.5, "service": "api"}, "labels": {"team": "x"}, "severity": "info"}]}`,
		`{"rules": [{"name": "x", "filter": "fault AND", "condition": {"kind": "trace", "window": "-1m"}}]}`,
		`{"rules": [{"name": "m", "filter": "error", "condition": {"kind": "trace"}, "mute": [{"start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z"}]}]}`,
		`{}`, `[]`, `{"rules": null}`, `{"rules": [{"condition": {"window": 1e308}}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 1<<16 {
			return
		}
		file, err := ParseFile(b)
		if err != nil {
			return
		}
		for i := range file.Rules {
			r := file.Rules[i]
			err := r.Validate(nil)
			var ve *ValidationError
			if err != nil {
				if !errors.As(err, &ve) || len(ve.Errors) == 0 || err.Error() == "" {
					t.Fatalf("Validate = %v, want a *ValidationError with problems", err)
				}
				continue
			}
			js, err := json.Marshal(r)
			if err != nil {
				t.Fatalf("marshal a valid rule: %v", err)
			}
			var back Rule
			if err := json.Unmarshal(js, &back); err != nil {
				t.Fatalf("unmarshal %s: %v", js, err)
			}
			if err := back.Validate(nil); err != nil {
				t.Fatalf("round trip of %s no longer validates: %v", js, err)
			}
			if !reflect.DeepEqual(normalizeForCompare(back), normalizeForCompare(r)) {
				t.Fatalf("round trip changed the rule:\n%+v\n%+v", r, back)
			}
		}
	})
}

// normalizeForCompare drops what JSON does not keep exactly (empty maps
// and slices vs nil; time zones of mute windows).
func normalizeForCompare(r Rule) Rule {
	if len(r.Labels) == 0 {
		r.Labels = nil
	}
	if len(r.Receivers) == 0 {
		r.Receivers = nil
	}
	ms := make([]MuteWindow, len(r.Mute))
	for i, m := range r.Mute {
		m.Start, m.End = m.Start.UTC(), m.End.UTC()
		if len(m.Weekdays) == 0 {
			m.Weekdays = nil
		}
		ms[i] = m
	}
	if len(ms) == 0 {
		ms = nil
	}
	r.Mute = ms
	return r
}
