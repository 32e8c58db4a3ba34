package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/fluoro/fluoro/query/alert"
	"github.com/fluoro/fluoro/schema/chstore"
)

// AlertManager is the alerting engine behind the /alerting API and the
// Insights operations; query/alert's *Engine satisfies it.
type AlertManager interface {
	Rules() []alert.RuleStatus
	Rule(id string) (alert.RuleStatus, error)
	ValidateRule(r *alert.Rule) error
	CreateRule(ctx context.Context, r alert.Rule) (alert.Rule, error)
	PutRule(ctx context.Context, id string, r alert.Rule) (alert.Rule, error)
	DeleteRule(ctx context.Context, id string) error
	Alerts() []alert.RuleStatus
	Receivers() []alert.ReceiverInfo
	History(ctx context.Context, q chstore.AlertEventQuery) ([]chstore.AlertEvent, error)
	Deliveries(ctx context.Context, q chstore.AlertDeliveryQuery) ([]chstore.AlertDelivery, error)
	Episodes(ctx context.Context, q chstore.AlertEpisodeQuery) ([]chstore.AlertEpisode, error)
}

// alertingRoutes is the Fluoro alerting API (query/alert/README.md): JSON
// in and out, errors in the X-Ray shape (X-Amzn-ErrorType and
// {"__type", "Message"}; rule validation adds "Errors").
func (s *Server) alertingRoutes() []route {
	if s.alerts == nil {
		return nil
	}
	return []route{
		{http.MethodGet, "/alerting/rules", "AlertingListRules", s.handleListAlertRules},
		{http.MethodPost, "/alerting/rules", "AlertingCreateRule", s.handleCreateAlertRule},
		{http.MethodPost, "/alerting/rules/validate", "AlertingValidateRule", s.handleValidateAlertRule},
		{http.MethodGet, "/alerting/rules/:id", "AlertingGetRule", s.handleGetAlertRule},
		{http.MethodPut, "/alerting/rules/:id", "AlertingPutRule", s.handlePutAlertRule},
		{http.MethodDelete, "/alerting/rules/:id", "AlertingDeleteRule", s.handleDeleteAlertRule},
		{http.MethodGet, "/alerting/alerts", "AlertingListAlerts", s.handleListAlerts},
		{http.MethodGet, "/alerting/history", "AlertingHistory", s.handleAlertHistory},
		{http.MethodGet, "/alerting/deliveries", "AlertingDeliveries", s.handleAlertDeliveries},
		{http.MethodGet, "/alerting/receivers", "AlertingReceivers", s.handleAlertReceivers},
	}
}

// alertingError maps the engine's errors to API errors.
func alertingError(err error) error {
	var ve *alert.ValidationError
	switch {
	case errors.As(err, &ve):
		return &validationError{ve: ve}
	case errors.Is(err, alert.ErrNotFound):
		return &Error{Status: http.StatusNotFound, Code: codeNotFound, Message: err.Error()}
	case errors.Is(err, alert.ErrConflict):
		return &Error{Status: http.StatusConflict, Code: "ConflictException", Message: err.Error() + "; PUT /alerting/rules/{id} replaces a rule"}
	case errors.Is(err, alert.ErrReadOnly):
		return &Error{Status: http.StatusConflict, Code: "ConflictException", Message: err.Error()}
	}
	return err
}

// validationError is a rule's list of problems: InvalidRequestException
// with an extra "Errors" member, one entry per field (with the byte
// position in a filter expression), for editors to show inline.
type validationError struct{ ve *alert.ValidationError }

func (e *validationError) Error() string { return e.ve.Error() }

// writeValidation answers a validationError (handled here, not by
// handleError, for the extra member).
func (s *Server) writeValidation(c echo.Context, ve *alert.ValidationError) error {
	b, _ := json.Marshal(struct {
		Type    string             `json:"__type"`
		Message string             `json:"Message"`
		Errors  []alert.FieldError `json:"Errors"`
	}{codeInvalidRequest, "invalid alert rule: " + ve.Error(), ve.Errors})
	h := c.Response().Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Amzn-ErrorType", codeInvalidRequest)
	c.Response().WriteHeader(http.StatusBadRequest)
	_, _ = c.Response().Write(b)
	s.metrics.count(opFromContext(c), codeInvalidRequest)
	return nil
}

