package lambdaapi

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/fluoro/fluoro/invoker/engine"
	"github.com/fluoro/fluoro/invoker/store"
)

// functionCode is the FunctionCode shape.
type functionCode struct {
	ZipFile         []byte `json:"ZipFile"` // base64 on the wire
	S3Bucket        string `json:"S3Bucket"`
	S3Key           string `json:"S3Key"`
	S3ObjectVersion string `json:"S3ObjectVersion"`
	ImageURI        string `json:"ImageUri"`
}

type environmentInput struct {
	Variables map[string]string `json:"Variables"`
}

type createFunctionInput struct {
	FunctionName     string               `json:"FunctionName"`
	Runtime          string               `json:"Runtime"`
	Role             string               `json:"Role"`
	Handler          string               `json:"Handler"`
	Code             *functionCode        `json:"Code"`
	Description      *string              `json:"Description"`
	Timeout          *int                 `json:"Timeout"`
	MemorySize       *int                 `json:"MemorySize"`
	Publish          bool                 `json:"Publish"`
	Environment      *environmentInput    `json:"Environment"`
	TracingConfig    *modeConfig          `json:"TracingConfig"`
	PackageType      string               `json:"PackageType"`
	Architectures    []string             `json:"Architectures"`
	EphemeralStorage *sizeConfig          `json:"EphemeralStorage"`
	Layers           []string             `json:"Layers"`
	DeadLetterConfig *deadLetterConfig    `json:"DeadLetterConfig"`
	LoggingConfig    *store.LoggingConfig `json:"LoggingConfig"`
	Tags             map[string]string    `json:"Tags"`
}

// Local-directory code: Code.S3Bucket names this pseudo-bucket and S3Key is
// an absolute directory on the invoker's host ("hot-reload" is accepted
// too, LocalStack's name for the same idea).
const localBucket = "local"

func isLocalBucket(b string) bool { return b == localBucket || b == "hot-reload" }

func (s *Server) createFunction(w http.ResponseWriter, r *http.Request) {
	var in createFunctionInput
	if err := readJSON(r, &in, "CreateFunction"); err != nil {
		writeError(w, err)
		return
	}
	f, err := s.createFunctionFrom(&in)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, s.configuration(f, store.Latest, false))
}

