package logs

import (
	"encoding/base64"
	"encoding/hex"
	"math"
	"math/rand/v2"
	"strconv"
	"time"
)

// TailBytes is how much of an invocation's log X-Amz-Log-Result carries.
const TailBytes = 4096

// StartLine returns "START RequestId: <id> Version: <version>".
func StartLine(requestID, version string) string {
	return "START RequestId: " + requestID + " Version: " + version
}

// EndLine returns "END RequestId: <id>".
func EndLine(requestID string) string {
	return "END RequestId: " + requestID
}

// InitStartLine returns the INIT_START line of a new environment.
func InitStartLine(runtimeVersion, runtimeVersionARN string) string {
	return "INIT_START Runtime Version: " + runtimeVersion + "\tRuntime Version ARN: " + runtimeVersionARN
}

// InitReportLine returns the INIT_REPORT line Lambda writes when Init failed
// or timed out (phase "init" or "invoke"; status "error" or "timeout").
func InitReportLine(d time.Duration, phase, status, errorType string) string {
	b := []byte("INIT_REPORT Init Duration: ")
	b = appendMillis(b, d)
	b = append(b, " ms\tPhase: "...)
	b = append(b, phase...)
	b = append(b, "\tStatus: "...)
	b = append(b, status...)
	if errorType != "" {
		b = append(b, "\tError Type: "...)
		b = append(b, errorType...)
	}
	return string(b)
}

// Report is the content of a REPORT line.
type Report struct {
	RequestID string
	Duration  time.Duration
	// BilledDuration is rounded up to the next millisecond.
	BilledDuration time.Duration
	MemoryMB       int
	MaxMemoryBytes int64
	// InitDuration is set on the first invocation of an environment.
	InitDuration time.Duration
	// Status is "" (success or function error), "timeout" or "error";
	// ErrorType accompanies "error".
	Status, ErrorType string
	// TraceID/SegmentID are set for traced invocations (SegmentID = the
	// AWS::Lambda::Function segment).
	TraceID, SegmentID string
	Sampled            bool
}

// Line formats the REPORT line: fields in AWS's order, each followed by a tab.
func (r *Report) Line() string {
	b := make([]byte, 0, 256)
	b = append(b, "REPORT RequestId: "...)
	b = append(b, r.RequestID...)
	b = append(b, "\tDuration: "...)
	b = appendMillis(b, r.Duration)
	b = append(b, " ms\tBilled Duration: "...)
	b = strconv.AppendInt(b, ceilMillis(r.BilledDuration), 10)
	b = append(b, " ms\tMemory Size: "...)
	b = strconv.AppendInt(b, int64(r.MemoryMB), 10)
	b = append(b, " MB\tMax Memory Used: "...)
	b = strconv.AppendInt(b, MaxMemoryMB(r.MaxMemoryBytes), 10)
	b = append(b, " MB\t"...)
	if r.InitDuration > 0 {
		b = append(b, "Init Duration: "...)
		b = appendMillis(b, r.InitDuration)
		b = append(b, " ms\t"...)
	}
	if r.Status != "" {
		b = append(b, "Status: "...)
		b = append(b, r.Status...)
		b = append(b, '\t')
		if r.ErrorType != "" {
			b = append(b, "Error Type: "...)
			b = append(b, r.ErrorType...)
			b = append(b, '\t')
		}
	}
	if r.TraceID != "" {
		b = append(b, "\nXRAY TraceId: "...)
		b = append(b, r.TraceID...)
		b = append(b, "\tSegmentId: "...)
		b = append(b, r.SegmentID...)
		b = append(b, "\tSampled: "...)
		b = strconv.AppendBool(b, r.Sampled)
		b = append(b, '\t')
	}
	return string(b)
}

// MaxMemoryMB converts a byte count to whole MB, rounded up as Lambda does.
func MaxMemoryMB(b int64) int64 {
	return (b + (1<<20 - 1)) >> 20
}

func ceilMillis(d time.Duration) int64 {
	return int64(math.Ceil(float64(d) / float64(time.Millisecond)))
}

// appendMillis appends d in milliseconds with two decimals.
func appendMillis(b []byte, d time.Duration) []byte {
	hundredths := (d + 5*time.Microsecond) / (10 * time.Microsecond)
	b = strconv.AppendInt(b, int64(hundredths/100), 10)
	b = append(b, '.')
	frac := hundredths % 100
	if frac < 10 {
		b = append(b, '0')
	}
	return strconv.AppendInt(b, int64(frac), 10)
}

// FormatSeconds returns d in seconds with two decimals ("3.00"), as used in
// "Task timed out after 3.00 seconds".
func FormatSeconds(d time.Duration) string {
	return string(appendMillis(nil, d/1000))
}

// StreamName returns a new log stream name for an environment of version:
// YYYY/MM/DD/[<version>]<32 hex>.
func StreamName(now time.Time, version string) string {
	var r [16]byte
	for i := 0; i < 16; i += 8 {
		v := rand.Uint64()
		for j := range 8 {
			r[i+j] = byte(v >> (8 * j))
		}
	}
	return now.UTC().Format("2006/01/02") + "/[" + version + "]" + hex.EncodeToString(r[:])
}

// Tail returns base64 of the last TailBytes bytes of log.
func Tail(log []byte) string {
	if len(log) > TailBytes {
		log = log[len(log)-TailBytes:]
	}
	return base64.StdEncoding.EncodeToString(log)
}
