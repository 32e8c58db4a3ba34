package ui

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

//go:embed all:dist
var embedded embed.FS

const (
	indexFile       = "index.html"
	placeholderFile = "placeholder.html"
	// hashedDir holds Vite's content-hashed build output; its files never change
	// under the same name, so browsers may cache them for a year.
	hashedDir = "assets/"
)

// Config selects where the dashboard files come from.
type Config struct {
	// Dir, when set, serves the dashboard from this directory on disk (a Vite
	// build output, e.g. ui/dist) instead of the files embedded in the binary.
	// Meant for UI development; the directory is read once when the handler is made.
	Dir string
}

// RegisterFlags registers the flags of c on fs.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Dir, "ui-dir", "", "serve the dashboard from this Vite build directory instead of the embedded one (development)")
}

// Validate reports whether c can be used.
func (c *Config) Validate() error {
	if c.Dir == "" {
		return nil
	}
	st, err := os.Stat(c.Dir)
	if err != nil {
		return fmt.Errorf("ui-dir: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("ui-dir: %s is not a directory", c.Dir)
	}
	return nil
}

var (
	defaultOnce    sync.Once
	defaultHandler *Server
	defaultErr     error
)

// Handler returns the handler for the dashboard embedded in the binary. It
// serves GET and HEAD only: files of the build by path, and index.html for any
// other path without a file extension (client-side routes). When the binary was
// built without `npm run build`, every page is the committed placeholder.
func Handler() http.Handler {
	defaultOnce.Do(func() {
		sub, err := fs.Sub(embedded, "dist")
		if err != nil {
			defaultErr = err
			return
		}
		defaultHandler, defaultErr = NewServer(sub)
	})
	if defaultErr != nil {
		// The embedded tree is fixed at compile time and always holds the
		// placeholder, so this cannot happen in a correctly built binary.
		panic(fmt.Errorf("ui: embedded dashboard: %w", defaultErr))
	}
	return defaultHandler
}

// Built reports whether the binary embeds a real dashboard build rather than
// the placeholder page.
func Built() bool {
	_, err := fs.Stat(embedded, "dist/"+indexFile)
	return err == nil
}

// New returns the dashboard handler for cfg: the embedded build, or the
// directory cfg.Dir when it is set.
func New(cfg Config) (http.Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Dir == "" {
		return Handler(), nil
	}
	return NewServer(os.DirFS(cfg.Dir))
}

// file is one servable file, with its gzip variant made on first use.
type file struct {
	name     string
	body     []byte
	ctype    string
	etag     string
	cache    string
	compress bool

	gzOnce sync.Once
	gzBody []byte
}

// Server serves a dashboard build from an fs.FS. It reads every file once when
// it is made, so later changes to the FS are not seen.
type Server struct {
	files    map[string]*file
	index    *file // index.html, or the placeholder when there is no build
	built    bool
	modified time.Time
}

// NewServer reads the dashboard build in fsys (the contents of a Vite outDir).
// fsys must hold index.html or placeholder.html.
func NewServer(fsys fs.FS) (*Server, error) {
	s := &Server{files: make(map[string]*file), modified: time.Now()}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		body, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		f := &file{
			name:     p,
			body:     body,
			ctype:    contentType(p),
			etag:     `"` + hex.EncodeToString(sum[:12]) + `"`,
			cache:    "no-cache",
			compress: compressible(p) && len(body) >= 512,
		}
		if strings.HasPrefix(p, hashedDir) {
			f.cache = "public, max-age=31536000, immutable"
		}
		s.files[p] = f
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading dashboard files: %w", err)
	}
	if f, ok := s.files[indexFile]; ok {
		s.index, s.built = f, true
	} else if f, ok := s.files[placeholderFile]; ok {
		s.index = f
	} else {
		return nil, errors.New("dashboard files hold neither index.html nor placeholder.html")
	}
	return s, nil
}