func (s *Server) createFunctionFrom(in *createFunctionInput) (*store.Function, error) {
	name, q, err := parseFunctionName(in.FunctionName)
	if err != nil {
		return nil, err
	}
	if q != "" {
		return nil, invalidParam("FunctionName must not carry a qualifier when creating a function.")
	}
	if in.Role == "" {
		return nil, invalidParam("1 validation error detected: Value null at 'role' failed to satisfy constraint: Member must not be null")
	}
	now := nowUTC()
	cfg := store.Config{
		Runtime: in.Runtime, Role: in.Role, Handler: in.Handler, Timeout: 3, MemorySize: 128,
		TracingMode: "PassThrough", Architectures: []string{"x86_64"}, EphemeralStorage: 512, PackageType: "Zip",
		LastModified: now, RevisionID: newRequestID(),
	}
	if in.Description != nil {
		cfg.Description = *in.Description
	}
	if in.Timeout != nil {
		cfg.Timeout = *in.Timeout
	}
	if in.MemorySize != nil {
		cfg.MemorySize = *in.MemorySize
	}
	if in.Environment != nil {
		cfg.Environment = in.Environment.Variables
	}
	if in.TracingConfig != nil && in.TracingConfig.Mode != "" {
		cfg.TracingMode = in.TracingConfig.Mode
	}
	if in.PackageType != "" {
		cfg.PackageType = in.PackageType
	}
	if len(in.Architectures) > 0 {
		cfg.Architectures = in.Architectures
	}
	if in.EphemeralStorage != nil {
		cfg.EphemeralStorage = in.EphemeralStorage.Size
	}
	cfg.Layers = in.Layers
	if in.DeadLetterConfig != nil {
		cfg.DeadLetterTarget = in.DeadLetterConfig.TargetArn
	}
	if in.LoggingConfig != nil {
		cfg.Logging = *in.LoggingConfig
	}
	if err := s.validateConfig(&cfg); err != nil {
		return nil, err
	}
	if in.Code == nil {
		return nil, invalidParam("1 validation error detected: Value null at 'code' failed to satisfy constraint: Member must not be null")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, exists := s.set.Store.Get(name); exists {
		return nil, conflict("Function already exist: %s", name)
	}
	ref, err := s.storeCode(in.Code, cfg.Runtime)
	if err != nil {
		return nil, err
	}
	cfg.Code = ref
	f := &store.Function{Name: name, Created: now, Latest: cfg, Tags: in.Tags}
	if in.Publish {
		publishInto(f, "")
	}
	if err := s.set.Store.Create(f); err != nil {
		s.set.Store.GC()
		if errors.Is(err, store.ErrExists) {
			return nil, conflict("Function already exist: %s", name)
		}
		return nil, serviceError(err)
	}
	return f, nil
}

// publishInto appends a version snapshot of $LATEST (caller holds s.mu or
// works on an unshared copy).
func publishInto(f *store.Function, description string) *store.Version {
	f.LastVersion++
	cfg := f.Latest.Clone()
	cfg.RevisionID = newRequestID()
	cfg.LastModified = nowUTC()
	if description == "" {
		description = cfg.Description
	}
	f.Versions = append(f.Versions, store.Version{Version: strconv.Itoa(f.LastVersion), Description: description, Config: cfg})
	return &f.Versions[len(f.Versions)-1]
}

// validateConfig checks version-scoped configuration values.
func (s *Server) validateConfig(c *store.Config) error {
	if c.PackageType != "Zip" {
		if c.PackageType == "Image" {
			return invalidParam("PackageType Image is not supported by this invoker; deploy a .zip package or a local directory.")
		}
		return invalidParam("1 validation error detected: Value '%s' at 'packageType' failed to satisfy constraint: Member must satisfy enum value set: [Image, Zip]", c.PackageType)
	}
	if c.Runtime == "" {
		return invalidParam("Runtime is required for .zip deployment packages.")
	}
	if !engine.IsCustomRuntime(c.Runtime) && (s.set.RuntimeSupported == nil || !s.set.RuntimeSupported(c.Runtime)) {
		return invalidParam("Value %s at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: %s", c.Runtime, s.supportedRuntimes())
	}
	if !engine.IsCustomRuntime(c.Runtime) && c.Handler == "" {
		return invalidParam("Handler is required for runtime %s.", c.Runtime)
	}
	if len(c.Handler) > 128 {
		return invalidParam("1 validation error detected: Value '%s' at 'handler' failed to satisfy constraint: Member must have length less than or equal to 128", c.Handler)
	}
	if c.Timeout < 1 || c.Timeout > s.cfg.MaxTimeout {
		return invalidParam("1 validation error detected: Value '%d' at 'timeout' failed to satisfy constraint: Member must have value between 1 and %d", c.Timeout, s.cfg.MaxTimeout)
	}
	if c.MemorySize < 128 || c.MemorySize > s.cfg.MaxMemory {
		return invalidParam("1 validation error detected: Value '%d' at 'memorySize' failed to satisfy constraint: Member must have value between 128 and %d", c.MemorySize, s.cfg.MaxMemory)
	}
	if c.EphemeralStorage < 512 || c.EphemeralStorage > 10240 {
		return invalidParam("1 validation error detected: Value '%d' at 'ephemeralStorage.size' failed to satisfy constraint: Member must have value between 512 and 10240", c.EphemeralStorage)
	}
	if c.TracingMode != "Active" && c.TracingMode != "PassThrough" {
		return invalidParam("1 validation error detected: Value '%s' at 'tracingConfig.mode' failed to satisfy constraint: Member must satisfy enum value set: [Active, PassThrough]", c.TracingMode)
	}
	if len(c.Architectures) != 1 || (c.Architectures[0] != "x86_64" && c.Architectures[0] != "arm64") {
		return invalidParam("1 validation error detected: Value '%v' at 'architectures' failed to satisfy constraint: Member must have length 1 and satisfy enum value set: [x86_64, arm64]", c.Architectures)
	}
	if len(c.Layers) > 0 {
		return invalidParam("Layers are not supported by this invoker; include the layer's content in the deployment package.")
	}
	if lf := c.Logging.LogFormat; lf != "" && lf != "Text" && lf != "JSON" {
		return invalidParam("1 validation error detected: Value '%s' at 'loggingConfig.logFormat' failed to satisfy constraint: Member must satisfy enum value set: [JSON, Text]", lf)
	}
	return validateEnvironment(c.Environment)
}

func validateEnvironment(vars map[string]string) error {
	if reserved := engine.ReservedIn(vars); len(reserved) > 0 {
		return invalidParam("Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: %s", strings.Join(reserved, ", "))
	}
	size := 0
	for k, v := range vars {
		if !envKeyRE.MatchString(k) {
			return invalidParam("Lambda was unable to configure your environment variables because the environment variables you have provided contains invalid keys. Invalid keys used in this request: %s", k)
		}
		size += len(k) + len(v)
	}
	if size > 4096 {
		return invalidParam("Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: %d bytes", size)
	}
	return nil
}

func (s *Server) supportedRuntimes() string {
	names := []string{"provided.al2023", "provided.al2"}
	for _, rt := range []string{"nodejs18.x", "nodejs20.x", "nodejs22.x", "python3.9", "python3.10", "python3.11", "python3.12", "python3.13"} {
		if s.set.RuntimeSupported != nil && s.set.RuntimeSupported(rt) {
			names = append(names, rt)
		}
	}
	return "[" + strings.Join(names, ", ") + "]"
}

// storeCode validates and stores a code package and extracts it.
func (s *Server) storeCode(c *functionCode, runtime string) (store.CodeRef, error) {
	switch {
	case c.ImageURI != "":
		return store.CodeRef{}, invalidParam("Container images (Code.ImageUri) are not supported by this invoker.")
	case len(c.ZipFile) > 0 && c.S3Bucket != "":
		return store.CodeRef{}, invalidParam("Please provide a source for function code: either Code.ZipFile or Code.S3Bucket/S3Key, not both.")
	case len(c.ZipFile) > 0:
		if len(c.ZipFile) > store.MaxZipBytes {
			return store.CodeRef{}, errf(http.StatusRequestEntityTooLarge, "RequestEntityTooLargeException",
				"Zipped size must be smaller than %d bytes", store.MaxZipBytes)
		}
		pkg, err := store.ReadZip(c.ZipFile)
		if errors.Is(err, store.ErrUnzippedTooLarge) {
			return store.CodeRef{}, invalidParam("Unzipped size must be smaller than %d bytes", store.MaxUnzippedBytes)
		}
		if err != nil {
			return store.CodeRef{}, invalidParam("Could not unzip uploaded file. Please check your file, then try to upload again.")
		}
		if engine.IsCustomRuntime(runtime) && !pkg.Has("bootstrap") {
			return store.CodeRef{}, invalidParam("The deployment package does not contain a 'bootstrap' file at its root; runtime %s requires an executable bootstrap.", runtime)
		}
		ref, err := s.set.Store.PutZip(c.ZipFile)
		if err != nil {
			return store.CodeRef{}, serviceError(err)
		}
		if _, err := s.set.Store.CodeDir(ref, s.cfg.WorkDir); err != nil {
			s.set.Store.GC()
			return store.CodeRef{}, serviceError(fmt.Errorf("extract code: %w", err))
		}
		return ref, nil
	case isLocalBucket(c.S3Bucket):
		if !s.cfg.AllowLocalCode {
			return store.CodeRef{}, invalidParam("Local code directories (Code.S3Bucket %q) are disabled on this invoker.", c.S3Bucket)
		}
		dir := c.S3Key
		if !filepath.IsAbs(dir) {
			return store.CodeRef{}, invalidParam("Code.S3Key must be an absolute directory path when Code.S3Bucket is %q.", c.S3Bucket)
		}
		dir = filepath.Clean(dir)
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return store.CodeRef{}, invalidParam("Code.S3Key %s is not a directory on the invoker's host.", dir)
		}
		if engine.IsCustomRuntime(runtime) {
			if fi, err := os.Stat(filepath.Join(dir, "bootstrap")); err != nil || !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0 {
				return store.CodeRef{}, invalidParam("The directory %s does not contain an executable 'bootstrap' file; runtime %s requires one.", dir, runtime)
			}
		}
		return store.DirRef(dir), nil
	case c.S3Bucket != "":
		return store.CodeRef{}, invalidParam("Code.S3Bucket %q: S3 is not available to this invoker; upload Code.ZipFile or use S3Bucket %q with S3Key set to a local directory.", c.S3Bucket, localBucket)
	default:
		return store.CodeRef{}, invalidParam("Please provide a source for function code.")
	}
}

