package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"
)

// Error shapes (X-Amzn-ErrorType values) Fluoro answers with.
const (
	codeInvalidRequest = "InvalidRequestException"
	codeThrottled      = "ThrottledException"
	codeNotFound       = "ResourceNotFoundException"
	codeUnknownOp      = "UnknownOperationException"
	codeNotImplemented = "NotImplementedException"
	codeInternal       = "InternalFailure"
)

// Error is an X-Ray API error: it is written as HTTP Status with the header
// X-Amzn-ErrorType: Code and the body {"__type": Code, "Message": Message}.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// invalidRequest returns an InvalidRequestException (HTTP 400).
func invalidRequest(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: codeInvalidRequest, Message: fmt.Sprintf(format, args...)}
}

type errorBody struct {
	Type    string `json:"__type"`
	Message string `json:"Message"`
}

// writeError writes e in the REST-JSON error shape the AWS SDKs decode: they
// take the code from X-Amzn-ErrorType (else from __type) and the message
// from Message.
func writeError(w http.ResponseWriter, e *Error) {
	b, _ := json.Marshal(errorBody{Type: e.Code, Message: e.Message})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Amzn-ErrorType", e.Code)
	w.WriteHeader(e.Status)
	_, _ = w.Write(b)
}

// handleError is echo's error handler: every error leaves as an X-Ray error.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	req := c.Request()
	var (
		ae *Error
		he *echo.HTTPError
	)
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &he) && he.Code == http.StatusNotFound:
		ae = &Error{Status: http.StatusNotFound, Code: codeUnknownOp,
			Message: fmt.Sprintf("no X-Ray operation at %s %s: see the X-Ray API reference for operation paths (e.g. POST /Traces, POST /TraceSummaries)", req.Method, req.URL.Path)}
	case errors.As(err, &he) && he.Code == http.StatusMethodNotAllowed:
		ae = &Error{Status: http.StatusMethodNotAllowed, Code: codeUnknownOp,
			Message: fmt.Sprintf("%s %s: X-Ray operations are called with POST", req.Method, req.URL.Path)}
	case errors.Is(err, context.Canceled) && req.Context().Err() != nil:
		// The client went away; nobody reads the answer.
		ae = &Error{Status: 499, Code: codeInternal, Message: "request cancelled by the client"}
	default:
		id := c.Response().Header().Get(requestIDHeader)
		s.log.Error("X-Ray API request failed", "method", req.Method, "path", req.URL.Path, "request_id", id, "err", err)
		ae = &Error{Status: http.StatusInternalServerError, Code: codeInternal,
			Message: fmt.Sprintf("internal error while serving %s (request id %s); the Fluoro log has the cause", req.URL.Path, id)}
	}
	if ae.Status < 500 {
		s.log.Debug("X-Ray API request rejected", "path", req.URL.Path, "code", ae.Code, "message", ae.Message)
	}
	if op := opFromContext(c); op != "unknown" {
		s.metrics.count(op, ae.Code)
	}
	writeError(c.Response(), ae)
}
