package api

import (
	"context"
	"errors"
	"testing"
)

// FuzzRequests feeds arbitrary bodies to the request decoding and
// validation of BatchGetTraces and GetTraceSummaries: they must never panic
// and every rejection must be an X-Ray *Error (never a 500).
func FuzzRequests(f *testing.F) {
	for _, seed := range []string{
		``, `{}`, `[]`, `null`,
		`{"TraceIds":["1-65000010-aaaaaaaaaaaaaaaaaaaaaaa1"]}`,
		`{"TraceIds":["1-65000010-aaaaaaaaaaaaaaaaaaaaaaa1","x"],"NextToken":"a"}`,
		`{"StartTime":1694498832,"EndTime":1694502432,"TimeRangeType":"Event","FilterExpression":"service(\"a\") { fault }"}`,
		`{"StartTime":"2023-09-12T06:00:00Z","EndTime":1694502432.5,"Sampling":true,"SamplingStrategy":{"Name":"FixedRate","Value":0.5}}`,
		`{"StartTime":1694498832,"EndTime":1694502432,"NextToken":"eyJ2IjoxLCJxIjoiIiwiYyI6IngifQ"}`,
		`{"StartTime":1e300,"EndTime":-1}`,
	} {
		f.Add([]byte(seed))
	}
	r := newFakeReader()
	r.add(f, segT1)
	s, err := New(DefaultConfig(), Settings{Reader: r})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		check := func(err error) {
			var ae *Error
			if err != nil && (!errors.As(err, &ae) || ae.Status != 400 || ae.Message == "") {
				t.Fatalf("%q: %v is not an InvalidRequestException", body, err)
			}
		}
		var bt batchGetTracesInput
		if err := decodeJSON(body, &bt); err != nil {
			check(err)
		} else {
			_, err := s.batchGetTraces(context.Background(), bt)
			check(err)
		}
		var ts getTraceSummariesInput
		if err := decodeJSON(body, &ts); err != nil {
			check(err)
		} else {
			_, err := s.getTraceSummaries(context.Background(), ts)
			check(err)
		}
	})
}
