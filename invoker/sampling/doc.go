// Package sampling decides which invocations of Active-tracing functions
// are traced when the caller sent no sampling decision, using X-Ray
// centralized sampling: it polls the collector's GetSamplingRules (every
// 5 minutes) and SamplingTargets (every 10 s, reporting request, sampled and
// borrowed counts per rule) on the daemon's TCP address, exactly as the
// X-Ray SDKs do, and applies the first matching rule (ServiceName = function
// name, ServiceType = AWS::Lambda::Function, ResourceARN = function ARN):
// reservoir quota while it is valid, else one borrowed request per second,
// then the rule's fixed rate. Without rules (collector unreachable) it falls
// back to Lambda's fixed behaviour, 1 request per second plus 5 %.
//
// It imports only the standard library.
package sampling
