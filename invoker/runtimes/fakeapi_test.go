package runtimes

import (
	"bytes"
	"context"
	"errors"

	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeAPI is the engine side of the Runtime API (lambda.md §1), reduced to
// what the bootstraps call: next, response, error and init error. The
// clients under test are the shipped bootstraps run by real interpreters.
type fakeAPI struct {
	srv     *httptest.Server
	invokes chan invocation
	posts   chan post
}

// invocation is one event handed out by GET /runtime/invocation/next.
type invocation struct {
	id            string
	body          string
	traceID       string
	clientContext string
	cognito       string
	contentType   string // default application/json
	deadline      time.Time
}

// post is one request the bootstrap made to a POST endpoint.
type post struct {
	path    string
	header  http.Header
	trailer http.Header // streamed responses
	body    []byte
}

const testARN = "arn:aws:lambda:us-east-1:123456789012:function:fn:live"

func newFakeAPI(t testing.TB) *fakeAPI {
	t.Helper()
	f := &fakeAPI{invokes: make(chan invocation, 16), posts: make(chan post, 16)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", func(w http.ResponseWriter, r *http.Request) {
		var inv invocation
		select {
		case inv = <-f.invokes:
		case <-r.Context().Done():
			return
		}
		h := w.Header()
		h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
		if inv.deadline.IsZero() {
			inv.deadline = time.Now().Add(30 * time.Second)
		}
		h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(inv.deadline.UnixMilli(), 10))
		h.Set("Lambda-Runtime-Invoked-Function-Arn", testARN)
		if inv.traceID != "" {
			h.Set("Lambda-Runtime-Trace-Id", inv.traceID)
		}
		if inv.clientContext != "" {
			h.Set("Lambda-Runtime-Client-Context", inv.clientContext)
		}
		if inv.cognito != "" {
			h.Set("Lambda-Runtime-Cognito-Identity", inv.cognito)
		}
		ct := inv.contentType
		if ct == "" {
			ct = "application/json"
		}
		h.Set("Content-Type", ct)
		io.WriteString(w, inv.body)
	})
	record := func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.posts <- post{path: r.URL.Path, header: r.Header.Clone(), trailer: r.Trailer.Clone(), body: body}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, `{"status":"OK"}`)
	}
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", record)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", record)
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", record)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("unexpected Runtime API call %s %s", r.Method, r.URL.Path)
		http.NotFound(w, r)
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAPI) addr() string { return strings.TrimPrefix(f.srv.URL, "http://") }

// invoke queues inv and returns what the bootstrap posted for it.
func (f *fakeAPI) invoke(t testing.TB, p *proc, inv invocation) post {
	t.Helper()
	f.invokes <- inv
	return f.wait(t, p)
}

// wait returns the next POST made by the bootstrap.
func (f *fakeAPI) wait(t testing.TB, p *proc) post {
	t.Helper()
	select {
	case got := <-f.posts:
		return got
	case <-p.exited:
		// The process may have posted right before exiting.
		select {
		case got := <-f.posts:
			return got
		case <-time.After(time.Second):
		}
		t.Fatalf("bootstrap exited (%v) without posting; stdout:\n%s\nstderr:\n%s", p.err, p.stdout.String(), p.stderr.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("no post from the bootstrap; stdout:\n%s\nstderr:\n%s", p.stdout.String(), p.stderr.String())
	}
	return post{}
}

// syncBuffer is a goroutine-safe bytes.Buffer for process output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// proc is a running bootstrap.
type proc struct {
	cmd            *exec.Cmd
	stdout, stderr *syncBuffer
	exited         chan struct{}
	err            error // set before exited is closed
}

// exitCode waits for the process to end and returns its exit status.
func (p *proc) exitCode(t testing.TB) int {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		t.Fatalf("bootstrap did not exit; stderr:\n%s", p.stderr.String())
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err != nil {
		t.Fatalf("bootstrap: %v", p.err)
	}
	return 0
}

// function describes the code and configuration of a test function.
type function struct {
	runtime string
	handler string
	files   map[string]string
	env     []string
}

// start writes fn's files and the runtime's bootstrap, and starts it
// against api the way the engine does.
func start(t testing.TB, api *fakeAPI, fn function) *proc {
	t.Helper()
	task := t.TempDir()
	for name, content := range fn.files {
		p := filepath.Join(task, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	runtimeDir := filepath.Join(t.TempDir(), "runtime")
	cmdline, err := WriteBootstrap(runtimeDir, fn.runtime)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := Lookup(fn.runtime)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, cmdline[0], cmdline[1:]...)
	cmd.Dir = task
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + task,
		"LANG=en_US.UTF-8",
		"TZ=:UTC",
		"AWS_LAMBDA_RUNTIME_API=" + api.addr(),
		"_HANDLER=" + fn.handler,
		"LAMBDA_TASK_ROOT=" + task,
		"LAMBDA_RUNTIME_DIR=" + runtimeDir,
		"AWS_REGION=us-east-1",
		"AWS_LAMBDA_FUNCTION_NAME=fn",
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256",
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/fn",
		"AWS_LAMBDA_LOG_STREAM_NAME=2024/01/31/[$LATEST]0123456789abcdef0123456789abcdef",
	}, append(r.Env(), fn.env...)...)
	p := &proc{cmd: cmd, stdout: &syncBuffer{}, stderr: &syncBuffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		cancel()
		<-p.exited
		if t.Failed() {
			t.Logf("stdout:\n%s\nstderr:\n%s", p.stdout.String(), p.stderr.String())
		}
	})
	return p
}

// wantPost checks the endpoint of a post.
func wantPath(t testing.TB, got post, want string) {
	t.Helper()
	if got.path != want {
		t.Fatalf("posted to %s, want %s (body %s)", got.path, want, got.body)
	}
}

func wantHeader(t testing.TB, got post, name, want string) {
	t.Helper()
	if v := got.header.Get(name); v != want {
		t.Errorf("header %s = %q, want %q", name, v, want)
	}
}

func requireInterpreter(t testing.TB, id string) {
	t.Helper()
	r, _ := Lookup(id)
	if _, err := DefaultConfig().Interpreter(r); err != nil {
		t.Fatalf("%v (the tests run the real interpreters)", err)
	}
}

// waitOutput waits until the process's stdout matches re (output travels
// through a pipe and may arrive after the post it precedes).
func (p *proc) waitOutput(t testing.TB, re string) bool {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if rx.MatchString(p.stdout.String()) {
			return true
		}
		if time.Now().After(deadline) {
			t.Errorf("stdout does not match %s:\n%q", re, p.stdout.String())
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}
