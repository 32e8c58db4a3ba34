package httpserve

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// requestInputs are requests the fast path takes and ones it leaves to
// http.ReadRequest; both must give http.ReadRequest's result.
var requestInputs = []string{
	// Invoke as the AWS SDK sends it.
	"POST /2015-03-31/functions/noop/invocations HTTP/1.1\r\nHost: 127.0.0.1:3001\r\nUser-Agent: aws-sdk-go-v2/1.30\r\nContent-Length: 17\r\n" +
		"Amz-Sdk-Invocation-Id: 4c2a\r\nAuthorization: AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=00\r\n" +
		"Content-Type: application/octet-stream\r\nX-Amz-Date: 20260101T000000Z\r\nX-Amz-Invocation-Type: RequestResponse\r\nAccept-Encoding: gzip\r\n\r\n{\"hello\":\"world\"}",
	// aws-lambda-go's Runtime API calls.
	"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: 127.0.0.1:9001\r\nUser-Agent: Go-http-client/1.1\r\nAccept-Encoding: gzip\r\n\r\n",
	"POST /2018-06-01/runtime/invocation/8476a536-e9f4-11e8-9739-2dfe598c3fcd/response HTTP/1.1\r\nHost: 127.0.0.1:9001\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
	// Escaped ARN in the path, qualifier in the query.
	"POST /2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Anoop/invocations?Qualifier=%24LATEST HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
	"GET /2015-03-31/functions/?FunctionVersion=ALL&MaxItems=10 HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET /a:b@c;d=e,f+g$h&i~j HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET /x? HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET /x?a=b#frag HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET /sp%20ace/(paren)!*'quote HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET //double/slash HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n",
	// Header forms.
	"GET / HTTP/1.1\r\nhost: h\r\ncontent-type: text/plain\r\nx-amz-log-type: Tail\r\nX-LOWER-upper: v\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\nX-Dup: 1\r\nX-Dup: 2\r\nX-Empty:\r\nX-Spaces:   padded \t \r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, close\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\nPragma: no-cache\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
	"GET / HTTP/1.1\r\nHost: h\r\nX-Fold: a\r\n b\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\nBad Key: v\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\nX-Ctl: a\x01b\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
	"GET / HTTP/1.1\r\n\r\n",
	"GET http://example.com/abs HTTP/1.1\r\nHost: h\r\n\r\n",
	"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET / HTTP/1.0\r\n\r\n",
	"GET / HTTP/2.0\r\nHost: h\r\n\r\n",
	"get / HTTP/1.1\r\nHost: h\r\n\r\n",
	"BREW /pot HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET /\r\nHost: h\r\n\r\n",
	"GET / HTTP/1.1\nHost: h\n\n",
	"GET / HTTP/1.1\r\nHost: h\n\r\n",
	// Bodies.
	"POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
	"POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 005\r\n\r\nhello",
	"POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\nhello",
	"POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n",
	"POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
	"POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
	"POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nshort",
	"POST /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
	"POST /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n5\r\nhello\r\n0\r\nX-T: v\r\n\r\n",
	"POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
	// aws-lambda-go's response post, and an error in its trailer.
	"POST /2018-06-01/runtime/invocation/abc/response HTTP/1.1\r\nHost: 127.0.0.1:33103\r\nUser-Agent: aws-lambda-go/go1.26.8\r\nTransfer-Encoding: chunked\r\n" +
		"Trailer: Lambda-Runtime-Function-Error-Body,Lambda-Runtime-Function-Error-Type\r\nContent-Type: application/json\r\nAccept-Encoding: gzip\r\n\r\nb\r\n{\"ok\":true}\r\n0\r\n\r\n",
	"POST /2018-06-01/runtime/invocation/abc/response HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTrailer: Lambda-Runtime-Function-Error-Type, lambda-runtime-function-error-body\r\n\r\n" +
		"3\r\n{}\n\r\n0\r\nLambda-Runtime-Function-Error-Type: Runtime.Panic\r\nLambda-Runtime-Function-Error-Body: e30=\r\nX-Other: 1\r\n\r\n",
	"POST /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-Undeclared: v\r\n\r\n",
	"POST /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTrailer: Content-Length\r\n\r\n0\r\n\r\n",
	"POST /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTrailer: ,\r\n\r\n0\r\n\r\n",
	"POST /b HTTP/1.1\r\nHost: h\r\nTrailer: X-T\r\nContent-Length: 1\r\n\r\nx",
	"POST /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: CHUNKED\r\n\r\n1;ext=1\r\nx\r\n0\r\n\r\n",
	"POST /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n",
	"POST /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	"POST /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nx\r\n0\r\n\r\n",
	"POST /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
	"POST /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: v",
	"POST /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n",
	// Truncated.
	"",
	"GET / HTTP/1.1\r\nHost: h\r\n",
	"GET / HT",
}

type parsed struct {
	Method, Proto, Host, RequestURI  string
	ProtoMajor, ProtoMinor           int
	Path, RawPath, RawQuery, Escaped string
	Query                            string
	ForceQuery                       bool
	Header, Trailer                  http.Header
	ContentLength                    int64
	Close                            bool
	TransferEncoding                 []string
	Body, BodyErr, Err               string
	HostInHeader                     bool
}

