package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// decodeBody decodes the JSON request body into v. An empty body counts as
// {} (aws-sdk-go-v2 sends none for operations without input members).
// Unknown members are ignored, as AWS does.
func decodeBody(c echo.Context, v any) error {
	req := c.Request()
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), req.Body, maxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return invalidRequest("request body is larger than %d bytes", maxBodyBytes)
		}
		return fmt.Errorf("read request body: %w", err)
	}
	return decodeJSON(body, v)
}

// decodeJSON is decodeBody's pure part.
func decodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		var (
			te *json.UnmarshalTypeError
			se *json.SyntaxError
			ee *epochError
		)
		switch {
		case errors.As(err, &ee):
			return invalidRequest("%s", ee.Error())
		case errors.As(err, &te):
			field := te.Field
			if field == "" {
				return invalidRequest("request body must be a JSON object, not %s", te.Value)
			}
			return invalidRequest("member %s must be %s, not %s", field, jsonTypeName(te.Type.String()), te.Value)
		case errors.As(err, &se):
			return invalidRequest("request body is not valid JSON: %v (at byte %d)", se, se.Offset)
		default:
			return invalidRequest("request body is not valid JSON: %v", err)
		}
	}
	return nil
}

func jsonTypeName(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case strings.Contains(goType, "string"):
		return "a string"
	case strings.Contains(goType, "float"), strings.Contains(goType, "int"):
		return "a number"
	case strings.Contains(goType, "bool"):
		return "a boolean"
	default:
		return "an object"
	}
}

// epochTime is an X-Ray timestamp member: a JSON number of epoch seconds,
// as the AWS SDKs send. Strings holding a number or an RFC 3339 time are
// accepted too, for hand-written requests.
type epochTime struct{ t time.Time }

type epochError struct{ msg string }

func (e *epochError) Error() string { return e.msg }

// UnmarshalJSON implements json.Unmarshaler.
func (e *epochTime) UnmarshalJSON(b []byte) error {
	s := string(b)
	if len(s) > 0 && s[0] == '"' {
		var str string
		if err := json.Unmarshal(b, &str); err != nil {
			return err
		}
		if t, err := time.Parse(time.RFC3339Nano, str); err == nil {
			e.t = t
			return nil
		}
		s = str
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e11 {
		return &epochError{fmt.Sprintf("timestamp %s is not a number of epoch seconds (e.g. 1700000000.5) or an RFC 3339 time", b)}
	}
	sec, frac := math.Modf(f)
	e.t = time.Unix(int64(sec), int64(math.Round(frac*1e9))).UTC()
	return nil
}

// epochSeconds formats t as X-Ray does: epoch seconds as a JSON number.
func epochSeconds(t time.Time) float64 {
	return float64(t.UnixMicro()) / 1e6
}
