package ui

import (
	"bytes"
	"compress/gzip"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func builtFS() fstest.MapFS {
	return fstest.MapFS{
		"index.html":                 {Data: []byte("<!doctype html><title>Fluoro</title><script src=/assets/index-abc123.js></script>")},
		"placeholder.html":           {Data: []byte("<!doctype html><title>placeholder</title>")},
		"assets/index-abc123.js":     {Data: []byte(strings.Repeat("console.log('fluoro');\n", 100))},
		"assets/index-abc123.css":    {Data: []byte("body{color:red}")},
		"assets/layout-def456.js":    {Data: []byte("self.onmessage=()=>{}")},
		"favicon.svg":                {Data: []byte("<svg xmlns='http://www.w3.org/2000/svg'/>")},
		"assets/font-0123abcd.woff2": {Data: []byte{0, 1, 2}},
	}
}

func do(t *testing.T, h http.Handler, method, target string, hdr map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestServerBuilt(t *testing.T) {
	s, err := NewServer(builtFS())
	if err != nil {
		t.Fatal(err)
	}
	if !s.Built() {
		t.Fatal("Built() = false for a tree with index.html")
	}
	tests := []struct {
		name, method, path string
		status             int
		ctype, cache       string
		bodyHas            string
	}{
		{"root", "GET", "/", 200, "text/html; charset=utf-8", "no-cache", "<title>Fluoro</title>"},
		{"index by name", "GET", "/index.html", 200, "text/html; charset=utf-8", "no-cache", "<title>Fluoro</title>"},
		{"client route", "GET", "/traces", 200, "text/html; charset=utf-8", "no-cache", "<title>Fluoro</title>"},
		{"nested client route", "GET", "/trace/1-5f84c7a1-0123456789abcdef01234567", 200, "text/html; charset=utf-8", "no-cache", "<title>Fluoro</title>"},
		{"route with query", "GET", "/traces?filter=fault", 200, "text/html; charset=utf-8", "no-cache", "<title>Fluoro</title>"},
		{"hashed js", "GET", "/assets/index-abc123.js", 200, "text/javascript; charset=utf-8", "public, max-age=31536000, immutable", "console.log"},
		{"hashed css", "GET", "/assets/index-abc123.css", 200, "text/css; charset=utf-8", "public, max-age=31536000, immutable", "color:red"},
		{"worker", "GET", "/assets/layout-def456.js", 200, "text/javascript; charset=utf-8", "public, max-age=31536000, immutable", "onmessage"},
		{"font", "GET", "/assets/font-0123abcd.woff2", 200, "font/woff2", "public, max-age=31536000, immutable", ""},
		{"unhashed file", "GET", "/favicon.svg", 200, "image/svg+xml", "no-cache", "<svg"},
		{"missing asset is 404, not html", "GET", "/assets/missing-000.js", 404, "", "", ""},
		{"placeholder hidden when built", "GET", "/placeholder.html", 404, "", "", ""},
		{"dot segments cleaned", "GET", "/x/../assets/index-abc123.css", 200, "text/css; charset=utf-8", "public, max-age=31536000, immutable", "color:red"},
		{"head", "HEAD", "/", 200, "text/html; charset=utf-8", "no-cache", ""},
		{"x-ray operation is not a route", "GET", "/ServiceGraph", 404, "", "", ""},
		{"missing lambda proxy is 404", "GET", "/lambda/2015-03-31/functions", 404, "", "", ""},
		{"missing alerting API is 404", "GET", "/alerting/rules", 404, "", "", ""},
		{"missing websocket is 404", "GET", "/ws", 404, "", "", ""},
		{"metrics is not a route", "GET", "/metrics", 404, "", "", ""},
		{"functions route", "GET", "/functions", 200, "text/html; charset=utf-8", "no-cache", "<title>Fluoro</title>"},
		{"wsx is a route", "GET", "/wsx", 200, "text/html; charset=utf-8", "no-cache", "<title>Fluoro</title>"},
		{"post refused", "POST", "/", 405, "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, s, tc.method, tc.path, nil)
			b := body(t, r)
			if r.StatusCode != tc.status {
				t.Fatalf("status = %d, want %d (body %q)", r.StatusCode, tc.status, b)
			}
			if tc.status != 200 {
				return
			}
			if got := r.Header.Get("Content-Type"); got != tc.ctype {
				t.Errorf("Content-Type = %q, want %q", got, tc.ctype)
			}
			if got := r.Header.Get("Cache-Control"); got != tc.cache {
				t.Errorf("Cache-Control = %q, want %q", got, tc.cache)
			}
			if got := r.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q", got)
			}
			if r.Header.Get("ETag") == "" {
				t.Error("no ETag")
			}
			if !strings.Contains(b, tc.bodyHas) {
				t.Errorf("body %q does not contain %q", b, tc.bodyHas)
			}
			if tc.method == "HEAD" && b != "" {
				t.Errorf("HEAD body = %q", b)
			}
		})
	}
	if r := do(t, s, "POST", "/", nil); r.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("Allow = %q", r.Header.Get("Allow"))
	}
}