// codeHasBootstrap reports whether stored code has a bootstrap at its root.
func (s *Server) codeHasBootstrap(ref store.CodeRef) bool {
	dir, err := s.set.Store.CodeDir(ref, s.cfg.WorkDir)
	if err != nil {
		return false
	}
	fi, err := os.Stat(filepath.Join(dir, "bootstrap"))
	return err == nil && fi.Mode().IsRegular()
}

// lookup returns the function named by the path label, with the qualifier
// from the label or ?Qualifier=.
// unqualifiedRequest is the common start of operations on $LATEST: it
// decodes the JSON body of op into in and looks up the function, refusing a
// qualifier with qualifierMsg. It has answered the request when ok is false.
func (s *Server) unqualifiedRequest(w http.ResponseWriter, r *http.Request, in any, op, qualifierMsg string) (f *store.Function, ok bool) {
	if err := readJSON(r, in, op); err != nil {
		writeError(w, err)
		return nil, false
	}
	f, q, err := s.lookup(r)
	if err != nil {
		writeError(w, err)
		return nil, false
	}
	if q != "" {
		writeError(w, invalidParam("%s", qualifierMsg))
		return nil, false
	}
	return f, true
}

func (s *Server) lookup(r *http.Request) (*store.Function, string, error) {
	name, q, err := nameAndQualifier(r.PathValue("name"), r.URL.Query().Get("Qualifier"))
	if err != nil {
		return nil, "", err
	}
	f, ok := s.set.Store.Get(name)
	if !ok {
		return nil, "", notFound("Function not found: %s", s.functionARN(name))
	}
	return f, q, nil
}

