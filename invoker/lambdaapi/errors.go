package lambdaapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// APIError is an error rendered in Lambda's wire shape.
type APIError struct {
	Status  int
	Code    string // X-Amzn-ErrorType
	Message string
	Reason  string // TooManyRequestsException
	Type    string // "User" (default) or "Service"
	// RetryAfter is sent as Retry-After (seconds) when > 0.
	RetryAfter int
}

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

// Exceptions whose message member is "Message" (the others use "message").
var capitalMessage = map[string]bool{
	"ResourceNotFoundException": true, "ServiceException": true, "InvalidZipFileException": true,
	"InvalidRuntimeException": true, "ResourceInUseException": true, "EC2UnexpectedException": true,
}

func errf(status int, code, format string, args ...any) *APIError {
	return &APIError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

func invalidParam(format string, args ...any) *APIError {
	return errf(http.StatusBadRequest, "InvalidParameterValueException", format, args...)
}

func notFound(format string, args ...any) *APIError {
	return errf(http.StatusNotFound, "ResourceNotFoundException", format, args...)
}

func conflict(format string, args ...any) *APIError {
	return errf(http.StatusConflict, "ResourceConflictException", format, args...)
}

func serviceError(err error) *APIError {
	return &APIError{Status: http.StatusInternalServerError, Code: "ServiceException", Message: err.Error(), Type: "Service"}
}

// writeError renders err (an *APIError, else a ServiceException).
func writeError(w http.ResponseWriter, err error) {
	var e *APIError
	if !errors.As(err, &e) {
		e = serviceError(err)
	}
	typ := e.Type
	if typ == "" {
		typ = "User"
	}
	body := map[string]string{"Type": typ}
	if capitalMessage[e.Code] {
		body["Message"] = e.Message
	} else {
		body["message"] = e.Message
	}
	if e.Reason != "" {
		body["Reason"] = e.Reason
	}
	b, _ := json.Marshal(body)
	h := w.Header()
	h.Set("X-Amzn-ErrorType", e.Code)
	h.Set("Content-Type", "application/json")
	if e.RetryAfter > 0 {
		h.Set("Retry-After", fmt.Sprint(e.RetryAfter))
	}
	w.WriteHeader(e.Status)
	_, _ = w.Write(b)
}
