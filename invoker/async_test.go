package invoker

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

func (h *harness) createFunction(t *testing.T, name, version string) {
	t.Helper()
	_, err := h.client.CreateFunction(context.Background(), &lambda.CreateFunctionInput{
		FunctionName: aws.String(name), Runtime: types.RuntimeProvidedal2023, Role: aws.String("arn:aws:iam::000000000000:role/r"),
		Handler: aws.String("bootstrap"), Code: &types.FunctionCode{ZipFile: functionZip(t, version)},
	})
	if err != nil {
		t.Fatalf("CreateFunction %s: %v", name, err)
	}
}

// getJSON GETs an extension endpoint of the invoker.
func (h *harness) getJSON(t *testing.T, path string, v any) {
	t.Helper()
	resp, err := http.Get("http://" + h.inv.Addr() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, b)
	}
}

// logsContain waits until fn's recent logs contain want.
func (h *harness) logsContain(t *testing.T, fn, want string) bool {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		var out struct {
			Events []struct{ Message string } `json:"Events"`
		}
		h.getJSON(t, "/2015-03-31/functions/"+fn+"/logs?limit=1000", &out)
		for _, e := range out.Events {
			if strings.Contains(e.Message, want) {
				return true
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

func TestEventInvocations(t *testing.T) {
	sink := newUDPSink(t)
	dir := dataDir(t)
	h := startInvoker(t, dir, sink)
	ctx := context.Background()
	c := h.client
	h.createFunction(t, "worker", "w1")
	h.createFunction(t, "sink", "s1")
	sinkARN := "arn:aws:lambda:us-east-1:000000000000:function:sink"
	if _, err := c.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{
		FunctionName: aws.String("worker"), MaximumRetryAttempts: aws.Int32(0),
		DestinationConfig: &types.DestinationConfig{
			OnSuccess: &types.OnSuccess{Destination: aws.String(sinkARN)},
			OnFailure: &types.OnFailure{Destination: aws.String(sinkARN)},
		},
	}); err != nil {
		t.Fatal(err)
	}

	t.Run("success goes to OnSuccess", func(t *testing.T) {
		out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("worker"), InvocationType: types.InvocationTypeEvent,
			Payload: []byte(`{"op":"echo","marker":"ok-1"}`)})
		if err != nil || out.StatusCode != 202 {
			t.Fatalf("Event invoke: %+v %v", out, err)
		}
		if !h.logsContain(t, "worker", "handled echo") {
			t.Fatal("worker never ran the event")
		}
		if !h.logsContain(t, "sink", `"condition":"Success"`) || !h.logsContain(t, "sink", `ok-1`) {
			t.Error("OnSuccess destination did not receive the invocation record")
		}
	})

	t.Run("failure goes to OnFailure and the dead letters", func(t *testing.T) {
		if _, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("worker"), InvocationType: types.InvocationTypeEvent,
			Payload: []byte(`{"op":"error","marker":"bad-1"}`)}); err != nil {
			t.Fatal(err)
		}
		if !h.logsContain(t, "sink", `"condition":"RetriesExhausted"`) {
			t.Error("OnFailure destination did not receive the record")
		}
		var dl struct {
			DeadLetters []struct {
				RequestContext struct {
					Condition              string `json:"condition"`
					ApproximateInvokeCount int    `json:"approximateInvokeCount"`
				} `json:"requestContext"`
				RequestPayload  map[string]any `json:"requestPayload"`
				ResponseContext struct {
					FunctionError string `json:"functionError"`
				} `json:"responseContext"`
			} `json:"DeadLetters"`
		}
		h.getJSON(t, "/2015-03-31/functions/worker/dead-letters", &dl)
		if len(dl.DeadLetters) != 1 || dl.DeadLetters[0].RequestPayload["marker"] != "bad-1" ||
			dl.DeadLetters[0].RequestContext.ApproximateInvokeCount != 1 || dl.DeadLetters[0].ResponseContext.FunctionError != "Unhandled" {
			t.Errorf("dead letters: %+v", dl)
		}
	})

	t.Run("accepted event survives a restart", func(t *testing.T) {
		// Reserved concurrency 0 throttles every attempt: the event waits in
		// the queue across the restart.
		if _, err := c.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("worker"), ReservedConcurrentExecutions: aws.Int32(0)}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("worker"), InvocationType: types.InvocationTypeEvent,
			Payload: []byte(`{"marker":"durable-1"}`)}); err != nil {
			t.Fatal(err)
		}
		h.stop()
		h2 := startInvoker(t, dir, sink)
		if _, err := h2.client.DeleteFunctionConcurrency(ctx, &lambda.DeleteFunctionConcurrencyInput{FunctionName: aws.String("worker")}); err != nil {
			t.Fatal(err)
		}
		if !h2.logsContain(t, "worker", `durable-1`) {
			t.Error("event accepted before the restart was not delivered after it")
		}
	})
}
