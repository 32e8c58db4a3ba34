package lambdaapi

import (
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/fluoro/fluoro/invoker/store"
)

// publishIfChanged publishes $LATEST unless the newest version already has
// the same code and configuration, which it returns instead (as AWS does).
func publishIfChanged(f *store.Function, description string) *store.Version {
	if n := len(f.Versions); n > 0 && f.Versions[n-1].Config.SameContent(f.Latest) {
		return &f.Versions[n-1]
	}
	return publishInto(f, description)
}

type publishVersionInput struct {
	CodeSha256  string `json:"CodeSha256"`
	Description string `json:"Description"`
	RevisionID  string `json:"RevisionId"`
}

func (s *Server) publishVersion(w http.ResponseWriter, r *http.Request) {
	var in publishVersionInput
	f, ok := s.unqualifiedRequest(w, r, &in, "PublishVersion", "PublishVersion takes an unqualified function name.")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var version string
	nf, err := s.set.Store.Update(f.Name, func(f *store.Function) error {
		if in.RevisionID != "" && in.RevisionID != f.Latest.RevisionID {
			return preconditionFailed()
		}
		if in.CodeSha256 != "" && in.CodeSha256 != f.Latest.Code.Sha256 {
			return errf(http.StatusPreconditionFailed, "PreconditionFailedException",
				"CodeSHA256 (%s) is different from current CodeSHA256 in $LATEST (%s). Please try again from GetFunction.", in.CodeSha256, f.Latest.Code.Sha256)
		}
		version = publishIfChanged(f, in.Description).Version
		return nil
	})
	if err != nil {
		writeError(w, storeErr(err))
		return
	}
	writeJSON(w, http.StatusCreated, s.configuration(nf, version, true))
}

func (s *Server) listVersions(w http.ResponseWriter, r *http.Request) {
	f, q, err := s.lookup(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if q != "" {
		writeError(w, invalidParam("ListVersionsByFunction takes an unqualified function name."))
		return
	}
	items := []*functionConfiguration{s.configuration(f, store.Latest, true)}
	for _, v := range f.Versions {
		items = append(items, s.configuration(f, v.Version, true))
	}
	page, next, err := paginate(items, r.URL.Query().Get("Marker"), r.URL.Query().Get("MaxItems"), 50)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Versions   []*functionConfiguration `json:"Versions"`
		NextMarker string                   `json:"NextMarker,omitempty"`
	}{page, next})
}

// ---- aliases ----

type routingConfig struct {
	AdditionalVersionWeights map[string]float64 `json:"AdditionalVersionWeights,omitempty"`
}

type aliasInput struct {
	Name            string         `json:"Name"`
	FunctionVersion *string        `json:"FunctionVersion"`
	Description     *string        `json:"Description"`
	RoutingConfig   *routingConfig `json:"RoutingConfig"`
	RevisionID      string         `json:"RevisionId"`
}

type aliasConfiguration struct {
	AliasArn        string         `json:"AliasArn"`
	Name            string         `json:"Name"`
	FunctionVersion string         `json:"FunctionVersion"`
	Description     string         `json:"Description"`
	RoutingConfig   *routingConfig `json:"RoutingConfig,omitempty"`
	RevisionID      string         `json:"RevisionId"`
}

func (s *Server) aliasShape(fn string, a *store.Alias) *aliasConfiguration {
	out := &aliasConfiguration{
		AliasArn: s.functionARN(fn) + ":" + a.Name, Name: a.Name, FunctionVersion: a.FunctionVersion,
		Description: a.Description, RevisionID: a.RevisionID,
	}
	if len(a.AdditionalVersionWeights) > 0 {
		out.RoutingConfig = &routingConfig{AdditionalVersionWeights: a.AdditionalVersionWeights}
	}
	return out
}

