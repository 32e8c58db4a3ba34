package xrayemit

import "time"

// Subsegment names of the AWS::Lambda::Function segment.
const (
	SubInitialization = "Initialization"
	SubInvocation     = "Invocation"
	SubOverhead       = "Overhead"
)

// Service describes the AWS::Lambda segment: the time a request spends in
// the Lambda service, from receipt until the response leaves (for an Event
// invocation: from receipt until the last attempt ended).
type Service struct {
	TraceID, ID, ParentID string
	FunctionName          string
	FunctionARN           string // unqualified function ARN (resource_arn)
	RequestID             string
	Start, End            time.Time
	Status                int // HTTP status returned to the caller
	// Throttle marks a 429; Error a 4xx; Fault a 5xx.
	Throttle, Error, Fault bool
	// Attempts of an Event invocation, one subsegment each ("Attempt #n"),
	// preceded by "Dwell Time" (queue wait before the first attempt).
	Attempts []Span
	// Dwell is the queue wait of an Event invocation (zero for sync).
	DwellStart, DwellEnd time.Time
	DwellID              string // generated when empty
}

// Span is a timed subsegment with an id.
type Span struct {
	ID         string
	Start, End time.Time
	Status     int
	Error      bool
	Fault      bool
}

// NewServiceSegment builds the AWS::Lambda segment document.
func NewServiceSegment(s Service) *Document {
	d := &Document{
		Name:        s.FunctionName,
		ID:          s.ID,
		TraceID:     s.TraceID,
		ParentID:    s.ParentID,
		StartTime:   Time(s.Start),
		EndTime:     Time(s.End),
		Origin:      OriginLambda,
		ResourceARN: s.FunctionARN,
		Throttle:    s.Throttle,
		Error:       s.Error || s.Throttle,
		Fault:       s.Fault,
		AWS:         &AWS{RequestID: s.RequestID},
	}
	if s.Status != 0 {
		d.HTTP = &HTTP{Response: &HTTPResponse{Status: s.Status}}
	}
	if !s.DwellStart.IsZero() {
		d.Subsegments = append(d.Subsegments, &Document{
			Name: "Dwell Time", ID: orNewID(s.DwellID), StartTime: Time(s.DwellStart), EndTime: Time(s.DwellEnd),
		})
	}
	for i, a := range s.Attempts {
		sub := &Document{
			Name: "Attempt #" + itoa(i+1), ID: orNewID(a.ID), StartTime: Time(a.Start), EndTime: Time(a.End),
			Error: a.Error, Fault: a.Fault,
		}
		if a.Status != 0 {
			sub.HTTP = &HTTP{Response: &HTTPResponse{Status: a.Status}}
		}
		d.Subsegments = append(d.Subsegments, sub)
	}
	return d
}

// Function describes the AWS::Lambda::Function segment of one attempt.
type Function struct {
	TraceID, ID, ParentID string
	FunctionName          string
	FunctionARN           string // unqualified (resource_arn)
	QualifiedARN          string // ARN with the executed version (aws.function_arn)
	AccountID             string
	// InitStart/InitEnd bound the Initialization subsegment (cold starts only;
	// zero otherwise).
	InitStart, InitEnd time.Time
	// InvocationID is the Invocation subsegment id, the Parent handed to the
	// runtime, so in-function SDK subsegments nest under it.
	InvocationID string
	// InitID and OverheadID are generated when empty.
	InitID, OverheadID       string
	InvokeStart, ResponseEnd time.Time
	// End is when the runtime signalled it was ready for the next event
	// (end of Overhead); equal to ResponseEnd when the environment died.
	End time.Time
	// Error marks a function error, Fault a platform failure (timeout,
	// crash); Cause explains either.
	Error, Fault bool
	Cause        *Cause
}

// NewFunctionSegment builds the AWS::Lambda::Function segment document.
func NewFunctionSegment(f Function) *Document {
	start := f.InvokeStart
	if !f.InitStart.IsZero() {
		start = f.InitStart
	}
	end := f.End
	if end.Before(f.ResponseEnd) {
		end = f.ResponseEnd
	}
	fnAWS := &AWS{FunctionARN: f.QualifiedARN}
	d := &Document{
		Name:        f.FunctionName,
		ID:          f.ID,
		TraceID:     f.TraceID,
		ParentID:    f.ParentID,
		StartTime:   Time(start),
		EndTime:     Time(end),
		Origin:      OriginLambdaFunction,
		ResourceARN: f.FunctionARN,
		Error:       f.Error,
		Fault:       f.Fault,
		Cause:       f.Cause,
		AWS: &AWS{
			FunctionARN:   f.QualifiedARN,
			ResourceNames: []string{f.FunctionName},
			AccountID:     f.AccountID,
		},
	}
	if !f.InitStart.IsZero() {
		d.Subsegments = append(d.Subsegments, &Document{
			Name: SubInitialization, ID: orNewID(f.InitID), StartTime: Time(f.InitStart), EndTime: Time(f.InitEnd), AWS: fnAWS,
		})
	}
	if !f.InvokeStart.IsZero() {
		d.Subsegments = append(d.Subsegments, &Document{
			Name: SubInvocation, ID: f.InvocationID, StartTime: Time(f.InvokeStart), EndTime: Time(f.ResponseEnd),
			AWS: fnAWS, Error: f.Error, Fault: f.Fault,
		})
		if f.End.After(f.ResponseEnd) {
			d.Subsegments = append(d.Subsegments, &Document{
				Name: SubOverhead, ID: orNewID(f.OverheadID), StartTime: Time(f.ResponseEnd), EndTime: Time(f.End), AWS: fnAWS,
			})
		}
	}
	return d
}

func itoa(i int) string {
	return string(appendUint(nil, uint64(i)))
}

func orNewID(id string) string {
	if id == "" {
		return NewID()
	}
	return id
}
