package xrayemit

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/*.json golden files")

func TestTimeMarshal(t *testing.T) {
	tests := []struct {
		in   time.Time
		want string
	}{
		{time.UnixMicro(1706700000123456), "1706700000.123456"},
		{time.UnixMicro(1706700000000001), "1706700000.000001"},
		{time.Unix(5, 0), "5.000000"},
	}
	for _, tc := range tests {
		b, err := json.Marshal(Time(tc.in))
		if err != nil || string(b) != tc.want {
			t.Errorf("Marshal(%v) = %s, %v; want %s", tc.in, b, err, tc.want)
		}
	}
}

func TestRawCause(t *testing.T) {
	if c := RawCause([]byte(`{"exceptions":[{"type":"E","message":"m"}]}`)); c == nil {
		t.Error("valid cause rejected")
	}
	for _, bad := range []string{"", "[]", "not json", `"x"`, `{"a":` + string(bytes.Repeat([]byte("1"), MaxCauseBytes)) + `}`} {
		if c := RawCause([]byte(bad)); c != nil {
			t.Errorf("RawCause(%.20q) accepted", bad)
		}
	}
}

// goldenDocs are deterministic examples of every document shape the invoker
// emits; they are written to testdata/ for the collector's decoder test.
func goldenDocs() map[string]*Document {
	t0 := time.UnixMicro(1706700000100000)
	at := func(ms float64) time.Time { return t0.Add(time.Duration(ms * float64(time.Millisecond))) }
	const (
		trace = "1-65b9a2e0-4f1c7a2b9d3e5f60718293a4"
		arn   = "arn:aws:lambda:us-east-1:000000000000:function:orders"
		qarn  = arn + ":$LATEST"
	)
	return map[string]*Document{
		"lambda_service.json": NewServiceSegment(Service{
			TraceID: trace, ID: "1a2b3c4d5e6f7081", ParentID: "53995c3f42cd8ad8",
			FunctionName: "orders", FunctionARN: arn, RequestID: "2f1d4c1e-7b58-4f5e-9a43-6a0c8f1b2d3e",
			Start: at(0), End: at(14.2), Status: 200,
		}),
		"lambda_function_cold.json": NewFunctionSegment(Function{
			TraceID: trace, ID: "2b3c4d5e6f708192", ParentID: "1a2b3c4d5e6f7081",
			FunctionName: "orders", FunctionARN: arn, QualifiedARN: qarn, AccountID: "000000000000",
			InitStart: at(0.3), InitEnd: at(9.1), InvocationID: "3c4d5e6f708192a3", InitID: "d6e7f8091a2b3c4d", OverheadID: "e7f8091a2b3c4d5e",
			InvokeStart: at(9.2), ResponseEnd: at(13.9), End: at(14.0),
		}),
		"lambda_function_error.json": NewFunctionSegment(Function{
			TraceID: trace, ID: "4d5e6f708192a3b4", ParentID: "1a2b3c4d5e6f7081",
			FunctionName: "orders", FunctionARN: arn, QualifiedARN: arn + ":3", AccountID: "000000000000",
			InvocationID: "5e6f708192a3b4c5", OverheadID: "f8091a2b3c4d5e6f", InvokeStart: at(0.2), ResponseEnd: at(2.5), End: at(2.6),
			Error: true,
			Cause: RawCause([]byte(`{"working_directory":"/var/task","exceptions":[{"type":"errorString","message":"boom","stack":[{"path":"main.go","line":12,"label":"handler"}]}],"paths":["main.go"]}`)),
		}),
		"lambda_function_timeout.json": NewFunctionSegment(Function{
			TraceID: trace, ID: "6f708192a3b4c5d6", ParentID: "1a2b3c4d5e6f7081",
			FunctionName: "orders", FunctionARN: arn, QualifiedARN: qarn, AccountID: "000000000000",
			InvocationID: "708192a3b4c5d6e7", InvokeStart: at(0.2), ResponseEnd: at(1000.2), End: at(1000.2),
			Fault: true,
			Cause: &Cause{WorkingDirectory: "/var/task", Exceptions: []Exception{{ID: "8192a3b4c5d6e7f8", Type: "Sandbox.Timedout", Message: "Task timed out after 1.00 seconds"}}},
		}),
		"lambda_service_throttle.json": NewServiceSegment(Service{
			TraceID: trace, ID: "92a3b4c5d6e7f809", FunctionName: "orders", FunctionARN: arn,
			RequestID: "0c9e8d7f-6a5b-4c3d-2e1f-0a9b8c7d6e5f", Start: at(0), End: at(0.1), Status: 429, Throttle: true,
		}),
		"lambda_service_event.json": NewServiceSegment(Service{
			TraceID: trace, ID: "a3b4c5d6e7f8091a", FunctionName: "orders", FunctionARN: arn,
			RequestID: "7e6d5c4b-3a29-4817-a6f5-e4d3c2b1a098", Start: at(0), End: at(62040), Status: 202,
			DwellStart: at(0.1), DwellEnd: at(3.2), DwellID: "091a2b3c4d5e6f70",
			Attempts: []Span{
				{ID: "b4c5d6e7f8091a2b", Start: at(3.2), End: at(20), Status: 200, Error: true},
				{ID: "c5d6e7f8091a2b3c", Start: at(60020), End: at(62040), Status: 200},
			},
		}),
	}
}

func TestGoldenDocuments(t *testing.T) {
	for name, doc := range goldenDocs() {
		t.Run(name, func(t *testing.T) {
			wire, err := Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			header, body, ok := bytes.Cut(wire, []byte("\n"))
			if !ok || string(header)+"\n" != DaemonHeader {
				t.Fatalf("bad framing: %q", wire)
			}
			var indented bytes.Buffer
			if err := json.Indent(&indented, body, "", "  "); err != nil {
				t.Fatal(err)
			}
			indented.WriteByte('\n')
			path := filepath.Join("testdata", name)
			if *update {
				if err := os.WriteFile(path, indented.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create)", err)
			}
			if !bytes.Equal(want, indented.Bytes()) {
				t.Errorf("%s differs from emitted document:\n%s", path, indented.Bytes())
			}
			var m map[string]any
			if err := json.Unmarshal(body, &m); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"name", "id", "trace_id", "start_time", "end_time", "origin"} {
				if _, ok := m[k]; !ok {
					t.Errorf("missing %q", k)
				}
			}
		})
	}
}

func TestUDPEmitter(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	e, err := NewUDPEmitter(pc.LocalAddr().String(), 8, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	doc := goldenDocs()["lambda_service.json"]
	if err := e.Emit(ctx, doc); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, MaxDatagram)
	_ = pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := Marshal(doc)
	if !bytes.Equal(buf[:n], want) {
		t.Errorf("datagram = %q, want %q", buf[:n], want)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if s := e.Stats(); s.Sent != 1 {
		t.Errorf("stats = %+v", s)
	}
}

func TestUDPEmitterDropsWhenFull(t *testing.T) {
	e, err := NewUDPEmitter("127.0.0.1:9", 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	doc := &Document{Name: "x", ID: NewID()}
	for range 3 {
		_ = e.Emit(context.Background(), doc)
	}
	if s := e.Stats(); s.Dropped != 2 {
		t.Errorf("dropped = %d, want 2", s.Dropped)
	}
}
