// Command gofunc is the Go Lambda function the invoker's tests deploy: an
// aws-lambda-go handler instrumented with aws-xray-sdk-go, built unchanged
// into a `bootstrap` for provided.al2023.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-xray-sdk-go/xray"
)

type event struct {
	Op string `json:"op"`
	MS int    `json:"ms"`
}

type result struct {
	Op        string `json:"op"`
	Version   string `json:"version"`
	TraceID   string `json:"trace_id,omitempty"`
	Subseg    string `json:"subsegment_id,omitempty"`
	RequestID string `json:"request_id"`
	ARN       string `json:"arn"`
	Client    string `json:"client,omitempty"`
	Env       string `json:"env,omitempty"`
}

// version comes from version.txt in the package, so two zips of the same
// binary are two code versions.
var version = func() string {
	b, err := os.ReadFile(filepath.Join(os.Getenv("LAMBDA_TASK_ROOT"), "version.txt"))
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}()

func handle(ctx context.Context, raw json.RawMessage) (*result, error) {
	var ev event
	_ = json.Unmarshal(raw, &ev)
	if ev.Op == "" {
		fmt.Printf("event: %s\n", raw)
	}
	lc, _ := lambdacontext.FromContext(ctx)
	res := &result{Op: ev.Op, Version: version, RequestID: lc.AwsRequestID, ARN: lc.InvokedFunctionArn, Env: os.Getenv("GREETING")}
	if lc.ClientContext.Custom != nil {
		res.Client = lc.ClientContext.Custom["who"]
	}
	switch ev.Op {
	case "sleep":
		time.Sleep(time.Duration(ev.MS) * time.Millisecond)
	case "error":
		fmt.Println("about to fail")
		return nil, errors.New("something broke")
	case "crash":
		os.Exit(2)
	case "trace":
		res.TraceID = os.Getenv("_X_AMZN_TRACE_ID")
		err := xray.Capture(ctx, "work", func(ctx context.Context) error {
			seg := xray.GetSegment(ctx)
			res.Subseg = seg.ID
			_ = xray.AddAnnotation(ctx, "op", "trace")
			time.Sleep(2 * time.Millisecond)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	fmt.Println("handled", ev.Op)
	return res, nil
}

func main() {
	lambda.Start(handle)
}