// Built reports whether s serves a real build (index.html) rather than the placeholder.
func (s *Server) Built() bool { return s.built }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
	f, ok := s.files[name]
	switch {
	case ok && name != placeholderFile:
	case reserved(name):
		// API paths that reached the dashboard are not client-side routes: a
		// missing proxy or endpoint must not answer with the HTML page.
		http.NotFound(w, r)
		return
	case name == "" || path.Ext(name) == "" || !s.built:
		// Client-side route (or no build at all): the single page.
		f = s.index
	default:
		// A missing asset must not turn into HTML that the browser then tries to
		// run as a script.
		http.NotFound(w, r)
		return
	}
	s.serveFile(w, r, f)
}

// reserved reports whether a path belongs to the server's APIs rather than to
// the dashboard's routes: X-Ray operations (/ServiceGraph, /Traces, … start with
// an upper-case letter), the websocket /ws, the invoker proxy /lambda/, /metrics
// and the alerting API /alerting/.
func reserved(name string) bool {
	first, _, _ := strings.Cut(name, "/")
	if first == "" {
		return false
	}
	if c := first[0]; c >= 'A' && c <= 'Z' {
		return true
	}
	switch first {
	case "ws", "lambda", "metrics", "api", "alerting":
		return true
	}
	return false
}

func (s *Server) serveFile(w http.ResponseWriter, r *http.Request, f *file) {
	h := w.Header()
	h.Set("Content-Type", f.ctype)
	h.Set("Cache-Control", f.cache)
	h.Set("X-Content-Type-Options", "nosniff")
	if f == s.index {
		h.Set("Referrer-Policy", "same-origin")
		if !s.built {
			h.Set("X-Fluoro-UI", "placeholder")
		}
	}
	body, etag := f.body, f.etag
	if f.compress {
		h.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Get("Accept-Encoding")) {
			body = f.gzip()
			etag = strings.TrimSuffix(f.etag, `"`) + `-gz"`
			h.Set("Content-Encoding", "gzip")
		}
	}
	h.Set("ETag", etag)
	http.ServeContent(w, r, f.name, s.modified, bytes.NewReader(body))
}

func (f *file) gzip() []byte {
	f.gzOnce.Do(func() {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression) // the level is valid
		_, _ = zw.Write(f.body)                                  // writes to a bytes.Buffer cannot fail
		_ = zw.Close()
		f.gzBody = buf.Bytes()
	})
	return f.gzBody
}

// acceptsGzip reports whether an Accept-Encoding header value allows gzip.
func acceptsGzip(v string) bool {
	for part := range strings.SplitSeq(v, ",") {
		name, params, _ := strings.Cut(part, ";")
		name = strings.TrimSpace(name)
		if !strings.EqualFold(name, "gzip") && name != "*" {
			continue
		}
		q := 1.0
		for p := range strings.SplitSeq(params, ";") {
			k, val, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
				if err != nil {
					f = 0
				}
				q = f
			}
		}
		return q > 0
	}
	return false
}

var contentTypes = map[string]string{
	".html":        "text/html; charset=utf-8",
	".js":          "text/javascript; charset=utf-8",
	".mjs":         "text/javascript; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".json":        "application/json",
	".map":         "application/json",
	".svg":         "image/svg+xml",
	".png":         "image/png",
	".ico":         "image/x-icon",
	".woff2":       "font/woff2",
	".wasm":        "application/wasm",
	".txt":         "text/plain; charset=utf-8",
	".webmanifest": "application/manifest+json",
}

// contentType is fixed for the file types Vite emits, so that the answer does
// not depend on the host's mime.types.
func contentType(name string) string {
	ext := strings.ToLower(path.Ext(name))
	if t, ok := contentTypes[ext]; ok {
		return t
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return "application/octet-stream"
}

func compressible(name string) bool {
	switch strings.ToLower(path.Ext(name)) {
	case ".html", ".js", ".mjs", ".css", ".json", ".map", ".svg", ".txt", ".webmanifest":
		return true
	}
	return false
}
