package lambdaapi

import (
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/fluoro/fluoro/invoker/store"
)

type destination struct {
	Destination string `json:"Destination,omitempty"`
}

type destinationConfig struct {
	OnSuccess *destination `json:"OnSuccess,omitempty"`
	OnFailure *destination `json:"OnFailure,omitempty"`
}

type eventInvokeConfigInput struct {
	MaximumRetryAttempts     *int               `json:"MaximumRetryAttempts"`
	MaximumEventAgeInSeconds *int               `json:"MaximumEventAgeInSeconds"`
	DestinationConfig        *destinationConfig `json:"DestinationConfig"`
}

type eventInvokeConfigShape struct {
	LastModified             float64            `json:"LastModified"` // epoch seconds
	FunctionArn              string             `json:"FunctionArn"`
	MaximumRetryAttempts     *int               `json:"MaximumRetryAttempts,omitempty"`
	MaximumEventAgeInSeconds *int               `json:"MaximumEventAgeInSeconds,omitempty"`
	DestinationConfig        *destinationConfig `json:"DestinationConfig,omitempty"`
}

func (s *Server) eventConfigShape(fn, qualifier string, c *store.EventInvokeConfig) *eventInvokeConfigShape {
	out := &eventInvokeConfigShape{
		LastModified:             float64(c.LastModified.UnixMilli()) / 1000,
		FunctionArn:              s.functionARN(fn) + ":" + qualifier,
		MaximumRetryAttempts:     c.MaximumRetryAttempts,
		MaximumEventAgeInSeconds: c.MaximumEventAgeInSeconds,
	}
	if c.OnSuccess != "" || c.OnFailure != "" {
		out.DestinationConfig = &destinationConfig{}
		if c.OnSuccess != "" {
			out.DestinationConfig.OnSuccess = &destination{Destination: c.OnSuccess}
		}
		if c.OnFailure != "" {
			out.DestinationConfig.OnFailure = &destination{Destination: c.OnFailure}
		}
	}
	return out
}

// eventQualifier resolves the qualifier of an event-invoke-config call to
// the key it is stored under, checking the version or alias exists.
func (s *Server) eventQualifier(f *store.Function, q string) (string, error) {
	if q == "" {
		return store.Latest, nil
	}
	if _, err := s.versionOf(f, q); err != nil {
		return "", err
	}
	return q, nil
}

func (s *Server) validateDestination(fn, arn string) error {
	if arn == "" {
		return nil
	}
	parts := strings.Split(arn, ":")
	if len(parts) < 6 || parts[0] != "arn" {
		return invalidParam("The provided destination config DestinationConfig.OnSuccess/OnFailure %s is invalid.", arn)
	}
	switch parts[2] {
	case "lambda":
		name, _, err := parseFunctionName(arn)
		if err != nil {
			return err
		}
		if name == fn {
			return invalidParam("You can't specify the function as a destination for itself.")
		}
	case "sqs", "sns", "events", "s3":
	default:
		return invalidParam("The destination ARN %s is invalid; supported: Lambda, SQS, SNS, EventBridge, S3.", arn)
	}
	return nil
}

