package store

import (
	"encoding/json"
	"maps"
	"slices"
	"time"
)

// Latest is the name of the mutable version.
const Latest = "$LATEST"

// CodeRef identifies a function's code.
type CodeRef struct {
	// Sha256 is the base64 SHA-256 of the zip (CodeSha256); for a local
	// directory, of its path.
	Sha256 string `json:"sha256"`
	// Size is the zip's size in bytes (CodeSize); 0 for a directory.
	Size int64 `json:"size"`
	// Key names the stored zip (hex SHA-256); "" for a directory.
	Key string `json:"key,omitempty"`
	// Dir is a local directory used in place (the development extension);
	// "" for a zip.
	Dir string `json:"dir,omitempty"`
}

// LoggingConfig mirrors the API's LoggingConfig.
type LoggingConfig struct {
	LogFormat           string `json:"LogFormat,omitempty"`
	ApplicationLogLevel string `json:"ApplicationLogLevel,omitempty"`
	SystemLogLevel      string `json:"SystemLogLevel,omitempty"`
	LogGroup            string `json:"LogGroup,omitempty"`
}

// Config is the version-scoped configuration of a function (what
// PublishVersion freezes).
type Config struct {
	Runtime          string            `json:"runtime"`
	Role             string            `json:"role"`
	Handler          string            `json:"handler"`
	Description      string            `json:"description"`
	Timeout          int               `json:"timeout"`     // seconds
	MemorySize       int               `json:"memory_size"` // MB
	Environment      map[string]string `json:"environment,omitempty"`
	TracingMode      string            `json:"tracing_mode"` // Active | PassThrough
	Architectures    []string          `json:"architectures,omitempty"`
	EphemeralStorage int               `json:"ephemeral_storage"` // MB
	PackageType      string            `json:"package_type"`
	Layers           []string          `json:"layers,omitempty"`
	DeadLetterTarget string            `json:"dead_letter_target,omitempty"`
	Logging          LoggingConfig     `json:"logging"`
	Code             CodeRef           `json:"code"`

	// Volatile members, excluded from change detection.
	LastModified time.Time `json:"last_modified"`
	RevisionID   string    `json:"revision_id"`
}

// Clone returns a deep copy.
func (c Config) Clone() Config {
	c.Environment = maps.Clone(c.Environment)
	c.Architectures = slices.Clone(c.Architectures)
	c.Layers = slices.Clone(c.Layers)
	return c
}

// SameContent reports whether c and o differ only in volatile members
// (PublishVersion returns the existing version then).
func (c Config) SameContent(o Config) bool {
	c.LastModified, o.LastModified = time.Time{}, time.Time{}
	c.RevisionID, o.RevisionID = "", ""
	a, err1 := json.Marshal(c)
	b, err2 := json.Marshal(o)
	return err1 == nil && err2 == nil && string(a) == string(b)
}

// Version is a published, immutable version.
type Version struct {
	Version     string `json:"version"` // "1", "2", …
	Description string `json:"description"`
	Config      Config `json:"config"`
}

// Alias points at a version, optionally splitting traffic with a second one.
type Alias struct {
	Name            string `json:"name"`
	FunctionVersion string `json:"function_version"`
	Description     string `json:"description"`
	// AdditionalVersionWeights maps one other published version to the share
	// of invocations (0–1) it receives.
	AdditionalVersionWeights map[string]float64 `json:"additional_version_weights,omitempty"`
	RevisionID               string             `json:"revision_id"`
}

// EventInvokeConfig is the asynchronous invocation configuration of a
// function, version or alias.
type EventInvokeConfig struct {
	MaximumRetryAttempts     *int      `json:"maximum_retry_attempts,omitempty"`
	MaximumEventAgeInSeconds *int      `json:"maximum_event_age_in_seconds,omitempty"`
	OnSuccess                string    `json:"on_success,omitempty"`
	OnFailure                string    `json:"on_failure,omitempty"`
	LastModified             time.Time `json:"last_modified"`
}

// Function is everything stored about one function.
type Function struct {
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
	Latest  Config    `json:"latest"`
	// Versions are the published versions in ascending order.
	Versions []Version `json:"versions,omitempty"`
	// LastVersion is the highest version number ever published; numbers are
	// never reused, even after a version is deleted.
	LastVersion int               `json:"last_version"`
	Aliases     map[string]*Alias `json:"aliases,omitempty"`
	// Reserved is the reserved concurrency; nil = none.
	Reserved *int `json:"reserved,omitempty"`
	// EventInvokeConfigs are keyed by qualifier ("$LATEST", a version or an
	// alias name).
	EventInvokeConfigs map[string]*EventInvokeConfig `json:"event_invoke_configs,omitempty"`
	Tags               map[string]string             `json:"tags,omitempty"`
}

// Clone returns a deep copy that may be modified.
func (f *Function) Clone() *Function {
	c := *f
	c.Latest = f.Latest.Clone()
	c.Versions = make([]Version, len(f.Versions))
	for i, v := range f.Versions {
		v.Config = v.Config.Clone()
		c.Versions[i] = v
	}
	c.Aliases = make(map[string]*Alias, len(f.Aliases))
	for k, a := range f.Aliases {
		ac := *a
		ac.AdditionalVersionWeights = maps.Clone(a.AdditionalVersionWeights)
		c.Aliases[k] = &ac
	}
	if f.Reserved != nil {
		r := *f.Reserved
		c.Reserved = &r
	}
	c.EventInvokeConfigs = make(map[string]*EventInvokeConfig, len(f.EventInvokeConfigs))
	for k, e := range f.EventInvokeConfigs {
		ec := *e
		c.EventInvokeConfigs[k] = &ec
	}
	c.Tags = maps.Clone(f.Tags)
	return &c
}

// Version returns the published version v, or nil.
func (f *Function) Version(v string) *Version {
	for i := range f.Versions {
		if f.Versions[i].Version == v {
			return &f.Versions[i]
		}
	}
	return nil
}

// ConfigOf returns the configuration of version ("$LATEST" or a number).
func (f *Function) ConfigOf(version string) (*Config, bool) {
	if version == Latest {
		return &f.Latest, true
	}
	if v := f.Version(version); v != nil {
		return &v.Config, true
	}
	return nil, false
}

// CodeRefs returns every code package the function references.
func (f *Function) CodeRefs() []CodeRef {
	refs := []CodeRef{f.Latest.Code}
	for _, v := range f.Versions {
		refs = append(refs, v.Config.Code)
	}
	return refs
}
