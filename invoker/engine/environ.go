package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
)

// ReservedEnv lists the variables a function's Environment.Variables may not
// set (Lambda refuses them with InvalidParameterValueException).
var ReservedEnv = map[string]bool{
	"_HANDLER": true, "_X_AMZN_TRACE_ID": true, "AWS_REGION": true, "AWS_DEFAULT_REGION": true,
	"AWS_EXECUTION_ENV": true, "AWS_LAMBDA_FUNCTION_NAME": true, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": true,
	"AWS_LAMBDA_FUNCTION_VERSION": true, "AWS_LAMBDA_INITIALIZATION_TYPE": true, "AWS_LAMBDA_LOG_GROUP_NAME": true,
	"AWS_LAMBDA_LOG_STREAM_NAME": true, "AWS_ACCESS_KEY": true, "AWS_ACCESS_KEY_ID": true,
	"AWS_SECRET_ACCESS_KEY": true, "AWS_SESSION_TOKEN": true, "AWS_LAMBDA_RUNTIME_API": true,
	"LAMBDA_TASK_ROOT": true, "LAMBDA_RUNTIME_DIR": true, "TZ": true,
}

// ReservedIn returns the reserved names set in vars, sorted.
func ReservedIn(vars map[string]string) []string {
	var out []string
	for k := range vars {
		if ReservedEnv[k] {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// IsCustomRuntime reports whether runtime runs the package's own bootstrap.
func IsCustomRuntime(runtime string) bool {
	return runtime == "provided.al2023" || runtime == "provided.al2" || runtime == "provided"
}

// RuntimeVersionARN returns a stable runtime version ARN for INIT_START and
// RuntimeVersionConfig.
func RuntimeVersionARN(region, runtime string) string {
	sum := sha256.Sum256([]byte(runtime))
	return "arn:aws:lambda:" + region + "::runtime:" + hex.EncodeToString(sum[:])
}

// environ builds the process environment of an environment, in Lambda's
// precedence: customer variables over platform defaults; credentials, then
// runtime and platform reserved variables over everything.
func (v *env) environ(b *Bootstrap, runtimeAPI, tmpDir string) []string {
	s, cfg := v.spec, v.e.cfg
	m := make(map[string]string, 40)
	// Unreserved platform defaults.
	host, port, _ := net.SplitHostPort(cfg.XRayDaemonAddr)
	m["AWS_XRAY_DAEMON_ADDRESS"] = cfg.XRayDaemonAddr
	m["_AWS_XRAY_DAEMON_ADDRESS"] = host
	m["_AWS_XRAY_DAEMON_PORT"] = port
	m["AWS_XRAY_CONTEXT_MISSING"] = "LOG_ERROR"
	m["LANG"] = "en_US.UTF-8"
	m["PATH"] = "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin"
	// Lambda's LD_LIBRARY_PATH names /var/lang/lib, /lib64, /var/task/lib …;
	// here only the package's lib folder exists, and every missing entry
	// costs each dynamically linked program dozens of failed opens at start.
	if fi, err := os.Stat(s.CodeDir + "/lib"); err == nil && fi.IsDir() {
		m["LD_LIBRARY_PATH"] = s.CodeDir + "/lib"
	}
	m["TMPDIR"] = tmpDir
	m["AWS_LAMBDA_FUNCTION_TIMEOUT"] = strconv.Itoa(int(s.Timeout.Seconds()))
	if cfg.LambdaEndpoint != "" {
		m["AWS_ENDPOINT_URL_LAMBDA"] = cfg.LambdaEndpoint
	}
	if s.LogFormat != "" {
		m["AWS_LAMBDA_LOG_FORMAT"] = strings.ToUpper(s.LogFormat)
	}
	if s.LogLevel != "" {
		m["AWS_LAMBDA_LOG_LEVEL"] = s.LogLevel
	}
	if b != nil {
		for _, kv := range b.Env {
			if k, val, ok := strings.Cut(kv, "="); ok {
				m[k] = val
			}
		}
	}
	// Customer variables win over the defaults.
	maps.Copy(m, s.Env)
	// Credentials: the engine's own, when it has any.
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} {
		if val, ok := os.LookupEnv(k); ok {
			m[k] = val
		} else {
			delete(m, k)
		}
	}
	// Reserved variables.
	m["_HANDLER"] = s.Handler
	m["AWS_REGION"] = cfg.Region
	m["AWS_DEFAULT_REGION"] = cfg.Region
	if !IsCustomRuntime(s.Runtime) {
		m["AWS_EXECUTION_ENV"] = "AWS_Lambda_" + s.Runtime
	}
	m["AWS_LAMBDA_FUNCTION_NAME"] = s.FunctionName
	m["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = strconv.Itoa(s.MemoryMB)
	m["AWS_LAMBDA_FUNCTION_VERSION"] = s.Version
	m["AWS_LAMBDA_INITIALIZATION_TYPE"] = "on-demand"
	logGroup := s.LogGroup
	if logGroup == "" {
		logGroup = "/aws/lambda/" + s.FunctionName
	}
	m["AWS_LAMBDA_LOG_GROUP_NAME"] = logGroup
	m["AWS_LAMBDA_LOG_STREAM_NAME"] = v.stream
	m["AWS_LAMBDA_RUNTIME_API"] = runtimeAPI
	m["LAMBDA_TASK_ROOT"] = s.CodeDir
	m["LAMBDA_RUNTIME_DIR"] = s.CodeDir
	if b != nil && b.RuntimeDir != "" {
		m["LAMBDA_RUNTIME_DIR"] = b.RuntimeDir
	}
	m["TZ"] = ":UTC"
	out := make([]string, 0, len(m))
	for k, val := range m {
		out = append(out, k+"="+val)
	}
	slices.Sort(out)
	return out
}