// fail returns err as the handler's result, answering validation errors
// itself.
func (s *Server) fail(c echo.Context, err error) error {
	err = alertingError(err)
	var v *validationError
	if errors.As(err, &v) {
		return s.writeValidation(c, v.ve)
	}
	return err
}

// decodeRule reads a rule from the request body (unknown fields are
// errors, so a typo is not silently ignored).
func decodeRule(c echo.Context) (alert.Rule, error) {
	var r alert.Rule
	body, err := readBody(c)
	if err != nil {
		return r, err
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return r, invalidRequest("rule JSON: %v", err)
	}
	return r, nil
}

// readBody reads the request body (at most maxBodyBytes).
func readBody(c echo.Context) ([]byte, error) {
	var raw json.RawMessage
	if err := decodeBody(c, &raw); err != nil {
		return nil, err
	}
	if len(raw) == 0 || string(raw) == "null" {
		return nil, invalidRequest("the request body must be a JSON rule object")
	}
	return raw, nil
}

func (s *Server) handleListAlertRules(c echo.Context) error {
	rs := s.alerts.Rules()
	if rs == nil {
		rs = []alert.RuleStatus{}
	}
	return writeJSON(c, map[string]any{"rules": rs})
}

func (s *Server) handleGetAlertRule(c echo.Context) error {
	rs, err := s.alerts.Rule(c.Param("id"))
	if err != nil {
		return s.fail(c, err)
	}
	return writeJSON(c, rs)
}

func (s *Server) handleCreateAlertRule(c echo.Context) error {
	r, err := decodeRule(c)
	if err != nil {
		return err
	}
	got, err := s.alerts.CreateRule(c.Request().Context(), r)
	if err != nil {
		return s.fail(c, err)
	}
	rs, err := s.alerts.Rule(got.ID)
	if err != nil {
		return s.fail(c, err)
	}
	return c.JSON(http.StatusCreated, rs)
}

func (s *Server) handlePutAlertRule(c echo.Context) error {
	r, err := decodeRule(c)
	if err != nil {
		return err
	}
	got, err := s.alerts.PutRule(c.Request().Context(), c.Param("id"), r)
	if err != nil {
		return s.fail(c, err)
	}
	rs, err := s.alerts.Rule(got.ID)
	if err != nil {
		return s.fail(c, err)
	}
	return writeJSON(c, rs)
}

func (s *Server) handleValidateAlertRule(c echo.Context) error {
	r, err := decodeRule(c)
	if err != nil {
		return err
	}
	if err := s.alerts.ValidateRule(&r); err != nil {
		return s.fail(c, err)
	}
	return writeJSON(c, map[string]any{"valid": true, "rule": r})
}

func (s *Server) handleDeleteAlertRule(c echo.Context) error {
	if err := s.alerts.DeleteRule(c.Request().Context(), c.Param("id")); err != nil {
		return s.fail(c, err)
	}
	return writeJSON(c, struct{}{})
}

func (s *Server) handleListAlerts(c echo.Context) error {
	as := s.alerts.Alerts()
	if as == nil {
		as = []alert.RuleStatus{}
	}
	return writeJSON(c, map[string]any{"alerts": as})
}

func (s *Server) handleAlertReceivers(c echo.Context) error {
	return writeJSON(c, map[string]any{"receivers": s.alerts.Receivers()})
}

// historyParams reads rule, alert, start, end and limit.
func historyParams(c echo.Context) (rule, alertID string, start, end time.Time, limit int, err error) {
	rule, alertID = c.QueryParam("rule"), c.QueryParam("alert")
	if start, err = queryTime(c, "start"); err != nil {
		return
	}
	if end, err = queryTime(c, "end"); err != nil {
		return
	}
	if !start.IsZero() && !end.IsZero() && !end.After(start) {
		err = invalidRequest("end must be after start")
		return
	}
	limit = 100
	if v := c.QueryParam("limit"); v != "" {
		n, perr := strconv.Atoi(v)
		if perr != nil || n < 1 || n > 1000 {
			err = invalidRequest("limit %q: want 1 to 1000", v)
			return
		}
		limit = n
	}
	return
}

