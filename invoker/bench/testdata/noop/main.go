// Command noop is the benchmark function: a no-op handler built with
// aws-lambda-go. It lives under testdata so that it is not part of the
// invoker's packages (the invoker imports only the standard library); the
// benchmark script builds it as the function's `bootstrap`.
package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(ctx context.Context, event json.RawMessage) (json.RawMessage, error) {
		return json.RawMessage(`{"ok":true}`), nil
	})
}
