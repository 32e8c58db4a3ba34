// Package otlp receives OpenTelemetry traces over OTLP/HTTP (POST
// /v1/traces, protobuf or JSON, optionally gzip encoded) and turns every
// span into an X-Ray segment document, which the collector then decodes,
// validates and stores like any other. The mapping is the one AWS's X-Ray
// exporter for OpenTelemetry uses; see Documents.
package otlp
