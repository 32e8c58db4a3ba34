package logs

import (
	"encoding/base64"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestReportLine(t *testing.T) {
	tests := []struct {
		name string
		r    Report
		want string
	}{
		{name: "warm", r: Report{RequestID: "id1", Duration: 12960 * time.Microsecond, BilledDuration: 12960 * time.Microsecond, MemoryMB: 128, MaxMemoryBytes: 48<<20 - 5},
			want: "REPORT RequestId: id1\tDuration: 12.96 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\tMax Memory Used: 48 MB\t"},
		{name: "cold traced", r: Report{RequestID: "id2", Duration: 1500 * time.Microsecond, BilledDuration: 2 * time.Millisecond, MemoryMB: 256, MaxMemoryBytes: 20 << 20,
			InitDuration: 117864 * time.Microsecond, TraceID: "1-5d9d007f-0a8c7fd02xmpl480aed55ef0", SegmentID: "3d752xmpl1bbe37e", Sampled: true},
			want: "REPORT RequestId: id2\tDuration: 1.50 ms\tBilled Duration: 2 ms\tMemory Size: 256 MB\tMax Memory Used: 20 MB\tInit Duration: 117.86 ms\t\nXRAY TraceId: 1-5d9d007f-0a8c7fd02xmpl480aed55ef0\tSegmentId: 3d752xmpl1bbe37e\tSampled: true\t"},
		{name: "timeout", r: Report{RequestID: "id3", Duration: time.Second, BilledDuration: time.Second, MemoryMB: 128, MaxMemoryBytes: 1, Status: "timeout"},
			want: "REPORT RequestId: id3\tDuration: 1000.00 ms\tBilled Duration: 1000 ms\tMemory Size: 128 MB\tMax Memory Used: 1 MB\tStatus: timeout\t"},
		{name: "crash", r: Report{RequestID: "id4", Duration: 5 * time.Millisecond, BilledDuration: 5 * time.Millisecond, MemoryMB: 128, Status: "error", ErrorType: "Runtime.ExitError"},
			want: "REPORT RequestId: id4\tDuration: 5.00 ms\tBilled Duration: 5 ms\tMemory Size: 128 MB\tMax Memory Used: 0 MB\tStatus: error\tError Type: Runtime.ExitError\t"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.r.Line(); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestOtherLines(t *testing.T) {
	if got := StartLine("r", "$LATEST"); got != "START RequestId: r Version: $LATEST" {
		t.Error(got)
	}
	if got := EndLine("r"); got != "END RequestId: r" {
		t.Error(got)
	}
	if got := InitReportLine(10*time.Second, "init", "timeout", ""); got != "INIT_REPORT Init Duration: 10000.00 ms\tPhase: init\tStatus: timeout" {
		t.Error(got)
	}
	if got := InitReportLine(3*time.Millisecond, "invoke", "error", "Runtime.ExitError"); got != "INIT_REPORT Init Duration: 3.00 ms\tPhase: invoke\tStatus: error\tError Type: Runtime.ExitError" {
		t.Error(got)
	}
	if got := FormatSeconds(3070 * time.Millisecond); got != "3.07" {
		t.Error(got)
	}
	if got := FormatSeconds(time.Second); got != "1.00" {
		t.Error(got)
	}
	re := regexp.MustCompile(`^\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}$`)
	if s := StreamName(time.Now(), "$LATEST"); !re.MatchString(s) {
		t.Errorf("stream name %q", s)
	}
}

func TestTail(t *testing.T) {
	long := strings.Repeat("a", 5000) + "END"
	dec, err := base64.StdEncoding.DecodeString(Tail([]byte(long)))
	if err != nil || len(dec) != TailBytes || !strings.HasSuffix(string(dec), "END") {
		t.Errorf("tail of %d bytes: %d bytes, %v", len(long), len(dec), err)
	}
	dec, _ = base64.StdEncoding.DecodeString(Tail([]byte("short")))
	if string(dec) != "short" {
		t.Errorf("got %q", dec)
	}
}

func TestRegistry(t *testing.T) {
	r := NewRegistry(3)
	now := time.Now()
	w := r.Writer("f")
	for i := range 5 {
		w.Append("s", now, string(rune('a'+i)))
	}
	r.Append("g", "s", now, "other")
	msgs := func(evs []Event) string {
		var b strings.Builder
		for _, e := range evs {
			b.WriteString(e.Message)
		}
		return b.String()
	}
	if got := msgs(r.Recent("f", 0, 0)); got != "cde" {
		t.Errorf("Recent = %q, want cde", got)
	}
	if got := msgs(r.Recent("f", 0, 2)); got != "de" {
		t.Errorf("Recent limit 2 = %q, want de", got)
	}
	evs := r.Recent("f", 4, 0)
	if got := msgs(evs); got != "e" || evs[0].Seq != 5 {
		t.Errorf("Recent after 4 = %q %+v", got, evs)
	}
	r.Delete("f")
	if got := r.Recent("f", 0, 0); len(got) != 0 {
		t.Errorf("after Delete: %v", got)
	}
	if got := msgs(r.Recent("g", 0, 10)); got != "other" {
		t.Errorf("g = %q", got)
	}
	big := strings.Repeat("x", MaxEventBytes+10)
	r.Append("h", "s", now, big)
	if got := r.Recent("h", 0, 1)[0].Message; len(got) != MaxEventBytes {
		t.Errorf("event not truncated: %d", len(got))
	}
}
