// Package runtimes ships Fluoro's bootstraps for Lambda managed runtimes and
// tells the engine how to start them.
//
// Supported identifiers (Supported): nodejs18.x, nodejs20.x, nodejs22.x,
// nodejs24.x and python3.9 … python3.14, run by bootstraps embedded in the
// binary, and provided.al2023 / provided.al2, whose runtime is the function's
// own `bootstrap` executable (Runtime.Native; the engine starts it itself).
// Every nodejs*.x runs on the local `node` (18 or later) and every python3.x
// on the local python3 (flags -runtime-node, -runtime-python choose others):
// the identifier selects the programming model, not an interpreter version.
//
// # Exported API
//
//	func Supported() []string
//	func Lookup(id string) (Runtime, bool)
//	type Runtime struct{ ID string; Family Family; ExecutionEnv, BootstrapFile string }
//	func (Runtime) Native() bool
//	func (Runtime) Env() []string                 // "AWS_EXECUTION_ENV=AWS_Lambda_<id>" for managed runtimes
//	type Config struct{ Node, Python string }      // -runtime-node, -runtime-python
//	func DefaultConfig() Config
//	func (*Config) RegisterFlags(*flag.FlagSet); func (Config) Validate() error
//	func (Config) Interpreter(Runtime) (string, error)
//	func (Config) WriteBootstrap(dir, id string) (cmd []string, err error)
//	func WriteBootstrap(dir, id string) (cmd []string, err error) // DefaultConfig()
//	func Bootstrap(Family) []byte
//	var ErrUnsupported, ErrNative, ErrInterpreterNotFound error
//
// # How the engine uses it
//
// At CreateFunction: Lookup(runtime) or refuse with
// InvalidParameterValueException; for a managed runtime,
// cfg.Interpreter(r) tells early whether node/python3 exists (the error says
// which executable and flag). When an execution environment starts:
//
//	cmd, err := cfg.WriteBootstrap(runtimeDir, fn.Runtime) // e.g. <data>/runtimes/<id>; idempotent
//	c := exec.Command(cmd[0], cmd[1:]...)
//	c.Dir = taskRoot
//	c.Env = append(platformEnv, r.Env()...) // lambda.md §3: AWS_LAMBDA_RUNTIME_API, _HANDLER,
//	                                        // LAMBDA_TASK_ROOT, LAMBDA_RUNTIME_DIR=runtimeDir, AWS_LAMBDA_FUNCTION_*, …
//
// With AWS_LAMBDA_EXEC_WRAPPER set by the customer, the engine runs
// [wrapper, cmd...] as AWS does.
//
// What the engine's Runtime API must provide for these clients: no read or
// idle timeout on GET /runtime/invocation/next (the bootstraps long-poll on
// one keep-alive connection and never time out themselves); Content-Type
// application/json on /next (the Python bootstrap passes other content
// types to the handler as raw bytes, as AWS's does); 202 on posts. The
// Lambda-Runtime-Function-Error-Type the bootstraps send for function
// errors is the language's error name (e.g. "TypeError", "ValueError");
// normalise it as lambda.md §1.3 says (Runtime.Unknown) where a
// Category.Reason is needed.
//
// # What the bootstraps do (Runtime API 2018-06-01, lambda.md §1)
//
// Both keep one keep-alive HTTP connection to AWS_LAMBDA_RUNTIME_API (Node:
// the http module; Python: a small socket client, because http.client would
// add tens of milliseconds of imports to every cold start), load
// the handler from _HANDLER relative to LAMBDA_TASK_ROOT (default: the
// working directory) before the first GET /runtime/invocation/next, and
// expect the engine to send Content-Type: application/json with each event.
//
//   - Init failure (module not found, syntax error, handler missing, bad
//     handler name, exception at import): POST /runtime/init/error with the
//     error document and header Lambda-Runtime-Function-Error-Type =
//     errorType (Runtime.ImportModuleError, Runtime.UserCodeSyntaxError,
//     Runtime.HandlerNotFound, Runtime.MalformedHandlerName, or the thrown
//     type such as "Error"/"ValueError"), then exit (Node 129, Python 1).
//   - Per invocation: _X_AMZN_TRACE_ID := Lambda-Runtime-Trace-Id (removed
//     when absent); the context object from the Lambda-Runtime-* headers and
//     AWS_LAMBDA_* variables; success → POST …/{id}/response with
//     Content-Type application/json (Python: bytes results as
//     application/unknown); failure → POST …/{id}/error with Content-Type
//     application/json, Lambda-Runtime-Function-Error-Type = errorType and
//     Lambda-Runtime-Function-XRay-Error-Cause = X-Ray cause JSON
//     {"working_directory","exceptions":[{"type","message","stack":[{"path","line","label"}]}],"paths"}
//     (omitted when ≥ 1 MiB).
//   - Error documents exactly as AWS's runtimes produce them. Node:
//     {"errorType":"Error","errorMessage":"boom","trace":["Error: boom","    at …"]}
//     (AWS's Node runtime says "trace", not "stackTrace"). Python:
//     {"errorMessage": "boom", "errorType": "ValueError", "requestId": "<id>", "stackTrace": ["  File …"]}
//     (init errors have requestId "").
//   - Node specifics: .js/.cjs (CommonJS), .mjs and .js under
//     "type":"module" (ESM), nested `dir/file.obj.fn` handlers; async
//     handlers and callback handlers (event, context, callback) with
//     context.callbackWaitsForEmptyEventLoop (true: the result is posted when
//     the event loop empties), context.succeed/fail/done; a non-async handler
//     that never calls back yields null; uncaught exceptions and unhandled
//     rejections fail the invocation and end the process (exit 129 / 128).
//     Response streaming (lambda.md §1.5): handlers wrapped with
//     awslambda.streamifyResponse get (event, responseStream, context); the
//     bootstrap POSTs …/response with Lambda-Runtime-Function-Response-Mode:
//     streaming, chunked, Content-Type from responseStream.setContentType
//     (default application/octet-stream; awslambda.HttpResponseStream.from
//     writes the JSON prelude and 8 NUL bytes), and reports an error after
//     the stream began in the trailers Lambda-Runtime-Function-Error-Type and
//     Lambda-Runtime-Function-Error-Body (base64 of the error document).
//   - Logs go to stdout: Node console.* as "<ISO time>\t<request id>\t<LEVEL>\t<message>",
//     Python logging as "[LEVEL]\t<time>Z\t<request id>\t<message>",
//     JSON lines with AWS_LAMBDA_LOG_FORMAT=JSON; AWS_LAMBDA_LOG_LEVEL filters.
//   - Non-2xx answers: 5xx from the Runtime API (and a non-200 /next) end the
//     process with exit status 1 and a message on stderr, as lambda.md §1.1
//     requires; a 4xx on a post is reported on stderr and the loop goes on.
package runtimes