// versionOf resolves a qualifier to a version (aliases to their primary
// version), or a ResourceNotFoundException.
func (s *Server) versionOf(f *store.Function, q string) (string, error) {
	switch {
	case q == "" || q == store.Latest:
		return store.Latest, nil
	case versionRE.MatchString(q):
		if f.Version(q) == nil {
			return "", notFound("Function not found: %s:%s", s.functionARN(f.Name), q)
		}
		return q, nil
	default:
		a, ok := f.Aliases[q]
		if !ok {
			return "", notFound("Function not found: %s:%s", s.functionARN(f.Name), q)
		}
		return a.FunctionVersion, nil
	}
}

type concurrencyShape struct {
	ReservedConcurrentExecutions *int `json:"ReservedConcurrentExecutions,omitempty"`
}

func (s *Server) getFunction(w http.ResponseWriter, r *http.Request) {
	f, q, err := s.lookup(r)
	if err != nil {
		writeError(w, err)
		return
	}
	version, err := s.versionOf(f, q)
	if err != nil {
		writeError(w, err)
		return
	}
	out := struct {
		Configuration *functionConfiguration `json:"Configuration"`
		Code          map[string]string      `json:"Code"`
		Tags          map[string]string      `json:"Tags,omitempty"`
		Concurrency   *concurrencyShape      `json:"Concurrency,omitempty"`
	}{
		Configuration: s.configuration(f, version, q != ""),
		Code:          map[string]string{"RepositoryType": "S3", "Location": s.packageURL(r, f.Name, version)},
		Tags:          f.Tags,
	}
	if f.Reserved != nil {
		out.Concurrency = &concurrencyShape{ReservedConcurrentExecutions: f.Reserved}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) packageURL(r *http.Request, name, version string) string {
	host := r.Host
	if host == "" {
		host = "127.0.0.1"
	}
	return "http://" + host + "/2015-03-31/functions/" + name + "/package?Qualifier=" + strings.ReplaceAll(version, "$", "%24")
}

// codePackage serves a version's zip (GetFunction's Code.Location).
func (s *Server) codePackage(w http.ResponseWriter, r *http.Request) {
	f, q, err := s.lookup(r)
	if err != nil {
		writeError(w, err)
		return
	}
	version, err := s.versionOf(f, q)
	if err != nil {
		writeError(w, err)
		return
	}
	c, _ := f.ConfigOf(version)
	p := s.set.Store.ZipPath(c.Code)
	if p == "" {
		writeError(w, notFound("Function %s runs from the local directory %s; there is no package to download.", f.Name, c.Code.Dir))
		return
	}
	w.Header().Set("Content-Type", "application/zip")
	http.ServeFile(w, r, p)
}

func (s *Server) getFunctionConfiguration(w http.ResponseWriter, r *http.Request) {
	f, q, err := s.lookup(r)
	if err != nil {
		writeError(w, err)
		return
	}
	version, err := s.versionOf(f, q)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.configuration(f, version, q != ""))
}