func summarize(r *http.Request, err error) parsed {
	if err != nil {
		return parsed{Err: "error"} // the message may differ in detail; the server only tells 431 from 400
	}
	p := parsed{
		Method: r.Method, Proto: r.Proto, Host: r.Host, RequestURI: r.RequestURI, ProtoMajor: r.ProtoMajor, ProtoMinor: r.ProtoMinor,
		Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery, Escaped: r.URL.EscapedPath(), Query: r.URL.Query().Encode(),
		ForceQuery: r.URL.ForceQuery, Header: r.Header, ContentLength: r.ContentLength, Close: r.Close,
		TransferEncoding: r.TransferEncoding,
	}
	_, p.HostInHeader = r.Header["Host"]
	b, berr := io.ReadAll(r.Body)
	p.Body = string(b)
	if berr != nil {
		p.BodyErr = berr.Error()
	}
	p.Trailer = r.Trailer
	return p
}

func TestReadRequestMatchesNetHTTP(t *testing.T) {
	for _, in := range requestInputs {
		t.Run(strings.SplitN(in, "\r\n", 2)[0], func(t *testing.T) {
			compareReadRequest(t, in)
		})
	}
}

func compareReadRequest(t *testing.T, in string) {
	t.Helper()
	ctx := context.WithValue(context.Background(), ctxKey{}, 1)
	for _, size := range []int{16, 64, 4096} { // header larger and smaller than the buffer
		wbr := bufio.NewReaderSize(strings.NewReader(in), size)
		want, werr := http.ReadRequest(wbr)
		w := summarize(want, werr)
		wantRest, _ := io.ReadAll(wbr)
		br := bufio.NewReaderSize(strings.NewReader(in), size)
		got, gerr := ReadRequest(ctx, br)
		if gerr == nil && got.Context() != ctx {
			t.Fatalf("buffer %d: request context not set", size)
		}
		if g := summarize(got, gerr); !reflect.DeepEqual(w, g) {
			t.Fatalf("buffer %d, input %q:\nnet/http %+v\nfast     %+v", size, in, w, g)
		}
		// What follows the request is left in the reader.
		if rest, _ := io.ReadAll(br); werr == nil && string(rest) != string(wantRest) {
			t.Fatalf("buffer %d: %q left after the request, want %q", size, rest, wantRest)
		}
	}
}

type ctxKey struct{}

func TestReadRequestPipelined(t *testing.T) {
	in := "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc" +
		"GET /b?x=1 HTTP/1.1\r\nHost: h\r\n\r\n" +
		"POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n"
	br := bufio.NewReaderSize(strings.NewReader(in), 4096)
	want := []struct{ path, body string }{{"/a", "abc"}, {"/b", ""}, {"/c", "z"}}
	for _, w := range want {
		r, err := ReadRequest(context.Background(), br)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r.Body)
		if err != nil || r.URL.Path != w.path || string(b) != w.body {
			t.Fatalf("got %s %q %v, want %s %q", r.URL.Path, b, err, w.path, w.body)
		}
	}
	if _, err := ReadRequest(context.Background(), br); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last request: %v", err)
	}
}

func TestBodyClose(t *testing.T) {
	cases := []struct {
		name     string
		length   int
		wantNext bool // the next request can be read after Close
	}{
		{"small body discarded", 10, true},
		{"large body left", maxDrainBytes + 10, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: " + strconv.Itoa(tc.length) + "\r\n\r\n" + strings.Repeat("x", tc.length) +
				"GET /next HTTP/1.1\r\nHost: h\r\n\r\n"
			br := bufio.NewReader(strings.NewReader(in))
			r, err := ReadRequest(context.Background(), br)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = r.Body.Read(make([]byte, 3))
			_ = r.Body.Close()
			_, err = r.Body.Read(make([]byte, 1))
			if tc.wantNext && !errors.Is(err, io.EOF) || !tc.wantNext && !errors.Is(err, http.ErrBodyReadAfterClose) {
				t.Fatalf("Read after Close: %v", err)
			}
			if tc.wantNext {
				next, err := ReadRequest(context.Background(), br)
				if err != nil || next.URL.Path != "/next" {
					t.Fatalf("next request: %v", err)
				}
			}
		})
	}
}

func FuzzReadRequest(f *testing.F) {
	for _, in := range requestInputs {
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		compareReadRequest(t, in)
	})
}

func BenchmarkReadRequest(b *testing.B) {
	in := requestInputs[0]
	rd := strings.NewReader(in)
	br := bufio.NewReader(rd)
	b.ReportAllocs()
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			rd.Reset(in)
			br.Reset(rd)
			r, err := ReadRequest(context.Background(), br)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, r.Body)
		}
	})
	b.Run("net/http", func(b *testing.B) {
		for b.Loop() {
			rd.Reset(in)
			br.Reset(rd)
			r, err := http.ReadRequest(br)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, r.Body)
		}
	})
}
