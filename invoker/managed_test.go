package invoker

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// Managed runtimes run through the bootstraps shipped in invoker/runtimes,
// driven by the same SDK calls as custom runtimes.
func TestManagedRuntimes(t *testing.T) {
	sink := newUDPSink(t)
	h := startInvoker(t, dataDir(t), sink)
	ctx := context.Background()
	tests := []struct {
		name, runtime, handler, interpreter string
		files                               map[string]string
	}{
		{"node async", "nodejs20.x", "index.handler", "node", map[string]string{"index.mjs": `
export const handler = async (event, context) => {
  console.log("node got", JSON.stringify(event));
  if (event.fail) throw new Error("node boom");
  return { runtime: "node", echo: event.v, requestId: context.awsRequestId };
};`}},
		{"node callback", "nodejs22.x", "app.handler", "node", map[string]string{"app.js": `
exports.handler = (event, context, callback) => {
  if (event.fail) return callback(new Error("node boom"));
  callback(null, { runtime: "node-callback", echo: event.v });
};`}},
		{"python", "python3.12", "app.handler", "python3", map[string]string{"app.py": `
def handler(event, context):
    print("python got", event)
    if event.get("fail"):
        raise ValueError("python boom")
    return {"runtime": "python", "echo": event.get("v"), "requestId": context.aws_request_id}
`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := exec.LookPath(tc.interpreter); err != nil {
				t.Fatalf("%s is required for this test: %v", tc.interpreter, err)
			}
			name := strings.ReplaceAll(tc.name, " ", "-")
			_, err := h.client.CreateFunction(ctx, &lambda.CreateFunctionInput{
				FunctionName: aws.String(name), Runtime: types.Runtime(tc.runtime), Role: aws.String("arn:aws:iam::000000000000:role/r"),
				Handler: aws.String(tc.handler), Code: &types.FunctionCode{ZipFile: zipOf(t, tc.files)},
			})
			if err != nil {
				t.Fatalf("CreateFunction: %v", err)
			}
			out, err := h.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(`{"v":42}`), LogType: types.LogTypeTail})
			if err != nil || out.FunctionError != nil || !strings.Contains(string(out.Payload), `"echo": 42`) && !strings.Contains(string(out.Payload), `"echo":42`) {
				t.Fatalf("sync invoke: %v %v %s", err, aws.ToString(out.FunctionError), out.Payload)
			}
			out, err = h.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(`{"fail":true}`)})
			if err != nil || aws.ToString(out.FunctionError) != "Unhandled" || !strings.Contains(string(out.Payload), "boom") {
				t.Fatalf("error invoke: %v %v %s", err, aws.ToString(out.FunctionError), out.Payload)
			}
			if _, err := h.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(name), InvocationType: types.InvocationTypeEvent,
				Payload: []byte(`{"v":"async-7"}`)}); err != nil {
				t.Fatal(err)
			}
			if tc.name != "node callback" && !h.logsContain(t, name, "async-7") {
				t.Error("Event invocation did not run")
			}
		})
	}
}