func (s *Server) listFunctions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	all := q.Get("FunctionVersion") == "ALL"
	if fv := q.Get("FunctionVersion"); fv != "" && fv != "ALL" {
		writeError(w, invalidParam("1 validation error detected: Value '%s' at 'functionVersion' failed to satisfy constraint: Member must satisfy enum value set: [ALL]", fv))
		return
	}
	var items []*functionConfiguration
	for _, f := range s.set.Store.List() {
		items = append(items, s.configuration(f, store.Latest, all))
		if all {
			for _, v := range f.Versions {
				items = append(items, s.configuration(f, v.Version, true))
			}
		}
	}
	page, next, err := paginate(items, q.Get("Marker"), q.Get("MaxItems"), 50)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Functions  []*functionConfiguration `json:"Functions"`
		NextMarker string                   `json:"NextMarker,omitempty"`
	}{page, next})
}

// paginate pages items with an opaque numeric marker.
func paginate[T any](items []T, marker, maxItems string, def int) ([]T, string, error) {
	start := 0
	if marker != "" {
		n, err := strconv.Atoi(marker)
		if err != nil || n < 0 || n > len(items) {
			return nil, "", invalidParam("Invalid Marker: %s", marker)
		}
		start = n
	}
	limit := def
	if maxItems != "" {
		n, err := strconv.Atoi(maxItems)
		if err != nil || n < 1 || n > 10000 {
			return nil, "", invalidParam("1 validation error detected: Value '%s' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 10000", maxItems)
		}
		limit = n
	}
	end := min(start+limit, len(items))
	next := ""
	if end < len(items) {
		next = strconv.Itoa(end)
	}
	page := items[start:end]
	if page == nil {
		page = []T{}
	}
	return page, next, nil
}

type updateCodeInput struct {
	ZipFile       []byte   `json:"ZipFile"`
	S3Bucket      string   `json:"S3Bucket"`
	S3Key         string   `json:"S3Key"`
	ImageURI      string   `json:"ImageUri"`
	Publish       bool     `json:"Publish"`
	DryRun        bool     `json:"DryRun"`
	RevisionID    string   `json:"RevisionId"`
	Architectures []string `json:"Architectures"`
}

