package invoker

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// Benchmarks of the Invoke API with a no-op Go function (testdata/noop),
// called over loopback HTTP with keep-alive connections:
//
//	go test -run '^$' -bench . -benchtime 5000x ./invoker/
//
// Each reports p50/p99 latency (ms) and invokes/s; failures must stay 0.

var (
	noopOnce sync.Once
	noopZip  []byte
	noopErr  error
)

func noopPackage(b *testing.B) []byte {
	noopOnce.Do(func() {
		dir, err := os.MkdirTemp("", "noop-")
		if err != nil {
			noopErr = err
			return
		}
		defer os.RemoveAll(dir)
		out := filepath.Join(dir, "bootstrap")
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./testdata/noop")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if msg, err := cmd.CombinedOutput(); err != nil {
			noopErr = fmt.Errorf("go build: %v\n%s", err, msg)
			return
		}
		bin, err := os.ReadFile(out)
		if err != nil {
			noopErr = err
			return
		}
		noopZip = zipBinary(bin)
	})
	if noopErr != nil {
		b.Fatal(noopErr)
	}
	return noopZip
}

type benchEnv struct {
	url    string // invoke URL
	base   string
	client *http.Client
	cancel context.CancelFunc
	done   chan error
}

func startBench(b *testing.B) *benchEnv {
	b.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0") // segments go nowhere
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { pc.Close() })
	dir, err := os.MkdirTemp("", "invoker-bench-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	cfg := DefaultConfig()
	cfg.LambdaAddr = "127.0.0.1:0"
	cfg.DataDir = dir
	cfg.XRayDaemonAddr = pc.LocalAddr().String()
	cfg.SamplingAddr = "off"
	inv, err := New(cfg, Settings{})
	if err != nil {
		b.Fatal(err)
	}
	if err := inv.Listen(); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &benchEnv{base: "http://" + inv.Addr(), cancel: cancel, done: make(chan error, 1)}
	go func() { e.done <- inv.Run(ctx) }()
	b.Cleanup(func() { cancel(); <-e.done })
	e.client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 0, DisableCompression: true}}
	c := lambda.New(lambda.Options{Region: "us-east-1", BaseEndpoint: aws.String(e.base),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")})
	if _, err := c.CreateFunction(context.Background(), &lambda.CreateFunctionInput{
		FunctionName: aws.String("noop"), Runtime: types.RuntimeProvidedal2023, Role: aws.String("arn:aws:iam::000000000000:role/r"),
		Handler: aws.String("bootstrap"), Code: &types.FunctionCode{ZipFile: noopPackage(b)},
	}); err != nil {
		b.Fatal(err)
	}
	e.url = e.base + "/2015-03-31/functions/noop/invocations"
	return e
}

var benchPayload = []byte(`{"hello":"world"}`)

// invoke makes one call; it returns an error for anything but a 200 without
// X-Amz-Function-Error.
func (e *benchEnv) invoke() error {
	resp, err := e.client.Post(e.url, "application/json", bytes.NewReader(benchPayload))
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Amz-Function-Error") != "" {
		return fmt.Errorf("status %d %s", resp.StatusCode, resp.Header.Get("X-Amz-Function-Error"))
	}
	return nil
}

func reportLatencies(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	q := func(p float64) float64 {
		return float64(lat[min(int(p*float64(len(lat))), len(lat)-1)]) / float64(time.Millisecond)
	}
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
}

// BenchmarkInvokeWarmSequential: one caller, warm environment.
func BenchmarkInvokeWarmSequential(b *testing.B) {
	e := startBench(b)
	for range 200 {
		if err := e.invoke(); err != nil {
			b.Fatal(err)
		}
	}
	lat := make([]time.Duration, 0, 1<<16)
	failures := 0
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		t0 := time.Now()
		if err := e.invoke(); err != nil {
			failures++
		}
		lat = append(lat, time.Since(t0))
	}
	b.ReportMetric(float64(len(lat))/time.Since(start).Seconds(), "invokes/s")
	b.ReportMetric(float64(failures), "failures")
	reportLatencies(b, lat)
}

// BenchmarkInvokeConcurrent: N callers in parallel, each waiting for its
// answer before the next call.
func BenchmarkInvokeConcurrent(b *testing.B) {
	for _, n := range []int{1, 2, 8, 32} {
		b.Run(fmt.Sprintf("callers=%d", n), func(b *testing.B) {
			e := startBench(b)
			// Warm n environments.
			var wg sync.WaitGroup
			for range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range 20 {
						_ = e.invoke()
					}
				}()
			}
			wg.Wait()
			var next atomic.Int64
			var failures atomic.Int64
			lats := make([][]time.Duration, n)
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						t0 := time.Now()
						if err := e.invoke(); err != nil {
							failures.Add(1)
						}
						lats[i] = append(lats[i], time.Since(t0))
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			var all []time.Duration
			for _, l := range lats {
				all = append(all, l...)
			}
			b.ReportMetric(float64(len(all))/elapsed.Seconds(), "invokes/s")
			b.ReportMetric(float64(failures.Load()), "failures")
			reportLatencies(b, all)
		})
	}
}

// BenchmarkColdStart: time from the request to the first response of a new
// environment (bootstrap start, Init, first invocation, isolation set-up
// included). Each iteration first retires the warm environment by changing
// the function's configuration.
func BenchmarkColdStart(b *testing.B) {
	e := startBench(b)
	if err := e.invoke(); err != nil {
		b.Fatal(err)
	}
	var lat []time.Duration
	i := 0
	for b.Loop() {
		b.StopTimer()
		i++
		body := fmt.Sprintf(`{"Environment":{"Variables":{"ROUND":"%d"}}}`, i)
		req, _ := http.NewRequest(http.MethodPut, e.base+"/2015-03-31/functions/noop/configuration", strings.NewReader(body))
		resp, err := e.client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		b.StartTimer()
		t0 := time.Now()
		if err := e.invoke(); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	reportLatencies(b, lat)
}
