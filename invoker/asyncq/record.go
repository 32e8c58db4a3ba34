package asyncq

import (
	"encoding/json"
)

// InvocationRecord is the document Lambda sends to an OnSuccess/OnFailure
// destination (lambda.md §4.8).
type InvocationRecord struct {
	Version         string                `json:"version"`
	Timestamp       string                `json:"timestamp"`
	RequestContext  RecordRequestContext  `json:"requestContext"`
	RequestPayload  json.RawMessage       `json:"requestPayload"`
	ResponseContext RecordResponseContext `json:"responseContext"`
	ResponsePayload json.RawMessage       `json:"responsePayload,omitempty"`
}

// RecordRequestContext is InvocationRecord.requestContext.
type RecordRequestContext struct {
	RequestID              string `json:"requestId"`
	FunctionArn            string `json:"functionArn"`
	Condition              string `json:"condition"`
	ApproximateInvokeCount int    `json:"approximateInvokeCount"`
}

// RecordResponseContext is InvocationRecord.responseContext.
type RecordResponseContext struct {
	StatusCode      int    `json:"statusCode,omitempty"`
	ExecutedVersion string `json:"executedVersion,omitempty"`
	FunctionError   string `json:"functionError,omitempty"`
}

// Record renders c as a destination invocation record. functionARN is the
// ARN of the invoked version, e.g. "arn:aws:lambda:us-east-1:123456789012:function:fn:$LATEST".
// Payloads that are not JSON are embedded as JSON strings.
func (c Completion) Record(functionARN string) InvocationRecord {
	r := InvocationRecord{
		Version:   "1.0",
		Timestamp: c.Time.UTC().Format("2006-01-02T15:04:05.000Z"),
		RequestContext: RecordRequestContext{
			RequestID: c.Event.ID, FunctionArn: functionARN, Condition: c.Condition,
			ApproximateInvokeCount: c.Attempts,
		},
		RequestPayload: asJSON(c.Event.Payload),
		ResponseContext: RecordResponseContext{
			StatusCode: c.Result.StatusCode, ExecutedVersion: c.Result.ExecutedVersion,
			FunctionError: c.Result.FunctionError,
		},
	}
	if c.Attempts > 0 {
		r.ResponsePayload = asJSON(c.Result.Payload)
	}
	return r
}

func asJSON(p []byte) json.RawMessage {
	if len(p) == 0 {
		return json.RawMessage("null")
	}
	if json.Valid(p) {
		return json.RawMessage(append([]byte(nil), p...))
	}
	b, _ := json.Marshal(string(p))
	return b
}
