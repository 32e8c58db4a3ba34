package xraytrace

import (
	"cmp"
	"math"
	"slices"
	"strings"

	"github.com/valyala/fastjson"
)

// Summary is X-Ray's TraceSummary with the members derivable from stored
// documents. JSON keys are the X-Ray member names; times are epoch seconds.
type Summary struct {
	ID        string   `json:"Id"`
	StartTime *float64 `json:"StartTime,omitempty"`
	// Duration is the latest end minus the earliest start (absent while
	// nothing has completed).
	Duration *float64 `json:"Duration,omitempty"`
	// ResponseTime is the root segment's duration (absent while it is in
	// progress or missing).
	ResponseTime *float64 `json:"ResponseTime,omitempty"`
	HasFault     bool     `json:"HasFault"`
	HasError     bool     `json:"HasError"`
	HasThrottle  bool     `json:"HasThrottle"`
	IsPartial    bool     `json:"IsPartial"`
	HTTP         *HTTP    `json:"Http,omitempty"`

	Annotations       map[string][]AnnotationEntry `json:"Annotations,omitempty"`
	Users             []User                       `json:"Users,omitempty"`
	ServiceIDs        []ServiceID                  `json:"ServiceIds,omitempty"`
	ResourceARNs      []ResourceARN                `json:"ResourceARNs,omitempty"`
	InstanceIDs       []InstanceID                 `json:"InstanceIds,omitempty"`
	AvailabilityZones []AvailabilityZone           `json:"AvailabilityZones,omitempty"`
	EntryPoint        *ServiceID                   `json:"EntryPoint,omitempty"`
	// Revision grows each time the trace changes: a document arrives or an
	// in-progress one completes.
	Revision int `json:"Revision"`
	// MatchedEventTime is set by the caller for TimeRangeType Event.
	MatchedEventTime *float64 `json:"MatchedEventTime,omitempty"`
}

// HTTP is the root segment's request and response.
type HTTP struct {
	HTTPURL    string `json:"HttpURL,omitempty"`
	HTTPStatus int    `json:"HttpStatus,omitempty"`
	HTTPMethod string `json:"HttpMethod,omitempty"`
	UserAgent  string `json:"UserAgent,omitempty"`
	ClientIP   string `json:"ClientIp,omitempty"`
}

// AnnotationEntry is one distinct value of an annotation key and the
// services whose segments carried it.
type AnnotationEntry struct {
	AnnotationValue AnnotationValue `json:"AnnotationValue"`
	ServiceIDs      []ServiceID     `json:"ServiceIds,omitempty"`
}

// AnnotationValue is X-Ray's union: exactly one member is set.
type AnnotationValue struct {
	StringValue  *string  `json:"StringValue,omitempty"`
	NumberValue  *float64 `json:"NumberValue,omitempty"`
	BooleanValue *bool    `json:"BooleanValue,omitempty"`
}

// User is one user id seen in the trace.
type User struct {
	UserName   string      `json:"UserName"`
	ServiceIDs []ServiceID `json:"ServiceIds,omitempty"`
}

// ServiceID identifies a service node: name, type (origin) and account.
type ServiceID struct {
	Name      string   `json:"Name,omitempty"`
	Names     []string `json:"Names,omitempty"`
	AccountID string   `json:"AccountId,omitempty"`
	Type      string   `json:"Type,omitempty"`
}

// ResourceARN is one resource_arn seen in the trace.
type ResourceARN struct {
	ARN string `json:"ARN"`
}

// InstanceID is one aws.ec2.instance_id seen in the trace.
type InstanceID struct {
	ID string `json:"Id"`
}

// AvailabilityZone is one availability zone seen in the trace.
type AvailabilityZone struct {
	Name string `json:"Name"`
}

type serviceKey struct{ name, typ, account string }

func (k serviceKey) id() ServiceID {
	return ServiceID{Name: k.name, Names: []string{k.name}, AccountID: k.account, Type: k.typ}
}

// annKey identifies one distinct annotation value: kind is 's', 'n' or 'b'.
type annKey struct {
	key  string
	kind byte
	s    string
	n    float64
	b    bool
}

