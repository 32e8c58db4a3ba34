// Package demo is Fluoro's built-in demo workload: a small shop made of
// HTTP services instrumented with the AWS X-Ray SDK for Go
// (github.com/aws/aws-xray-sdk-go) that call each other, a DynamoDB-style
// table, a SQL database and an uninstrumented partner API. Segments go over
// UDP to the collector exactly as from any X-Ray-instrumented application, so
// `fluoro up` shows a realistic, changing service map from its first seconds.
//
// It is only a traffic source: it talks to Fluoro through the X-Ray daemon
// protocol and imports nothing of collector/, query/ or schema/.
package demo
