// Package sampling serves X-Ray centralized sampling to SDKs: the
// GetSamplingRules (POST /GetSamplingRules) and GetSamplingTargets
// (POST /SamplingTargets) operations that SDKs call on the daemon's TCP port.
//
// Rules come from a RuleSource. Until rules become editable (a persisted
// store wired in by main), Static with only the Default rule is used: one
// request per second plus 5 % of the rest. Reservoir quotas are shared
// between the clients that reported a rule recently, in proportion to their
// request counts.
//
// It imports only the standard library.
package sampling