func (s *Server) updateFunctionCode(w http.ResponseWriter, r *http.Request) {
	var in updateCodeInput
	f, ok := s.unqualifiedRequest(w, r, &in, "UpdateFunctionCode", "Only the $LATEST version can be updated; remove the qualifier.")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ref, err := s.storeCode(&functionCode{ZipFile: in.ZipFile, S3Bucket: in.S3Bucket, S3Key: in.S3Key, ImageURI: in.ImageURI}, f.Latest.Runtime)
	if err != nil {
		writeError(w, err)
		return
	}
	if len(in.Architectures) > 0 && (len(in.Architectures) != 1 || (in.Architectures[0] != "x86_64" && in.Architectures[0] != "arm64")) {
		writeError(w, invalidParam("1 validation error detected: Value '%v' at 'architectures' failed to satisfy constraint", in.Architectures))
		return
	}
	if in.DryRun {
		s.set.Store.GC()
		writeJSON(w, http.StatusOK, s.configuration(f, store.Latest, false))
		return
	}
	var published string
	nf, err := s.set.Store.Update(f.Name, func(f *store.Function) error {
		if in.RevisionID != "" && in.RevisionID != f.Latest.RevisionID {
			return preconditionFailed()
		}
		f.Latest.Code = ref
		if len(in.Architectures) > 0 {
			f.Latest.Architectures = in.Architectures
		}
		f.Latest.LastModified = nowUTC()
		f.Latest.RevisionID = newRequestID()
		if in.Publish {
			published = publishIfChanged(f, "").Version
		}
		return nil
	})
	s.set.Store.GC()
	if err != nil {
		writeError(w, storeErr(err))
		return
	}
	s.retire(f.Name, store.Latest)
	if published != "" {
		writeJSON(w, http.StatusOK, s.configuration(nf, published, true))
		return
	}
	writeJSON(w, http.StatusOK, s.configuration(nf, store.Latest, false))
}

func preconditionFailed() *APIError {
	return errf(http.StatusPreconditionFailed, "PreconditionFailedException",
		"The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id")
}

// storeErr maps store errors to API errors (API errors pass through).
func storeErr(err error) error {
	var ae *APIError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, store.ErrNotFound):
		return notFound("%v", err)
	default:
		return serviceError(err)
	}
}

type updateConfigInput struct {
	Role             *string              `json:"Role"`
	Handler          *string              `json:"Handler"`
	Description      *string              `json:"Description"`
	Timeout          *int                 `json:"Timeout"`
	MemorySize       *int                 `json:"MemorySize"`
	Environment      *environmentInput    `json:"Environment"`
	Runtime          *string              `json:"Runtime"`
	TracingConfig    *modeConfig          `json:"TracingConfig"`
	DeadLetterConfig *deadLetterConfig    `json:"DeadLetterConfig"`
	RevisionID       string               `json:"RevisionId"`
	Layers           []string             `json:"Layers"`
	EphemeralStorage *sizeConfig          `json:"EphemeralStorage"`
	LoggingConfig    *store.LoggingConfig `json:"LoggingConfig"`
}

