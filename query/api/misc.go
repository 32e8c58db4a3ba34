package api

import (
	"github.com/labstack/echo/v4"
)

// handleGetEncryptionConfig answers GetEncryptionConfig: Fluoro stores
// traces unencrypted at the application level.
func handleGetEncryptionConfig(c echo.Context) error {
	type encryptionConfig struct {
		Type   string `json:"Type"`
		Status string `json:"Status"`
	}
	if err := decodeBody(c, &struct{}{}); err != nil {
		return err
	}
	return writeJSON(c, map[string]encryptionConfig{"EncryptionConfig": {Type: "NONE", Status: "ACTIVE"}})
}

// handleGetTraceSegmentDestination answers GetTraceSegmentDestination:
// segments go to the X-Ray-compatible store.
func handleGetTraceSegmentDestination(c echo.Context) error {
	if err := decodeBody(c, &struct{}{}); err != nil {
		return err
	}
	return writeJSON(c, map[string]string{"Destination": "XRay", "Status": "ACTIVE"})
}

// putTelemetryRecordsInput is PutTelemetryRecords' request (the X-Ray
// daemon's own statistics); only the required members are checked.
type putTelemetryRecordsInput struct {
	TelemetryRecords []struct {
		Timestamp *epochTime
	}
}

// handlePutTelemetryRecords accepts the X-Ray daemon's telemetry and
// discards it, so a daemon whose endpoint is Fluoro logs no errors.
func handlePutTelemetryRecords(c echo.Context) error {
	var in putTelemetryRecordsInput
	if err := decodeBody(c, &in); err != nil {
		return err
	}
	if in.TelemetryRecords == nil {
		return invalidRequest("TelemetryRecords is required")
	}
	for i, r := range in.TelemetryRecords {
		if r.Timestamp == nil {
			return invalidRequest("TelemetryRecords[%d].Timestamp is required", i)
		}
	}
	return writeJSON(c, struct{}{})
}