func (s *Server) writeEventConfig(w http.ResponseWriter, r *http.Request, merge bool) {
	var in eventInvokeConfigInput
	if err := readJSON(r, &in, "PutFunctionEventInvokeConfig"); err != nil {
		writeError(w, err)
		return
	}
	f, q, err := s.lookup(r)
	if err != nil {
		writeError(w, err)
		return
	}
	key, err := s.eventQualifier(f, q)
	if err != nil {
		writeError(w, err)
		return
	}
	if v := in.MaximumRetryAttempts; v != nil && (*v < 0 || *v > 2) {
		writeError(w, invalidParam("1 validation error detected: Value '%d' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value less than or equal to 2", *v))
		return
	}
	if v := in.MaximumEventAgeInSeconds; v != nil && (*v < 60 || *v > 21600) {
		writeError(w, invalidParam("1 validation error detected: Value '%d' at 'maximumEventAgeInSeconds' failed to satisfy constraint: Member must have value between 60 and 21600", *v))
		return
	}
	var onSuccess, onFailure *string
	if d := in.DestinationConfig; d != nil {
		if d.OnSuccess != nil {
			onSuccess = &d.OnSuccess.Destination
		}
		if d.OnFailure != nil {
			onFailure = &d.OnFailure.Destination
		}
	}
	for _, d := range []*string{onSuccess, onFailure} {
		if d != nil {
			if err := s.validateDestination(f.Name, *d); err != nil {
				writeError(w, err)
				return
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out *store.EventInvokeConfig
	_, err = s.set.Store.Update(f.Name, func(f *store.Function) error {
		c := &store.EventInvokeConfig{}
		if merge {
			old, ok := f.EventInvokeConfigs[key]
			if !ok {
				return notFound("The function %s doesn't have an EventInvokeConfig", s.functionARN(f.Name)+":"+key)
			}
			*c = *old
		}
		if in.MaximumRetryAttempts != nil || !merge {
			c.MaximumRetryAttempts = in.MaximumRetryAttempts
		}
		if in.MaximumEventAgeInSeconds != nil || !merge {
			c.MaximumEventAgeInSeconds = in.MaximumEventAgeInSeconds
		}
		if onSuccess != nil || !merge {
			c.OnSuccess = deref(onSuccess)
		}
		if onFailure != nil || !merge {
			c.OnFailure = deref(onFailure)
		}
		c.LastModified = time.Now().UTC()
		if f.EventInvokeConfigs == nil {
			f.EventInvokeConfigs = map[string]*store.EventInvokeConfig{}
		}
		f.EventInvokeConfigs[key] = c
		out = c
		return nil
	})
	if err != nil {
		writeError(w, storeErr(err))
		return
	}
	writeJSON(w, http.StatusOK, s.eventConfigShape(f.Name, key, out))
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func (s *Server) putEventInvokeConfig(w http.ResponseWriter, r *http.Request) {
	s.writeEventConfig(w, r, false)
}

func (s *Server) updateEventInvokeConfig(w http.ResponseWriter, r *http.Request) {
	s.writeEventConfig(w, r, true)
}

func (s *Server) getEventInvokeConfig(w http.ResponseWriter, r *http.Request) {
	f, q, err := s.lookup(r)
	if err != nil {
		writeError(w, err)
		return
	}
	key, err := s.eventQualifier(f, q)
	if err != nil {
		writeError(w, err)
		return
	}
	c, ok := f.EventInvokeConfigs[key]
	if !ok {
		writeError(w, notFound("The function %s doesn't have an EventInvokeConfig", s.functionARN(f.Name)+":"+key))
		return
	}
	writeJSON(w, http.StatusOK, s.eventConfigShape(f.Name, key, c))
}

func (s *Server) deleteEventInvokeConfig(w http.ResponseWriter, r *http.Request) {
	f, q, err := s.lookup(r)
	if err != nil {
		writeError(w, err)
		return
	}
	key, err := s.eventQualifier(f, q)
	if err != nil {
		writeError(w, err)
		return
	}
	if _, ok := f.EventInvokeConfigs[key]; !ok {
		writeError(w, notFound("The function %s doesn't have an EventInvokeConfig", s.functionARN(f.Name)+":"+key))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.set.Store.Update(f.Name, func(f *store.Function) error {
		delete(f.EventInvokeConfigs, key)
		return nil
	}); err != nil {
		writeError(w, storeErr(err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) listEventInvokeConfigs(w http.ResponseWriter, r *http.Request) {
	f, _, err := s.lookup(r)
	if err != nil {
		writeError(w, err)
		return
	}
	items := []*eventInvokeConfigShape{}
	for _, k := range slices.Sorted(maps.Keys(f.EventInvokeConfigs)) {
		items = append(items, s.eventConfigShape(f.Name, k, f.EventInvokeConfigs[k]))
	}
	page, next, err := paginate(items, r.URL.Query().Get("Marker"), r.URL.Query().Get("MaxItems"), 50)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		FunctionEventInvokeConfigs []*eventInvokeConfigShape `json:"FunctionEventInvokeConfigs"`
		NextMarker                 string                    `json:"NextMarker,omitempty"`
	}{page, next})
}

// EventConfig returns the asynchronous-invocation settings that apply to an
// invocation of fn through qualifier (the qualifier's own configuration).
// found is false when none is configured (defaults apply).
func (s *Server) EventConfig(fn, qualifier string) (c store.EventInvokeConfig, found bool) {
	f, ok := s.set.Store.Get(fn)
	if !ok {
		return c, false
	}
	if qualifier == "" {
		qualifier = store.Latest
	}
	if ec, ok := f.EventInvokeConfigs[qualifier]; ok {
		return *ec, true
	}
	return c, false
}