// validateAlias checks an alias's target and routing against f.
func (s *Server) validateAlias(f *store.Function, a *store.Alias) error {
	if a.FunctionVersion != store.Latest && f.Version(a.FunctionVersion) == nil {
		return notFound("Function not found: %s:%s", s.functionARN(f.Name), a.FunctionVersion)
	}
	if len(a.AdditionalVersionWeights) > 1 {
		return invalidParam("Number of items in AdditionalVersionWeights cannot be greater than 1")
	}
	for v, wt := range a.AdditionalVersionWeights {
		if a.FunctionVersion == store.Latest || v == store.Latest {
			return invalidParam("$LATEST is not supported for an alias pointing to more than 1 version")
		}
		if !versionRE.MatchString(v) || f.Version(v) == nil {
			return invalidParam("Version %s of function %s does not exist; AdditionalVersionWeights must name a published version.", v, s.functionARN(f.Name))
		}
		if v == a.FunctionVersion {
			return invalidParam("Invalid function version %s. Function version %s is already included in routing configuration.", v, v)
		}
		if wt < 0 || wt > 1 {
			return invalidParam("1 validation error detected: Value '%v' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member must have value greater than or equal to 0.0]", wt)
		}
	}
	return nil
}

func (s *Server) createAlias(w http.ResponseWriter, r *http.Request) {
	var in aliasInput
	f, ok := s.unqualifiedRequest(w, r, &in, "CreateAlias", "CreateAlias takes an unqualified function name.")
	if !ok {
		return
	}
	if !aliasNameRE.MatchString(in.Name) || versionRE.MatchString(in.Name) || in.Name == store.Latest {
		writeError(w, invalidParam("1 validation error detected: Value '%s' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)", in.Name))
		return
	}
	if in.FunctionVersion == nil || *in.FunctionVersion == "" {
		writeError(w, invalidParam("1 validation error detected: Value null at 'functionVersion' failed to satisfy constraint: Member must not be null"))
		return
	}
	a := &store.Alias{Name: in.Name, FunctionVersion: *in.FunctionVersion, RevisionID: newRequestID()}
	if in.Description != nil {
		a.Description = *in.Description
	}
	if in.RoutingConfig != nil {
		a.AdditionalVersionWeights = in.RoutingConfig.AdditionalVersionWeights
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.set.Store.Update(f.Name, func(f *store.Function) error {
		if _, ok := f.Aliases[a.Name]; ok {
			return conflict("Alias already exists: %s:%s", s.functionARN(f.Name), a.Name)
		}
		if err := s.validateAlias(f, a); err != nil {
			return err
		}
		if f.Aliases == nil {
			f.Aliases = map[string]*store.Alias{}
		}
		f.Aliases[a.Name] = a
		return nil
	})
	if err != nil {
		writeError(w, storeErr(err))
		return
	}
	writeJSON(w, http.StatusCreated, s.aliasShape(f.Name, a))
}

// aliasOf returns the function and alias named by the path.
func (s *Server) aliasOf(r *http.Request) (*store.Function, *store.Alias, error) {
	f, q, err := s.lookup(r)
	if err != nil {
		return nil, nil, err
	}
	if q != "" {
		return nil, nil, invalidParam("Alias operations take an unqualified function name.")
	}
	name := r.PathValue("alias")
	a, ok := f.Aliases[name]
	if !ok {
		return nil, nil, notFound("Alias not found: %s:%s", s.functionARN(f.Name), name)
	}
	return f, a, nil
}

func (s *Server) getAlias(w http.ResponseWriter, r *http.Request) {
	f, a, err := s.aliasOf(r)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.aliasShape(f.Name, a))
}