func TestServerGzipAndETag(t *testing.T) {
	s, err := NewServer(builtFS())
	if err != nil {
		t.Fatal(err)
	}
	plain := do(t, s, "GET", "/assets/index-abc123.js", nil)
	plainBody := body(t, plain)
	if plain.Header.Get("Content-Encoding") != "" {
		t.Fatalf("gzip without Accept-Encoding")
	}
	if !strings.Contains(plain.Header.Get("Vary"), "Accept-Encoding") {
		t.Errorf("Vary = %q", plain.Header.Get("Vary"))
	}
	tests := []struct {
		accept string
		gz     bool
	}{
		{"gzip", true},
		{"gzip, deflate, br, zstd", true},
		{"br;q=1.0, gzip;q=0.8", true},
		{"*", true},
		{"gzip;q=0", false},
		{"br", false},
		{"", false},
	}
	for _, tc := range tests {
		r := do(t, s, "GET", "/assets/index-abc123.js", map[string]string{"Accept-Encoding": tc.accept})
		raw := body(t, r)
		if got := r.Header.Get("Content-Encoding") == "gzip"; got != tc.gz {
			t.Errorf("Accept-Encoding %q: gzip = %v, want %v", tc.accept, got, tc.gz)
			continue
		}
		if !tc.gz {
			continue
		}
		zr, err := gzip.NewReader(bytes.NewReader([]byte(raw)))
		if err != nil {
			t.Fatal(err)
		}
		dec, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		if string(dec) != plainBody {
			t.Errorf("gzip body differs from plain body")
		}
		if r.Header.Get("ETag") == plain.Header.Get("ETag") {
			t.Errorf("gzip and plain variants share ETag %s", r.Header.Get("ETag"))
		}
	}
	// Small files are sent as they are.
	if r := do(t, s, "GET", "/assets/index-abc123.css", map[string]string{"Accept-Encoding": "gzip"}); r.Header.Get("Content-Encoding") != "" {
		t.Error("tiny css was gzipped")
	}
	// Conditional request.
	r := do(t, s, "GET", "/assets/index-abc123.js", map[string]string{"If-None-Match": plain.Header.Get("ETag")})
	if r.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: status %d, want 304", r.StatusCode)
	}
}

func TestServerPlaceholder(t *testing.T) {
	s, err := NewServer(fstest.MapFS{"placeholder.html": {Data: []byte("<!doctype html><p>npm run build</p>")}})
	if err != nil {
		t.Fatal(err)
	}
	if s.Built() {
		t.Fatal("Built() = true without index.html")
	}
	for _, p := range []string{"/", "/traces", "/assets/index-abc.js", "/placeholder.html"} {
		r := do(t, s, "GET", p, nil)
		b := body(t, r)
		if r.StatusCode != 200 || !strings.Contains(b, "npm run build") {
			t.Errorf("%s: status %d body %q", p, r.StatusCode, b)
		}
		if r.Header.Get("X-Fluoro-UI") != "placeholder" {
			t.Errorf("%s: X-Fluoro-UI = %q", p, r.Header.Get("X-Fluoro-UI"))
		}
		if r.Header.Get("Content-Type") != "text/html; charset=utf-8" {
			t.Errorf("%s: Content-Type = %q", p, r.Header.Get("Content-Type"))
		}
	}
}

func TestNewServerEmpty(t *testing.T) {
	if _, err := NewServer(fstest.MapFS{"a.txt": {Data: []byte("x")}}); err == nil {
		t.Fatal("no error for a tree without index.html or placeholder.html")
	}
}

func TestEmbeddedHandler(t *testing.T) {
	h := Handler()
	r := do(t, h, "GET", "/", nil)
	b := body(t, r)
	if r.StatusCode != 200 || r.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET /: status %d, Content-Type %q", r.StatusCode, r.Header.Get("Content-Type"))
	}
	placeholder := r.Header.Get("X-Fluoro-UI") == "placeholder"
	if placeholder == Built() {
		t.Fatalf("X-Fluoro-UI placeholder = %v but Built() = %v", placeholder, Built())
	}
	if placeholder && !strings.Contains(b, "npm run build") {
		t.Errorf("placeholder page does not say how to build: %q", b)
	}
	if !placeholder && !strings.Contains(b, `id="app"`) {
		t.Errorf("index.html has no app root: %q", b)
	}
}

func TestConfig(t *testing.T) {
	var c Config
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	c.RegisterFlags(fs)
	dir := t.TempDir()
	if err := fs.Parse([]string{"-ui-dir", dir}); err != nil {
		t.Fatal(err)
	}
	if c.Dir != dir {
		t.Fatalf("Dir = %q", c.Dir)
	}
	if _, err := New(c); err == nil {
		t.Error("New accepted a directory without index.html or placeholder.html")
	}
	for _, bad := range []string{dir + "/missing", "embed.go"} {
		if err := (&Config{Dir: bad}).Validate(); err == nil {
			t.Errorf("Validate accepted %q", bad)
		}
	}
	if err := (&Config{}).Validate(); err != nil {
		t.Errorf("empty config: %v", err)
	}
	h, err := New(Config{})
	if err != nil || h != Handler() {
		t.Errorf("New(Config{}) = %v, %v; want the embedded handler", h, err)
	}
}
