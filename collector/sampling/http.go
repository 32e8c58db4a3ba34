package sampling

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Paths of the sampling operations (aws-sdk-go-v2 service/xray).
const (
	PathGetSamplingRules              = "/GetSamplingRules"
	PathGetSamplingTargets            = "/SamplingTargets"
	PathCreateSamplingRule            = "/CreateSamplingRule"
	PathUpdateSamplingRule            = "/UpdateSamplingRule"
	PathDeleteSamplingRule            = "/DeleteSamplingRule"
	PathGetSamplingStatisticSummaries = "/SamplingStatisticSummaries"
)

// Operations maps each path the Service answers to its X-Ray operation
// name (for routing and metrics).
var Operations = map[string]string{
	PathGetSamplingRules:              "GetSamplingRules",
	PathGetSamplingTargets:            "GetSamplingTargets",
	PathCreateSamplingRule:            "CreateSamplingRule",
	PathUpdateSamplingRule:            "UpdateSamplingRule",
	PathDeleteSamplingRule:            "DeleteSamplingRule",
	PathGetSamplingStatisticSummaries: "GetSamplingStatisticSummaries",
}

// Error codes (X-Amzn-ErrorType) the Service answers with.
const (
	codeInvalidRequest    = "InvalidRequestException"
	codeRuleLimitExceeded = "RuleLimitExceededException"
	codeInternal          = "InternalFailure"
	codeUnknownOperation  = "UnknownOperationException"
)

// apiError is an X-Ray error response.
type apiError struct {
	status int
	code   string
	msg    string
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

func invalid(format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, codeInvalidRequest, fmt.Sprintf(format, args...)}
}

// ServeHTTP answers POST on the six operation paths (Operations).
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var h func(http.ResponseWriter, *http.Request)
	switch r.URL.Path {
	case PathGetSamplingRules:
		h = s.ServeGetSamplingRules
	case PathGetSamplingTargets:
		h = s.ServeSamplingTargets
	case PathCreateSamplingRule:
		h = s.serveCreate
	case PathUpdateSamplingRule:
		h = s.serveUpdate
	case PathDeleteSamplingRule:
		h = s.serveDelete
	case PathGetSamplingStatisticSummaries:
		h = s.serveSummaries
	default:
		writeError(w, &apiError{http.StatusNotFound, codeUnknownOperation,
			fmt.Sprintf("no sampling operation at %s; the paths are /GetSamplingRules, /SamplingTargets, /CreateSamplingRule, /UpdateSamplingRule, /DeleteSamplingRule and /SamplingStatisticSummaries", r.URL.Path)})
		return
	}
	if r.Method != http.MethodPost {
		writeError(w, &apiError{http.StatusMethodNotAllowed, codeUnknownOperation,
			fmt.Sprintf("%s %s: X-Ray operations are called with POST", r.Method, r.URL.Path)})
		return
	}
	h(w, r)
}

// serve decodes the request into in, runs op and writes its result or
// error; internal failures are logged.
func serve[In, Out any](s *Service, w http.ResponseWriter, r *http.Request, op func(context.Context, *In) (Out, error)) {
	var in In
	err := readJSON(r, &in)
	var out Out
	if err == nil {
		out, err = op(r.Context(), &in)
	}
	var ae *apiError
	switch {
	case err == nil:
		writeJSON(w, out)
	case errors.As(err, &ae):
		writeError(w, ae)
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away; nobody reads the answer.
	default:
		s.o.Logger.Error("sampling request failed", "path", r.URL.Path, "err", err)
		writeError(w, &apiError{http.StatusInternalServerError, codeInternal,
			fmt.Sprintf("internal error while serving %s: %v", r.URL.Path, err)})
	}
}

const maxBodyBytes = 1 << 20

// readJSON decodes the request body into v. An empty body counts as {}
// (aws-sdk-go-v2 sends none for operations without input members);
// unknown members are ignored, as AWS does.
func readJSON(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return fmt.Errorf("read request body: %w", err)
	}
	if len(b) > maxBodyBytes {
		return invalid("request body is larger than %d bytes", maxBodyBytes)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		var (
			te *json.UnmarshalTypeError
			se *json.SyntaxError
		)
		switch {
		case errors.As(err, &te) && te.Field != "":
			return invalid("member %s must be %s, not %s", te.Field, jsonType(te.Type.String()), te.Value)
		case errors.As(err, &te):
			return invalid("request body must be a JSON object, not %s", te.Value)
		case errors.As(err, &se):
			return invalid("request body is not valid JSON: %v (at byte %d)", se, se.Offset)
		default:
			return invalid("request body is not valid JSON: %v", err)
		}
	}
	return nil
}

func jsonType(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case strings.HasPrefix(goType, "map["):
		return "an object"
	case strings.Contains(goType, "string"):
		return "a string"
	case strings.Contains(goType, "int"):
		return "an integer"
	case strings.Contains(goType, "float"):
		return "a number"
	case strings.Contains(goType, "bool"):
		return "a boolean"
	default:
		return "an object"
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, fmt.Errorf("encode response: %w", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// writeError writes err in the X-Ray REST-JSON error shape: header
// X-Amzn-ErrorType and body {"__type", "message", "Message"}. Errors that
// are not *apiError are internal failures.
func writeError(w http.ResponseWriter, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = &apiError{http.StatusInternalServerError, codeInternal, err.Error()}
	}
	b, _ := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
		Msg     string `json:"Message"`
	}{ae.code, ae.msg, ae.msg})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", ae.code)
	w.WriteHeader(ae.status)
	_, _ = w.Write(b)
}
