package lambdaapi

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/fluoro/fluoro/invoker/engine"
	"github.com/fluoro/fluoro/invoker/store"
)

// lastModifiedLayout is FunctionConfiguration.LastModified's format.
const lastModifiedLayout = "2006-01-02T15:04:05.000-0700"

type environmentResponse struct {
	Variables map[string]string `json:"Variables"`
}

type modeConfig struct {
	Mode string `json:"Mode"`
}

type sizeConfig struct {
	Size int `json:"Size"`
}

type snapStart struct {
	ApplyOn            string `json:"ApplyOn"`
	OptimizationStatus string `json:"OptimizationStatus"`
}

type runtimeVersionConfig struct {
	RuntimeVersionArn string `json:"RuntimeVersionArn"`
}

type deadLetterConfig struct {
	TargetArn string `json:"TargetArn,omitempty"`
}

// functionConfiguration is the FunctionConfiguration shape.
type functionConfiguration struct {
	FunctionName         string                `json:"FunctionName"`
	FunctionArn          string                `json:"FunctionArn"`
	Runtime              string                `json:"Runtime,omitempty"`
	Role                 string                `json:"Role"`
	Handler              string                `json:"Handler,omitempty"`
	CodeSize             int64                 `json:"CodeSize"`
	Description          string                `json:"Description"`
	Timeout              int                   `json:"Timeout"`
	MemorySize           int                   `json:"MemorySize"`
	LastModified         string                `json:"LastModified"`
	CodeSha256           string                `json:"CodeSha256"`
	Version              string                `json:"Version"`
	Environment          *environmentResponse  `json:"Environment,omitempty"`
	TracingConfig        modeConfig            `json:"TracingConfig"`
	RevisionID           string                `json:"RevisionId"`
	State                string                `json:"State"`
	LastUpdateStatus     string                `json:"LastUpdateStatus"`
	PackageType          string                `json:"PackageType"`
	Architectures        []string              `json:"Architectures"`
	EphemeralStorage     sizeConfig            `json:"EphemeralStorage"`
	SnapStart            snapStart             `json:"SnapStart"`
	LoggingConfig        store.LoggingConfig   `json:"LoggingConfig"`
	RuntimeVersionConfig *runtimeVersionConfig `json:"RuntimeVersionConfig,omitempty"`
	DeadLetterConfig     *deadLetterConfig     `json:"DeadLetterConfig,omitempty"`
}

// configuration renders version's configuration of f. qualified selects the
// qualified ARN (:$LATEST or :N) as FunctionArn.
func (s *Server) configuration(f *store.Function, version string, qualified bool) *functionConfiguration {
	c, _ := f.ConfigOf(version)
	arn := s.functionARN(f.Name)
	if qualified || version != store.Latest {
		arn += ":" + version
	}
	out := &functionConfiguration{
		FunctionName: f.Name, FunctionArn: arn, Runtime: c.Runtime, Role: c.Role, Handler: c.Handler,
		CodeSize: c.Code.Size, Description: c.Description, Timeout: c.Timeout, MemorySize: c.MemorySize,
		LastModified: c.LastModified.UTC().Format(lastModifiedLayout), CodeSha256: c.Code.Sha256, Version: version,
		TracingConfig: modeConfig{Mode: c.TracingMode}, RevisionID: c.RevisionID, State: "Active",
		LastUpdateStatus: "Successful", PackageType: c.PackageType, Architectures: c.Architectures,
		EphemeralStorage: sizeConfig{Size: c.EphemeralStorage}, SnapStart: snapStart{ApplyOn: "None", OptimizationStatus: "Off"},
		LoggingConfig: c.Logging,
	}
	if v := f.Version(version); v != nil {
		out.Description = v.Description
	}
	if len(c.Environment) > 0 {
		out.Environment = &environmentResponse{Variables: c.Environment}
	}
	if c.Runtime != "" {
		out.RuntimeVersionConfig = &runtimeVersionConfig{RuntimeVersionArn: engine.RuntimeVersionARN(s.cfg.Region, c.Runtime)}
	}
	if c.DeadLetterTarget != "" {
		out.DeadLetterConfig = &deadLetterConfig{TargetArn: c.DeadLetterTarget}
	}
	if out.LoggingConfig.LogGroup == "" {
		out.LoggingConfig.LogGroup = "/aws/lambda/" + f.Name
	}
	if out.LoggingConfig.LogFormat == "" {
		out.LoggingConfig.LogFormat = "Text"
	}
	return out
}

// maxControlBody bounds control-plane request bodies (Lambda's CreateFunction
// request limit).
const maxControlBody = 70167211

// readJSON decodes a request body into v. An empty body decodes as {}.
func readJSON(r *http.Request, v any, operation string) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxControlBody+1))
	if err != nil {
		return errf(http.StatusBadRequest, "InvalidRequestContentException", "Could not read request body: %v", err)
	}
	if len(body) > maxControlBody {
		return errf(http.StatusRequestEntityTooLarge, "RequestEntityTooLargeException",
			"Request must be smaller than %d bytes for the %s operation", maxControlBody, operation)
	}
	if len(body) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return errf(http.StatusBadRequest, "InvalidRequestContentException",
				"Could not parse request body into json: Could not deserialize member %s: %v", te.Field, err)
		}
		return errf(http.StatusBadRequest, "InvalidRequestContentException", "Could not parse request body into json: %v", err)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, serviceError(err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func nowUTC() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }
