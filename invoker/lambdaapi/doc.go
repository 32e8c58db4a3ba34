// Package lambdaapi serves the AWS Lambda control-plane and Invoke REST API
// (restJson1, API version 2015-03-31 and the dated paths of the concurrency
// and event-invoke-config operations) exactly as the AWS SDKs send and parse
// it: paths, query members, X-Amz-* headers, PascalCase JSON members, status
// codes, and errors as X-Amzn-ErrorType plus {"Type":"User","message":…}.
//
// It validates requests, keeps functions, versions and aliases in
// invoker/store, runs synchronous invocations on invoker/engine, queues
// Event invocations through an AsyncQueue, decides X-Ray sampling and emits
// the AWS::Lambda service segment. Beyond AWS it serves a function's recent
// logs, its dead letters, and its code package (see invoker/README.md).
//
// It imports only the standard library and invoker/... packages.
package lambdaapi
