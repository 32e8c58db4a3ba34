package runtimeapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
)

// Extension is a registration request (POST /2020-01-01/extension/register).
type Extension struct {
	Name           string   // Lambda-Extension-Name
	Events         []string // "INVOKE", "SHUTDOWN"
	AcceptFeatures string   // Lambda-Extension-Accept-Feature
}

// Registration is the answer to a successful registration.
type Registration struct {
	ID              string // Lambda-Extension-Identifier
	FunctionName    string `json:"functionName"`
	FunctionVersion string `json:"functionVersion"`
	Handler         string `json:"handler"`
	AccountID       string `json:"accountId,omitempty"`
}

// ExtensionsBackend is implemented by backends that run extensions. When the
// Backend given to Listen does not implement it, the Extensions API answers
// 404 Extension.NotSupported (Lambda answers 404 when extensions are
// disabled), so a runtime that probes it continues without extensions.
type ExtensionsBackend interface {
	RegisterExtension(ext Extension) (Registration, error)
	// NextExtensionEvent blocks until the extension's next INVOKE or SHUTDOWN
	// event (JSON, §2.2 of the design) or ctx is done.
	NextExtensionEvent(ctx context.Context, id string) ([]byte, error)
	// ExtensionError records an init or exit error ("init" or "exit").
	ExtensionError(id, phase, errorType string, body []byte) error
}

var errExtensionsDisabled = &Error{Status: http.StatusNotFound, Type: "Extension.NotSupported",
	Message: "extensions are not supported by this environment"}

func (s *Server) extensions() (ExtensionsBackend, bool) {
	eb, ok := s.backend.(ExtensionsBackend)
	return eb, ok
}

func (s *Server) extRegister(w http.ResponseWriter, r *http.Request) {
	eb, ok := s.extensions()
	if !ok {
		writeError(w, errExtensionsDisabled)
		return
	}
	name := r.Header.Get("Lambda-Extension-Name")
	if name == "" {
		writeError(w, &Error{Status: http.StatusForbidden, Type: "Extension.InvalidExtensionName", Message: "Empty extension name"})
		return
	}
	var req struct {
		Events            []string `json:"events"`
		ConfigurationKeys []string `json:"configurationKeys"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil || req.ConfigurationKeys != nil {
		writeError(w, &Error{Status: http.StatusForbidden, Type: "InvalidRequestFormat", Message: "invalid registration request"})
		return
	}
	reg, err := eb.RegisterExtension(Extension{Name: name, Events: req.Events, AcceptFeatures: r.Header.Get("Lambda-Extension-Accept-Feature")})
	if err != nil {
		writeError(w, err)
		return
	}
	b, _ := json.Marshal(reg)
	w.Header().Set("Lambda-Extension-Identifier", reg.ID)
	w.Header().Set("Content-Type", contentTypeJSON)
	_, _ = w.Write(b)
}

func (s *Server) extNext(w http.ResponseWriter, r *http.Request) {
	eb, ok := s.extensions()
	if !ok {
		writeError(w, errExtensionsDisabled)
		return
	}
	id := r.Header.Get("Lambda-Extension-Identifier")
	if id == "" {
		writeError(w, &Error{Status: http.StatusForbidden, Type: "Extension.MissingExtensionIdentifier", Message: "Missing Lambda-Extension-Identifier header"})
		return
	}
	ev, err := eb.NextExtensionEvent(r.Context(), id)
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", contentTypeJSON)
	_, _ = w.Write(ev)
}

func (s *Server) extError(phase string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		eb, ok := s.extensions()
		if !ok {
			writeError(w, errExtensionsDisabled)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, MaxInitErrorBytes))
		if err != nil {
			writeError(w, &Error{Status: http.StatusBadRequest, Type: "TruncatedHTTPRequest", Message: err.Error()})
			return
		}
		if err := eb.ExtensionError(r.Header.Get("Lambda-Extension-Identifier"), phase,
			r.Header.Get("Lambda-Extension-Function-Error-Type"), body); err != nil {
			writeError(w, err)
			return
		}
		writeAccepted(w)
	}
}
