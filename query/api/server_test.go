package api

import (
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/xray"
	"github.com/aws/aws-sdk-go-v2/service/xray/types"
)

func TestConfig(t *testing.T) {
	c := DefaultConfig()
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	c.RegisterFlags(fs)
	if err := fs.Parse([]string{"--api-addr", "127.0.0.1:0", "--api-max-window", "6h", "--api-page-size", "50"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:0" || c.MaxWindow != 6*time.Hour || c.PageSize != 50 {
		t.Errorf("flags not applied: %+v", c)
	}
	bad := Config{Addr: "nohost", PageSize: 0, MaxTraceBytes: -1}
	err := bad.Validate()
	for _, want := range []string{"--api-addr", "--api-max-window", "--api-page-size", "--api-max-trace-bytes", "--api-max-concurrent", "--api-shutdown-timeout"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want a complaint about %s", err, want)
		}
	}
	if _, err := New(DefaultConfig(), Settings{}); err == nil {
		t.Error("New without a Reader succeeded")
	}
	if _, err := New(bad, Settings{Reader: newFakeReader()}); err == nil {
		t.Error("New with a bad config succeeded")
	}
}

func TestEpochTime(t *testing.T) {
	cases := []struct {
		in   string
		want time.Time
	}{
		{`1700000000`, time.Unix(1700000000, 0)},
		{`1700000000.25`, time.Unix(1700000000, 250000000)},
		{`1.7E9`, time.Unix(1700000000, 0)},
		{`"1700000000.5"`, time.Unix(1700000000, 500000000)},
		{`"2023-11-14T22:13:20Z"`, time.Unix(1700000000, 0)},
	}
	for _, tc := range cases {
		var e epochTime
		if err := e.UnmarshalJSON([]byte(tc.in)); err != nil || !e.t.Equal(tc.want) {
			t.Errorf("%s → %v, %v; want %v", tc.in, e.t, err, tc.want)
		}
	}
	for _, in := range []string{`-1`, `1e300`, `"soon"`, `true`, `NaN`} {
		var e epochTime
		if err := e.UnmarshalJSON([]byte(in)); err == nil {
			t.Errorf("%s accepted as %v", in, e.t)
		}
	}
}

// TestServeGracefulShutdown: cancelling Run's context lets a request in
// flight finish, then Serve returns nil.
func TestServeGracefulShutdown(t *testing.T) {
	r := newFakeReader()
	r.add(t, segT1)
	r.block, r.entered = make(chan struct{}), make(chan struct{}, 1)
	s, err := New(DefaultConfig(), Settings{Reader: r})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()

	type result struct {
		status int
		body   string
		err    error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := http.Post("http://"+ln.Addr().String()+"/Traces", "application/json", strings.NewReader(`{"TraceIds":["`+t1+`"]}`))
		if err != nil {
			res <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		res <- result{status: resp.StatusCode, body: string(b)}
	}()
	// Shut down once the request is inside Documents.
	<-r.entered
	cancel()
	select {
	case err := <-served:
		t.Fatalf("Serve returned %v with a request in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(r.block)
	got := <-res
	if got.err != nil || got.status != 200 || !strings.Contains(got.body, `"Id":"`+t1+`"`) {
		t.Errorf("request in flight: %d %s %v", got.status, got.body, got.err)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve = %v", err)
	}
}

// TestThrottle: beyond MaxConcurrent operations in flight the SDK gets
// ThrottledException (after its own retries).
func TestThrottle(t *testing.T) {
	r := newFakeReader()
	r.add(t, segT1)
	r.block, r.entered = make(chan struct{}), make(chan struct{}, 1)
	_, client, _ := newTestAPI(t, Settings{Reader: r}, func(c *Config) { c.MaxConcurrent = 1 })
	done := make(chan error, 1)
	go func() {
		_, err := client.BatchGetTraces(context.Background(), &xray.BatchGetTracesInput{TraceIds: []string{t1}})
		done <- err
	}()
	<-r.entered
	_, err := client.BatchGetTraces(context.Background(), &xray.BatchGetTracesInput{TraceIds: []string{t1}})
	var te *types.ThrottledException
	if !errors.As(err, &te) || !strings.Contains(te.ErrorMessage(), "more than 1 X-Ray API requests in flight") {
		t.Errorf("second request: %v", err)
	}
	close(r.block)
	if err := <-done; err != nil {
		t.Errorf("first request: %v", err)
	}
}