func (s *Server) updateAlias(w http.ResponseWriter, r *http.Request) {
	var in aliasInput
	if err := readJSON(r, &in, "UpdateAlias"); err != nil {
		writeError(w, err)
		return
	}
	f, a, err := s.aliasOf(r)
	if err != nil {
		writeError(w, err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out *store.Alias
	_, err = s.set.Store.Update(f.Name, func(f *store.Function) error {
		cur, ok := f.Aliases[a.Name]
		if !ok {
			return notFound("Alias not found: %s:%s", s.functionARN(f.Name), a.Name)
		}
		if in.RevisionID != "" && in.RevisionID != cur.RevisionID {
			return preconditionFailed()
		}
		if in.FunctionVersion != nil && *in.FunctionVersion != "" {
			cur.FunctionVersion = *in.FunctionVersion
		}
		if in.Description != nil {
			cur.Description = *in.Description
		}
		if in.RoutingConfig != nil {
			cur.AdditionalVersionWeights = maps.Clone(in.RoutingConfig.AdditionalVersionWeights)
		}
		if err := s.validateAlias(f, cur); err != nil {
			return err
		}
		cur.RevisionID = newRequestID()
		out = cur
		return nil
	})
	if err != nil {
		writeError(w, storeErr(err))
		return
	}
	writeJSON(w, http.StatusOK, s.aliasShape(f.Name, out))
}

func (s *Server) deleteAlias(w http.ResponseWriter, r *http.Request) {
	f, q, err := s.lookup(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if q != "" {
		writeError(w, invalidParam("Alias operations take an unqualified function name."))
		return
	}
	name := r.PathValue("alias")
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err = s.set.Store.Update(f.Name, func(f *store.Function) error {
		delete(f.Aliases, name) // deleting a missing alias succeeds, as on AWS
		delete(f.EventInvokeConfigs, name)
		return nil
	})
	if err != nil {
		writeError(w, storeErr(err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) listAliases(w http.ResponseWriter, r *http.Request) {
	f, q, err := s.lookup(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if q != "" {
		writeError(w, invalidParam("Alias operations take an unqualified function name."))
		return
	}
	fv := r.URL.Query().Get("FunctionVersion")
	names := slices.Sorted(maps.Keys(f.Aliases))
	items := []*aliasConfiguration{}
	for _, n := range names {
		a := f.Aliases[n]
		if fv == "" || a.FunctionVersion == fv {
			items = append(items, s.aliasShape(f.Name, a))
		}
	}
	page, next, err := paginate(items, r.URL.Query().Get("Marker"), r.URL.Query().Get("MaxItems"), 50)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Aliases    []*aliasConfiguration `json:"Aliases"`
		NextMarker string                `json:"NextMarker,omitempty"`
	}{page, next})
}

// ---- reserved concurrency ----

func (s *Server) putConcurrency(w http.ResponseWriter, r *http.Request) {
	var in struct {
		ReservedConcurrentExecutions *int `json:"ReservedConcurrentExecutions"`
	}
	if err := readJSON(r, &in, "PutFunctionConcurrency"); err != nil {
		writeError(w, err)
		return
	}
	f, q, err := s.lookup(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if q != "" {
		writeError(w, invalidParam("Reserved concurrency applies to the whole function; remove the qualifier."))
		return
	}
	if in.ReservedConcurrentExecutions == nil || *in.ReservedConcurrentExecutions < 0 {
		writeError(w, invalidParam("1 validation error detected: Value at 'reservedConcurrentExecutions' failed to satisfy constraint: Member must have value greater than or equal to 0"))
		return
	}
	n := *in.ReservedConcurrentExecutions
	s.mu.Lock()
	defer s.mu.Unlock()
	old := -1
	if f.Reserved != nil {
		old = *f.Reserved
	}
	if err := s.set.Engine.SetReserved(f.Name, n); err != nil {
		writeError(w, invalidParam("%s", strings.TrimPrefix(err.Error(), "reservation refused: ")))
		return
	}
	if _, err := s.set.Store.Update(f.Name, func(f *store.Function) error { f.Reserved = &n; return nil }); err != nil {
		_ = s.set.Engine.SetReserved(f.Name, old)
		writeError(w, storeErr(err))
		return
	}
	writeJSON(w, http.StatusOK, concurrencyShape{ReservedConcurrentExecutions: &n})
}

func (s *Server) getConcurrency(w http.ResponseWriter, r *http.Request) {
	f, _, err := s.lookup(r)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, concurrencyShape{ReservedConcurrentExecutions: f.Reserved})
}

func (s *Server) deleteConcurrency(w http.ResponseWriter, r *http.Request) {
	f, _, err := s.lookup(r)
	if err != nil {
		writeError(w, err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.set.Store.Update(f.Name, func(f *store.Function) error { f.Reserved = nil; return nil }); err != nil {
		writeError(w, storeErr(err))
		return
	}
	_ = s.set.Engine.SetReserved(f.Name, -1)
	w.WriteHeader(http.StatusNoContent)
}