// Summary computes the trace summary (xray.md §4.5).
func (a *Assembly) Summary() Summary {
	s := Summary{ID: a.traceID}

	start, end := a.span()
	if start > 0 {
		s.StartTime = ptr(start)
	}
	if end > start && start > 0 {
		s.Duration = ptr(round6(end - start))
	}
	for _, d := range a.docs {
		s.Revision++
		if !d.doc.InProgress {
			s.Revision++
		}
	}

	var (
		services   []serviceKey
		seenSvc    = map[serviceKey]bool{}
		annOrder   []annKey
		annSvcs    = map[annKey][]serviceKey{}
		users      []string
		userSvcs   = map[string][]serviceKey{}
		arns       []string
		instances  []string
		zones      []string
		addService = func(k serviceKey) {
			if !seenSvc[k] {
				seenSvc[k] = true
				services = append(services, k)
			}
		}
	)
	root := a.root()
	a.walk(func(n *node) bool {
		v := n.v
		var svc *serviceKey
		if n.segment != nil {
			k := segmentService(n.segment)
			svc = &k
		}
		if n.isSegment {
			addService(*svc)
			if throttled(v) {
				s.HasThrottle = true
			}
			for _, zone := range [][]string{{"aws", "ec2", "availability_zone"}, {"aws", "ecs", "availability_zone"}} {
				if z := str(v, zone...); z != "" && !slices.Contains(zones, z) {
					zones = append(zones, z)
				}
			}
			if id := str(v, "aws", "ec2", "instance_id"); id != "" && !slices.Contains(instances, id) {
				instances = append(instances, id)
			}
		} else if k, ok := inferredService(v); ok && !a.segmentParents[lowerID(str(v, "id"))] {
			addService(k)
		}
		if v.GetBool("in_progress") {
			s.IsPartial = true
		}
		if arn := str(v, "resource_arn"); arn != "" && !slices.Contains(arns, arn) {
			arns = append(arns, arn)
		}
		if u := str(v, "user"); u != "" {
			if _, ok := userSvcs[u]; !ok {
				users = append(users, u)
				userSvcs[u] = nil
			}
			if svc != nil && !slices.Contains(userSvcs[u], *svc) {
				userSvcs[u] = append(userSvcs[u], *svc)
			}
		}
		if o := v.GetObject("annotations"); o != nil {
			o.Visit(func(key []byte, av *fastjson.Value) {
				k := annKey{key: string(key)}
				switch av.Type() {
				case fastjson.TypeString:
					b, _ := av.StringBytes()
					k.kind, k.s = 's', string(b)
				case fastjson.TypeNumber:
					f, err := av.Float64()
					if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
						return
					}
					k.kind, k.n = 'n', f
				case fastjson.TypeTrue, fastjson.TypeFalse:
					k.kind, k.b = 'b', av.Type() == fastjson.TypeTrue
				default:
					return
				}
				if _, ok := annSvcs[k]; !ok {
					annOrder = append(annOrder, k)
					annSvcs[k] = nil
				}
				if svc != nil && !slices.Contains(annSvcs[k], *svc) {
					annSvcs[k] = append(annSvcs[k], *svc)
				}
			})
		}
		return true
	})

	if root != nil {
		rv := root.v
		entry := segmentService(rv)
		s.EntryPoint = ptr(entry.id())
		if !root.doc.InProgress && !rv.GetBool("in_progress") {
			if st, en := rv.GetFloat64("start_time"), rv.GetFloat64("end_time"); en >= st && st > 0 {
				s.ResponseTime = ptr(round6(en - st))
			}
		}
		status := rv.GetInt("http", "response", "status")
		s.HasFault = flag(rv, "fault", status >= 500 && status <= 599)
		s.HasError = flag(rv, "error", status >= 400 && status <= 499)
		if h := rv.Get("http"); h != nil && h.Type() == fastjson.TypeObject {
			s.HTTP = &HTTP{
				HTTPURL:    str(h, "request", "url"),
				HTTPStatus: status,
				HTTPMethod: str(h, "request", "method"),
				UserAgent:  str(h, "request", "user_agent"),
				ClientIP:   str(h, "request", "client_ip"),
			}
			if *s.HTTP == (HTTP{}) {
				s.HTTP = nil
			}
		}
		// The entry point comes first.
		if k := slices.Index(services, entry); k > 0 {
			services = slices.Insert(slices.Delete(services, k, k+1), 0, entry)
		}
	}

	for _, k := range services {
		s.ServiceIDs = append(s.ServiceIDs, k.id())
	}
	if len(annOrder) > 0 {
		s.Annotations = make(map[string][]AnnotationEntry)
		for _, k := range annOrder {
			e := AnnotationEntry{ServiceIDs: serviceIDs(annSvcs[k])}
			switch k.kind {
			case 's':
				e.AnnotationValue.StringValue = ptr(k.s)
			case 'n':
				e.AnnotationValue.NumberValue = ptr(k.n)
			case 'b':
				e.AnnotationValue.BooleanValue = ptr(k.b)
			}
			s.Annotations[k.key] = append(s.Annotations[k.key], e)
		}
	}
	for _, u := range users {
		s.Users = append(s.Users, User{UserName: u, ServiceIDs: serviceIDs(userSvcs[u])})
	}
	for _, arn := range arns {
		s.ResourceARNs = append(s.ResourceARNs, ResourceARN{ARN: arn})
	}
	for _, id := range instances {
		s.InstanceIDs = append(s.InstanceIDs, InstanceID{ID: id})
	}
	for _, z := range zones {
		s.AvailabilityZones = append(s.AvailabilityZones, AvailabilityZone{Name: z})
	}
	return s
}

