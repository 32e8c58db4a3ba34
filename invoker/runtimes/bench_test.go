package runtimes

import (
	"fmt"
	"testing"
)

var benchFunctions = []function{
	{runtime: "nodejs20.x", handler: "index.handler", files: map[string]string{"index.mjs": `export const handler = async () => ({ ok: true });`}},
	{runtime: "python3.12", handler: "app.handler", files: map[string]string{"app.py": "def handler(event, context):\n    return {'ok': True}\n"}},
}

// BenchmarkColdStart measures starting a bootstrap until its first
// response is posted (process start, interpreter start, handler load,
// first invocation): the runtime's share of a managed-runtime cold start.
func BenchmarkColdStart(b *testing.B) {
	for _, fn := range benchFunctions {
		b.Run(fn.runtime, func(b *testing.B) {
			requireInterpreter(b, fn.runtime)
			api := newFakeAPI(b)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				p := start(b, api, fn)
				i++
				got := api.invoke(b, p, invocation{id: fmt.Sprint("cold-", i), body: `{}`})
				if got.path != fmt.Sprintf("/2018-06-01/runtime/invocation/cold-%d/response", i) {
					b.Fatalf("posted to %s", got.path)
				}
				p.cmd.Process.Kill()
				<-p.exited
			}
		})
	}
}

// BenchmarkWarmInvoke measures one invocation round trip through a warm
// bootstrap: /next answered, handler run, response posted.
func BenchmarkWarmInvoke(b *testing.B) {
	for _, fn := range benchFunctions {
		b.Run(fn.runtime, func(b *testing.B) {
			requireInterpreter(b, fn.runtime)
			api := newFakeAPI(b)
			p := start(b, api, fn)
			api.invoke(b, p, invocation{id: "warmup", body: `{}`})
			b.ReportAllocs()
			for b.Loop() {
				if got := api.invoke(b, p, invocation{id: "warm", body: `{}`}); got.path != "/2018-06-01/runtime/invocation/warm/response" {
					b.Fatalf("posted to %s", got.path)
				}
			}
		})
	}
}
