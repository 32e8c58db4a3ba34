package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestCheckLoopback(t *testing.T) {
	for endpoint, ok := range map[string]bool{
		"http://127.0.0.1:3001": true, "http://localhost:9000": true, "http://[::1]:3001": true,
		"http://10.0.0.1:3001": false, "https://127.0.0.1:3001": false, "http://example.com": false, "127.0.0.1:3001": false,
	} {
		if err := checkLoopback(endpoint); (err == nil) != ok {
			t.Errorf("checkLoopback(%q) = %v", endpoint, err)
		}
	}
}

func TestSummarize(t *testing.T) {
	var d []time.Duration
	for i := 100; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	l := summarize(d, 2, "boom")
	if l.N != 100 || l.Errors != 2 || l.P50 != 50 || l.P90 != 90 || l.P99 != 99 || l.Max != 100 || l.Mean != 50.5 || l.Error != "boom" {
		t.Errorf("summarize = %+v", l)
	}
	if l := summarize(nil, 1, ""); l.N != 0 || l.P50 != 0 {
		t.Errorf("empty summarize = %+v", l)
	}
}

// fakeLambda serves the Lambda API calls the driver makes.
type fakeLambda struct {
	mu       sync.Mutex
	created  map[string]any
	updates  int
	invokes  atomic.Int64
	throttle atomic.Bool
}

func (f *fakeLambda) handler(t *testing.T) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2015-03-31/functions/{name}/invocations", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if string(body) != `{"bench":true}` || r.PathValue("name") != "bench-noop" {
			t.Errorf("invoke %s with %s", r.PathValue("name"), body)
		}
		if f.invokes.Add(1)%10 == 0 && f.throttle.Load() {
			w.Header().Set("X-Amzn-ErrorType", "TooManyRequestsException")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		io.WriteString(w, `{"ok":true}`)
	})
	mux.HandleFunc("GET /2015-03-31/functions/{name}", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.created == nil {
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"Type":"User","Message":"Function not found"}`)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"Configuration": map[string]any{"State": "Active"}})
	})
	mux.HandleFunc("GET /2015-03-31/functions/{name}/configuration", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"State":"Active","LastUpdateStatus":"Successful"}`)
	})
	mux.HandleFunc("POST /2015-03-31/functions", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		json.NewDecoder(r.Body).Decode(&f.created)
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{}`)
	})
	mux.HandleFunc("PUT /2015-03-31/functions/{name}/configuration", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.updates++
		f.mu.Unlock()
		io.WriteString(w, `{}`)
	})
	return mux
}

func TestRunAgainstInvokeAPI(t *testing.T) {
	for _, client := range []string{"raw", "nethttp"} {
		t.Run(client, func(t *testing.T) { testRunAgainstInvokeAPI(t, client) })
	}
}

func testRunAgainstInvokeAPI(t *testing.T, client string) {
	f := &fakeLambda{}
	f.throttle.Store(true)
	srv := httptest.NewServer(f.handler(t))
	defer srv.Close()
	exe := t.TempDir() + "/bootstrap"
	if err := writeFile(exe, []byte("#!/bin/sh\n")); err != nil {
		t.Fatal(err)
	}
	o := options{endpoint: srv.URL, function: "bench-noop", payload: `{"bench":true}`, name: "fake",
		warmup: 5, sequential: 50, concurrency: []int{1, 4}, duration: 200 * time.Millisecond,
		maxRequests: 300, maxErrors: 10, timeout: time.Second, coldRuns: 3, coldMethod: "update", setupBootstrap: exe, client: client}
	res, err := run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Sequential == nil || res.Sequential.N+res.Sequential.Errors != 50 || res.Sequential.P50 <= 0 {
		t.Errorf("sequential %+v", res.Sequential)
	}
	if len(res.Levels) != 2 {
		t.Fatalf("levels %+v", res.Levels)
	}
	for _, l := range res.Levels {
		if l.OK == 0 || l.Throttles == 0 || l.Errors != 0 || l.OK+l.Throttles > 300 || l.PerSecond <= 0 {
			t.Errorf("level %+v", l)
		}
	}
	if res.Cold == nil || res.Cold.N+res.Cold.Errors != 3 {
		t.Errorf("cold %+v", res.Cold)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.updates != 3 {
		t.Errorf("%d configuration updates for 3 cold starts", f.updates)
	}
	if f.created["Runtime"] != "provided.al2023" || f.created["Handler"] != "bootstrap" || f.created["FunctionName"] != "bench-noop" {
		t.Errorf("CreateFunction body %v", f.created)
	}
	code, _ := f.created["Code"].(map[string]any)
	zipB64, _ := code["ZipFile"].(string)
	var raw []byte
	json.Unmarshal([]byte(`"`+zipB64+`"`), &raw)
	zr, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	if err != nil || len(zr.File) != 1 || zr.File[0].Name != "bootstrap" || zr.File[0].Mode().Perm() != 0o755 {
		t.Errorf("zip: %v", err)
	}
}

func writeFile(path string, b []byte) error { return os.WriteFile(path, b, 0o755) }