// root returns the trace's root segment: a segment document whose parent is
// not part of the trace, the earliest if there are several; nil when no
// segment arrived.
func (a *Assembly) root() *assembled {
	var best *assembled
	for _, i := range a.roots {
		d := &a.docs[i]
		if d.v == nil || d.sub {
			continue
		}
		if d.doc.ParentID != "" && a.ids[d.doc.ParentID] {
			continue
		}
		if best == nil || d.doc.StartTime < best.doc.StartTime {
			best = d
		}
	}
	return best
}

// segmentService is the service node of a segment document (xray.md §6.2).
func segmentService(v *fastjson.Value) serviceKey {
	return serviceKey{name: str(v, "name"), typ: str(v, "origin"), account: str(v, "aws", "account_id")}
}

// inferredService returns the node X-Ray infers for a subsegment that calls
// an AWS service or a remote system (xray.md §6.2). The caller checks that
// no segment of the trace names the subsegment as its parent.
func inferredService(v *fastjson.Value) (serviceKey, bool) {
	name := str(v, "name")
	account := str(v, "aws", "account_id")
	switch ns := str(v, "namespace"); {
	case ns == "aws":
		if t := str(v, "aws", "table_name"); t != "" {
			return serviceKey{name: t, typ: "AWS::DynamoDB::Table", account: account}, true
		}
		if q := str(v, "aws", "queue_url"); q != "" {
			return serviceKey{name: q[strings.LastIndexByte(q, '/')+1:], typ: "AWS::SQS::Queue", account: account}, true
		}
		if b := str(v, "aws", "bucket_name"); b != "" {
			return serviceKey{name: b, typ: "AWS::S3::Bucket", account: account}, true
		}
		if str(v, "aws", "operation") == "Invoke" {
			if fn := str(v, "aws", "function_name"); fn != "" {
				if i := strings.Index(fn, ":function:"); i >= 0 {
					fn = fn[i+len(":function:"):]
				}
				if i := strings.IndexByte(fn, ':'); i >= 0 { // qualifier
					fn = fn[:i]
				}
				return serviceKey{name: fn, typ: "AWS::Lambda", account: account}, true
			}
		}
		return serviceKey{name: name, typ: "AWS::" + name, account: account}, true
	case v.Exists("sql"):
		return serviceKey{name: name, typ: "Database::SQL", account: account}, true
	case ns == "remote":
		return serviceKey{name: name, typ: "remote", account: account}, true
	}
	return serviceKey{}, false
}

// flag returns the boolean member key when present, else fallback
// (explicit flags win over the HTTP status, xray.md §6.5).
func flag(v *fastjson.Value, key string, fallback bool) bool {
	f := v.Get(key)
	if f == nil {
		return fallback
	}
	return f.Type() == fastjson.TypeTrue
}

func throttled(v *fastjson.Value) bool {
	return flag(v, "throttle", v.GetInt("http", "response", "status") == 429)
}

func str(v *fastjson.Value, keys ...string) string {
	return string(v.GetStringBytes(keys...))
}

func serviceIDs(keys []serviceKey) []ServiceID {
	if len(keys) == 0 {
		return nil
	}
	out := make([]ServiceID, len(keys))
	for i, k := range keys {
		out[i] = k.id()
	}
	slices.SortFunc(out, func(x, y ServiceID) int {
		return cmp.Or(cmp.Compare(x.Name, y.Name), cmp.Compare(x.Type, y.Type), cmp.Compare(x.AccountID, y.AccountID))
	})
	return out
}

func ptr[T any](v T) *T { return &v }