func (s *Server) updateFunctionConfiguration(w http.ResponseWriter, r *http.Request) {
	var in updateConfigInput
	f, ok := s.unqualifiedRequest(w, r, &in, "UpdateFunctionConfiguration", "Only the $LATEST version can be updated; remove the qualifier.")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	nf, err := s.set.Store.Update(f.Name, func(f *store.Function) error {
		c := &f.Latest
		if in.RevisionID != "" && in.RevisionID != c.RevisionID {
			return preconditionFailed()
		}
		if in.Role != nil {
			c.Role = *in.Role
		}
		if in.Handler != nil {
			c.Handler = *in.Handler
		}
		if in.Description != nil {
			c.Description = *in.Description
		}
		if in.Timeout != nil {
			c.Timeout = *in.Timeout
		}
		if in.MemorySize != nil {
			c.MemorySize = *in.MemorySize
		}
		if in.Environment != nil {
			c.Environment = in.Environment.Variables
		}
		if in.Runtime != nil {
			c.Runtime = *in.Runtime
		}
		if in.TracingConfig != nil && in.TracingConfig.Mode != "" {
			c.TracingMode = in.TracingConfig.Mode
		}
		if in.DeadLetterConfig != nil {
			c.DeadLetterTarget = in.DeadLetterConfig.TargetArn
		}
		if in.Layers != nil {
			c.Layers = in.Layers
		}
		if in.EphemeralStorage != nil {
			c.EphemeralStorage = in.EphemeralStorage.Size
		}
		if in.LoggingConfig != nil {
			c.Logging = *in.LoggingConfig
		}
		if err := s.validateConfig(c); err != nil {
			return err
		}
		if in.Runtime != nil && engine.IsCustomRuntime(c.Runtime) && !s.codeHasBootstrap(c.Code) {
			return invalidParam("The deployment package does not contain a 'bootstrap' file at its root; runtime %s requires an executable bootstrap.", c.Runtime)
		}
		c.LastModified = nowUTC()
		c.RevisionID = newRequestID()
		return nil
	})
	if err != nil {
		writeError(w, storeErr(err))
		return
	}
	s.retire(f.Name, store.Latest)
	writeJSON(w, http.StatusOK, s.configuration(nf, store.Latest, false))
}

func (s *Server) deleteFunction(w http.ResponseWriter, r *http.Request) {
	f, q, err := s.lookup(r)
	if err != nil {
		writeError(w, err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if q == "" {
		if _, err := s.set.Store.Delete(f.Name); err != nil {
			writeError(w, storeErr(err))
			return
		}
		_ = s.set.Engine.SetReserved(f.Name, -1)
		s.set.Engine.DropFunction(f.Name)
		s.forgetSpecs(f.Name)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if q == store.Latest {
		writeError(w, invalidParam("$LATEST version cannot be deleted without deleting the function."))
		return
	}
	if !versionRE.MatchString(q) {
		writeError(w, invalidParam("Deletion of aliases is not supported through DeleteFunction; use DeleteAlias."))
		return
	}
	_, err = s.set.Store.Update(f.Name, func(f *store.Function) error {
		if f.Version(q) == nil {
			return notFound("Function not found: %s:%s", s.functionARN(f.Name), q)
		}
		for _, a := range f.Aliases {
			if a.FunctionVersion == q || a.AdditionalVersionWeights[q] > 0 {
				return conflict("Unable to delete version because the following aliases reference it: [%s]", a.Name)
			}
		}
		f.Versions = slices.DeleteFunc(f.Versions, func(v store.Version) bool { return v.Version == q })
		delete(f.EventInvokeConfigs, q)
		return nil
	})
	if err != nil {
		writeError(w, storeErr(err))
		return
	}
	s.set.Store.GC()
	s.retire(f.Name, q)
	w.WriteHeader(http.StatusNoContent)
}

// retire drops the environments of a changed or deleted version.
func (s *Server) retire(name, version string) {
	s.set.Engine.DropVersion(name, version)
	s.forgetSpecs(name)
}

func (s *Server) accountSettings(w http.ResponseWriter, r *http.Request) {
	total, unreserved := s.set.Engine.Limits()
	var codeSize int64
	fns := s.set.Store.List()
	for _, f := range fns {
		for _, ref := range f.CodeRefs() {
			codeSize += ref.Size
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"AccountLimit": map[string]any{
			"TotalCodeSize": int64(80) << 30, "CodeSizeUnzipped": store.MaxUnzippedBytes, "CodeSizeZipped": store.MaxZipBytes,
			"ConcurrentExecutions": total, "UnreservedConcurrentExecutions": unreserved,
		},
		"AccountUsage": map[string]any{"TotalCodeSize": codeSize, "FunctionCount": len(fns)},
	})
}