// queryTime reads a time parameter: RFC 3339 or epoch seconds.
func queryTime(c echo.Context, name string) (time.Time, error) {
	v := c.QueryParam(name)
	if v == "" {
		return time.Time{}, nil
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil && f >= 0 && f < 1e11 {
		return time.UnixMicro(int64(f * 1e6)).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, invalidRequest("%s %q: want RFC 3339 (2006-01-02T15:04:05Z) or epoch seconds", name, v)
	}
	return t, nil
}

// alertEvent is one history entry as the API shows it.
type alertEvent struct {
	Time      time.Time         `json:"time"`
	RuleID    string            `json:"rule_id"`
	RuleName  string            `json:"rule_name"`
	AlertID   string            `json:"alert_id"`
	State     string            `json:"state"`
	Severity  string            `json:"severity"`
	Value     float64           `json:"value"`
	Threshold float64           `json:"threshold"`
	Matching  uint64            `json:"matching"`
	Total     uint64            `json:"total"`
	RootCause *alert.ServiceRef `json:"root_cause_service,omitempty"`
	TraceIDs  []string          `json:"trace_ids"`
	Message   string            `json:"message"`
}

func (s *Server) handleAlertHistory(c echo.Context) error {
	rule, alertID, start, end, limit, err := historyParams(c)
	if err != nil {
		return err
	}
	evs, err := s.alerts.History(c.Request().Context(), chstore.AlertEventQuery{RuleID: rule, EpisodeID: alertID, Start: start, End: end, Limit: limit})
	if err != nil {
		return err
	}
	out := make([]alertEvent, len(evs))
	for i, e := range evs {
		out[i] = alertEvent{Time: e.Time, RuleID: e.RuleID, RuleName: e.RuleName, AlertID: e.EpisodeID, State: e.State, Severity: e.Severity,
			Value: e.Value, Threshold: e.Threshold, Matching: e.Matching, Total: e.Total, TraceIDs: e.TraceIDs, Message: e.Message}
		if out[i].TraceIDs == nil {
			out[i].TraceIDs = []string{}
		}
		if e.RootService != "" {
			out[i].RootCause = &alert.ServiceRef{Name: e.RootService, Type: e.RootServiceType}
		}
	}
	return writeJSON(c, map[string]any{"events": out})
}

// alertDelivery is one delivery attempt as the API shows it.
type alertDelivery struct {
	Time           time.Time `json:"time"`
	NotificationID string    `json:"notification_id"`
	RuleID         string    `json:"rule_id"`
	AlertID        string    `json:"alert_id"`
	Receiver       string    `json:"receiver"`
	ReceiverType   string    `json:"receiver_type"`
	State          string    `json:"state"`
	Attempt        int       `json:"attempt"`
	Outcome        string    `json:"outcome"`
	HTTPStatus     int       `json:"http_status,omitempty"`
	Error          string    `json:"error,omitempty"`
	DurationMS     float64   `json:"duration_ms"`
}

func (s *Server) handleAlertDeliveries(c echo.Context) error {
	rule, alertID, start, end, limit, err := historyParams(c)
	if err != nil {
		return err
	}
	ds, err := s.alerts.Deliveries(c.Request().Context(), chstore.AlertDeliveryQuery{RuleID: rule, EpisodeID: alertID, Start: start, End: end, Limit: limit})
	if err != nil {
		return err
	}
	out := make([]alertDelivery, len(ds))
	for i, d := range ds {
		out[i] = alertDelivery{Time: d.Time, NotificationID: d.NotificationID, RuleID: d.RuleID, AlertID: d.EpisodeID, Receiver: d.Receiver,
			ReceiverType: d.ReceiverType, State: d.State, Attempt: d.Attempt, Outcome: d.Outcome, HTTPStatus: d.HTTPStatus, Error: d.Error,
			DurationMS: float64(d.Duration.Microseconds()) / 1000}
	}
	return writeJSON(c, map[string]any{"deliveries": out})
}
