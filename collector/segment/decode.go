package segment

import (
	"bytes"
	"errors"
	"math"
	"strconv"
	"strings"
	"unsafe"
)

// Decoder turns segment documents into Documents. It is a hand-written
// strict JSON scanner that knows the X-Ray schema: it walks the members it
// needs, validates everything else without building a tree, and takes
// unescaped strings as substrings of one copy of the body.
//
// A Decoder is not safe for concurrent use; keep one per goroutine and reuse
// it (it keeps scratch buffers between calls).
type Decoder struct {
	lim  Limits
	sc   scanner
	maxT float64 // latest acceptable time (Now + MaxFutureSkew), epoch seconds

	// Per-document scratch, reused between documents.
	spans    []Span
	ext      []spanExt
	annStrK  []string
	annStrV  []string
	annNumK  []string
	annNumV  []float64
	annBoolK []string
	annBoolV []bool
	nAnn     int
	kind     Kind
	reason   string // first validation failure of the current document
	msg      string
}

// spanExt is scratch data kept beside each span while a document is parsed.
type spanExt struct {
	parent                     int32 // index of the enclosing span, -1 for the document
	strLo, strHi, numLo, numHi int32 // annotation ranges in the Decoder's scratch
	boolLo, boolHi             int32
}

// NewDecoder returns a Decoder enforcing l (zero fields take their defaults).
func NewDecoder(l Limits) *Decoder {
	return &Decoder{lim: l.withDefaults()}
}

// Limits returns the limits the Decoder enforces, defaults filled in.
func (d *Decoder) Limits() Limits { return d.lim }

// Decode appends the documents of body (one object, or a JSON array of
// subsegment objects) to dst.
//
// Appended Documents never alias body: Raw and the decoded strings share one
// copy of it, so the caller may reuse body's buffer (and must not modify a
// Document's Raw). Invalid array elements are skipped and
// reported in the returned error (a *DecodeError, or errors.Join of several);
// valid ones are still appended. A body that is not JSON appends nothing.
// Every error matches errors.Is(err, ErrMalformed).
//
// Decode reuses the Spans arrays of Documents in dst's spare capacity
// (dst[len(dst):cap(dst)]): pass a truncated slice only when the Documents
// it held are no longer used.
func (d *Decoder) Decode(body []byte, receivedNanos int64, dst []Document) ([]Document, error) {
	if len(body) > d.lim.MaxDocumentBytes {
		e := newError(ReasonTooLarge, "document is "+strconv.Itoa(len(body))+" bytes, the limit is "+strconv.Itoa(d.lim.MaxDocumentBytes))
		e.ID, e.TraceID = guessIDs(string(body[:min(len(body), 4096)]))
		return dst, e
	}
	d.maxT = float64(d.lim.Now().Add(d.lim.MaxFutureSkew).UnixNano()) / 1e9
	// One copy of the body backs both Raw and every unescaped string of the
	// decoded Documents (Raw is documented as read-only).
	raw := bytes.Clone(body)
	src := unsafe.String(unsafe.SliceData(raw), len(raw))
	d.sc.s, d.sc.i = src, 0
	sc := &d.sc
	defer func() { sc.s = "" }() // do not keep the body alive
	sc.ws()
	if sc.i >= len(src) {
		return dst, newError(ReasonNotJSON, "empty document")
	}
	switch src[sc.i] {
	case '{':
		start := sc.i
		if err := d.document(); err != nil {
			return dst, notJSON(err, src)
		}
		end := sc.i
		sc.ws()
		if sc.i < len(src) {
			return dst, notJSON(sc.errorf("data after the document"), src)
		}
		if d.reason != "" {
			return dst, d.failure(0)
		}
		return d.emit(dst, raw[start:end:end], receivedNanos), nil
	case '[':
		return d.decodeArray(raw, receivedNanos, dst)
	}
	if _, err := sc.skip(); err != nil {
		return dst, notJSON(err)
	}
	sc.ws()
	if sc.i < len(src) {
		return dst, notJSON(sc.errorf("data after the document"))
	}
	return dst, newError(ReasonNotObject, "document is not a JSON object or array")
}

// decodeArray decodes an array body; raw is the copy the scanner reads.
func (d *Decoder) decodeArray(raw []byte, receivedNanos int64, dst []Document) ([]Document, error) {
	sc := &d.sc
	base := len(dst)
	var errs []error
	if sc.open(']') {
		sc.ws()
		if sc.i < len(sc.s) {
			return dst, notJSON(sc.errorf("data after the document"))
		}
		return dst, newError(ReasonEmptyBody, "empty array")
	}
	for idx := 0; ; idx++ {
		sc.ws()
		start := sc.i
		if sc.peek() == '{' {
			if err := d.document(); err != nil {
				return dst[:base], notJSON(err, sc.s)
			}
			if d.reason != "" {
				errs = append(errs, d.failure(idx))
			} else {
				dst = d.emit(dst, raw[start:sc.i:sc.i], receivedNanos)
			}
		} else {
			if _, err := sc.skip(); err != nil {
				return dst[:base], notJSON(err)
			}
			e := newError(ReasonNotObject, "array element is not an object")
			e.Index = idx
			errs = append(errs, e)
		}
		closed, err := sc.next(']')
		if err != nil {
			return dst[:base], notJSON(err)
		}
		if closed {
			break
		}
	}
	sc.ws()
	if sc.i < len(sc.s) {
		return dst[:base], notJSON(sc.errorf("data after the document"))
	}
	switch len(errs) {
	case 0:
		return dst, nil
	case 1:
		return dst, errs[0]
	}
	return dst, errors.Join(errs...)
}

func notJSON(err error, src ...string) *DecodeError {
	e := newError(ReasonNotJSON, err.Error())
	if len(src) > 0 {
		e.ID, e.TraceID = guessIDs(src[0])
	}
	return e
}

// guessIDs finds the first "id" and "trace_id" string members of a document
// that could not be decoded, as the X-Ray daemon does for its log, so that a
// rejection can still name the document. The values are clipped copies.
func guessIDs(s string) (id, traceID string) {
	return strings.Clone(memberValue(s, `"id"`)), strings.Clone(memberValue(s, `"trace_id"`))
}

// memberValue returns the string value after the first occurrence of key
// followed by a colon, or "".
func memberValue(s, key string) string {
	for {
		i := strings.Index(s, key)
		if i < 0 {
			return ""
		}
		s = s[i+len(key):]
		sc := scanner{s: s}
		sc.ws()
		if sc.peek() != ':' {
			continue
		}
		sc.i++
		sc.ws()
		if sc.peek() != '"' {
			continue
		}
		start := sc.i + 1
		end := start
		for end < len(s) && end-start < 64 && s[end] != '"' && s[end] >= 0x20 && s[end] != '\\' {
			end++
		}
		return s[start:end]
	}
}

// fail records the first validation failure of the current document.
func (d *Decoder) fail(reason, msg string) {
	if d.reason == "" {
		d.reason, d.msg = reason, msg
	}
}

// failure builds the *DecodeError for the current document.
func (d *Decoder) failure(index int) *DecodeError {
	e := newError(d.reason, d.msg)
	e.Index = index
	if len(d.spans) > 0 {
		// Copies, so that a kept error does not pin the body.
		e.ID = strings.Clone(clip(d.spans[0].ID))
		e.TraceID = strings.Clone(clip(d.spans[0].TraceID))
	}
	return e
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// document parses the object at the scanner into the scratch spans. A
// non-nil error means the input is not JSON; validation failures are
// recorded in d.reason.
func (d *Decoder) document() error {
	d.spans = d.spans[:0]
	d.ext = d.ext[:0]
	d.annStrK, d.annStrV = d.annStrK[:0], d.annStrV[:0]
	d.annNumK, d.annNumV = d.annNumK[:0], d.annNumV[:0]
	d.annBoolK, d.annBoolV = d.annBoolK[:0], d.annBoolV[:0]
	d.nAnn = 0
	d.kind = KindSegment
	d.reason, d.msg = "", ""

	d.addSpan(-1)
	if err := d.span(0, 0, 1); err != nil {
		return err
	}
	root := &d.spans[0]
	if root.TraceID == "" {
		d.fail(ReasonInvalidTraceID, "missing trace_id")
	}
	if d.kind == KindSubsegment && root.ParentID == "" {
		d.fail(ReasonMissingID, "independent subsegment without parent_id")
	}
	service := ""
	if d.kind == KindSegment {
		service = root.Name
		root.IsSegment = true
	}
	root.Service = service
	root.SegmentID = root.ID
	for i := 1; i < len(d.spans); i++ {
		sp := &d.spans[i]
		sp.TraceID = root.TraceID
		sp.SegmentID = root.ID
		sp.ParentID = d.spans[d.ext[i].parent].ID
		sp.Service = service
		sp.Origin = root.Origin
	}
	return nil
}

// emit appends the scratch document to dst.
func (d *Decoder) emit(dst []Document, raw []byte, receivedNanos int64) []Document {
	var doc *Document
	if n := len(dst); n < cap(dst) {
		dst = dst[:n+1]
		doc = &dst[n]
	} else {
		dst = append(dst, Document{})
		doc = &dst[n]
	}
	n := len(d.spans)
	spans := doc.Spans[:0]
	if cap(spans) >= n {
		spans = spans[:n]
	} else {
		spans = make([]Span, n)
	}
	copy(spans, d.spans)

	if nS, nN, nB := len(d.annStrK), len(d.annNumK), len(d.annBoolK); nS+nN+nB > 0 {
		strs := make([]string, 2*nS+nN+nB)
		sk := strs[:nS:nS]
		sv := strs[nS : 2*nS : 2*nS]
		nk := strs[2*nS : 2*nS+nN : 2*nS+nN]
		bk := strs[2*nS+nN:]
		copy(sk, d.annStrK)
		copy(sv, d.annStrV)
		copy(nk, d.annNumK)
		copy(bk, d.annBoolK)
		var nv []float64
		if nN > 0 {
			nv = make([]float64, nN)
			copy(nv, d.annNumV)
		}
		var bv []bool
		if nB > 0 {
			bv = make([]bool, nB)
			copy(bv, d.annBoolV)
		}
		for i := range spans {
			e := &d.ext[i]
			sp := &spans[i]
			if e.strHi > e.strLo {
				sp.AnnStrKeys = sk[e.strLo:e.strHi:e.strHi]
				sp.AnnStrValues = sv[e.strLo:e.strHi:e.strHi]
			}
			if e.numHi > e.numLo {
				sp.AnnNumKeys = nk[e.numLo:e.numHi:e.numHi]
				sp.AnnNumValues = nv[e.numLo:e.numHi:e.numHi]
			}
			if e.boolHi > e.boolLo {
				sp.AnnBoolKeys = bk[e.boolLo:e.boolHi:e.boolHi]
				sp.AnnBoolValues = bv[e.boolLo:e.boolHi:e.boolHi]
			}
		}
	}

	root := &spans[0]
	*doc = Document{
		TraceID:       root.TraceID,
		ID:            root.ID,
		ParentID:      root.ParentID,
		Kind:          d.kind,
		Name:          root.Name,
		StartTime:     root.StartTime,
		EndTime:       root.EndTime,
		InProgress:    root.InProgress,
		ReceivedNanos: receivedNanos,
		Raw:           raw,
		Spans:         spans,
	}
	return dst
}

func (d *Decoder) addSpan(parent int) int {
	n := len(d.spans)
	if n < cap(d.spans) {
		d.spans = d.spans[:n+1]
		d.spans[n] = Span{}
	} else {
		d.spans = append(d.spans, Span{})
	}
	d.ext = append(d.ext, spanExt{parent: int32(parent)})
	return n
}

// Presence flags of a span's required members.
const (
	hasID = 1 << iota
	hasName
	hasStart
	hasEnd
)

// span parses the object at the scanner (at '{') into d.spans[idx]. level is
// the subsegment nesting (0 for the document), depth the JSON nesting of the
// object (1 for the document).
func (d *Decoder) span(idx, level, depth int) error {
	sc := &d.sc
	if depth > d.lim.MaxDepth {
		d.fail(ReasonTooDeep, "nesting deeper than "+strconv.Itoa(d.lim.MaxDepth))
		_, err := sc.skip()
		return err
	}
	var has uint8
	if !sc.open('}') {
		for {
			k, err := sc.key()
			if err != nil {
				return err
			}
			switch k {
			case "id":
				v, ok, err := d.strVal(ReasonInvalidID, "id", depth)
				if err != nil {
					return err
				}
				if ok {
					has |= hasID
					id, valid := normID(v)
					d.spans[idx].ID = id
					if !valid {
						d.fail(ReasonInvalidID, "id "+strconv.Quote(clip(v))+" is not 16 hex digits")
					}
				}
			case "trace_id":
				v, ok, err := d.strVal(ReasonInvalidTraceID, "trace_id", depth)
				if err != nil {
					return err
				}
				if ok {
					if idx > 0 && v != "" && v == d.spans[0].TraceID {
						break // the usual repeat of the document's (already valid) trace id
					}
					id, valid := normTraceID(v)
					d.spans[idx].TraceID = id
					if !valid {
						d.fail(ReasonInvalidTraceID, "trace_id "+strconv.Quote(clip(v))+" is not 1-<8 hex>-<24 hex>")
					}
				}
			case "parent_id":
				v, ok, err := d.strVal(ReasonInvalidID, "parent_id", depth)
				if err != nil {
					return err
				}
				if ok {
					if idx > 0 && v != "" && v == d.spans[0].ID {
						break // embedded subsegments name the already validated segment
					}
					id, valid := normID(v)
					d.spans[idx].ParentID = id
					if !valid {
						d.fail(ReasonInvalidID, "parent_id "+strconv.Quote(clip(v))+" is not 16 hex digits")
					}
				}
			case "name":
				v, ok, err := d.strVal(ReasonInvalidName, "name", depth)
				if err != nil {
					return err
				}
				if ok {
					has |= hasName
					d.spans[idx].Name = v
					if ok, why := validName(v, d.lim.MaxNameLength, d.lim.StrictNames); !ok {
						d.fail(ReasonInvalidName, "name "+strconv.Quote(clip(v))+": "+why)
					}
				}
			case "type":
				v, ok, err := d.strVal(ReasonInvalidType, "type", depth)
				if err != nil {
					return err
				}
				if ok && level == 0 {
					switch v {
					case "subsegment":
						d.kind = KindSubsegment
					case "segment", "":
					default:
						d.fail(ReasonInvalidType, "type "+strconv.Quote(clip(v))+" is not \"subsegment\"")
					}
				}
			case "start_time":
				v, ok, err := d.numVal(ReasonInvalidTime, "start_time", depth)
				if err != nil {
					return err
				}
				if ok {
					has |= hasStart
					d.spans[idx].StartTime = v
				}
			case "end_time":
				v, ok, err := d.numVal(ReasonInvalidTime, "end_time", depth)
				if err != nil {
					return err
				}
				if ok {
					has |= hasEnd
					d.spans[idx].EndTime = v
				}
			case "in_progress":
				v, _, err := d.boolVal("in_progress", depth)
				if err != nil {
					return err
				}
				d.spans[idx].InProgress = v
			case "error":
				v, _, err := d.boolVal("error", depth)
				if err != nil {
					return err
				}
				d.spans[idx].Error = v
			case "fault":
				v, _, err := d.boolVal("fault", depth)
				if err != nil {
					return err
				}
				d.spans[idx].Fault = v
			case "throttle":
				v, _, err := d.boolVal("throttle", depth)
				if err != nil {
					return err
				}
				d.spans[idx].Throttle = v
			case "traced":
				v, _, err := d.boolVal("traced", depth)
				if err != nil {
					return err
				}
				if v {
					d.spans[idx].HTTPTraced = true
				}
			case "origin":
				v, _, err := d.strVal(ReasonInvalidField, "origin", depth)
				if err != nil {
					return err
				}
				d.spans[idx].Origin = v
			case "resource_arn":
				v, _, err := d.strVal(ReasonInvalidField, "resource_arn", depth)
				if err != nil {
					return err
				}
				d.spans[idx].ResourceARN = v
			case "user":
				v, _, err := d.strVal(ReasonInvalidField, "user", depth)
				if err != nil {
					return err
				}
				d.spans[idx].User = v
			case "namespace":
				v, _, err := d.strVal(ReasonInvalidNamespace, "namespace", depth)
				if err != nil {
					return err
				}
				switch v {
				case "", "aws", "remote", "local":
					d.spans[idx].Namespace = v
				default:
					d.fail(ReasonInvalidNamespace, "namespace "+strconv.Quote(clip(v))+" is not aws, remote or local")
				}
			case "http":
				if err := d.http(idx, depth+1); err != nil {
					return err
				}
			case "aws":
				if err := d.aws(idx, depth+1); err != nil {
					return err
				}
			case "sql":
				if err := d.sql(idx, depth+1); err != nil {
					return err
				}
			case "cause":
				if err := d.cause(idx, depth+1); err != nil {
					return err
				}
			case "annotations":
				if err := d.annotations(idx, depth+1); err != nil {
					return err
				}
			case "subsegments":
				if err := d.subsegments(idx, level, depth+1); err != nil {
					return err
				}
			default:
				if err := d.skipValue(depth + 1); err != nil {
					return err
				}
			}
			closed, err := sc.next('}')
			if err != nil {
				return err
			}
			if closed {
				break
			}
		}
	}

	sp := &d.spans[idx]
	sp.Depth = uint16(min(level, math.MaxUint16))
	if d.reason != "" {
		return nil
	}
	if has&hasID == 0 {
		d.fail(ReasonMissingID, "missing id")
	}
	if has&hasName == 0 {
		d.fail(ReasonInvalidName, "missing name")
	}
	if has&hasStart == 0 {
		d.fail(ReasonInvalidTime, "missing start_time")
	} else {
		d.checkTime("start_time", sp.StartTime)
	}
	switch {
	case sp.InProgress && has&hasEnd != 0:
		d.fail(ReasonInvalidTime, "both end_time and in_progress")
	case sp.InProgress:
	case has&hasEnd == 0:
		d.fail(ReasonInvalidTime, "missing end_time (and in_progress is not true)")
	default:
		d.checkTime("end_time", sp.EndTime)
		if sp.EndTime < sp.StartTime {
			d.fail(ReasonInvalidTime, "end_time before start_time")
		}
	}
	return nil
}

func (d *Decoder) checkTime(field string, t float64) {
	switch {
	case math.IsNaN(t) || math.IsInf(t, 0):
		d.fail(ReasonInvalidTime, field+" is not finite")
	case t <= 0:
		d.fail(ReasonInvalidTime, field+" is not positive")
	case t < minTime:
		d.fail(ReasonInvalidTime, field+" "+strconv.FormatFloat(t, 'f', -1, 64)+" is before 2010")
	case t > d.maxT:
		d.fail(ReasonInvalidTime, field+" "+strconv.FormatFloat(t, 'f', -1, 64)+" is more than "+d.lim.MaxFutureSkew.String()+" in the future")
	}
}

// skipValue skips the value at the scanner; depth is the JSON nesting a
// container value there has.
func (d *Decoder) skipValue(depth int) error {
	n, err := d.sc.skip()
	if err != nil {
		return err
	}
	if n > 0 && depth-1+n > d.lim.MaxDepth {
		d.fail(ReasonTooDeep, "nesting deeper than "+strconv.Itoa(d.lim.MaxDepth))
	}
	return nil
}

// strVal reads a string value. null gives ok=false; another type records
// reason and skips the value.
func (d *Decoder) strVal(reason, field string, depth int) (string, bool, error) {
	sc := &d.sc
	switch sc.peek() {
	case '"':
		v, err := sc.str()
		return v, err == nil, err
	case 'n':
		_, err := sc.lit()
		return "", false, err
	}
	d.fail(reason, field+" is not a string")
	return "", false, d.skipValue(depth)
}

// optStr reads a string value and silently skips any other type (for the
// free-form aws object).
func (d *Decoder) optStr(depth int) (string, bool, error) {
	if d.sc.peek() == '"' {
		v, err := d.sc.str()
		return v, err == nil, err
	}
	return "", false, d.skipValue(depth)
}

// numVal reads a finite number. null gives ok=false; another type or an
// out-of-range number records reason.
func (d *Decoder) numVal(reason, field string, depth int) (float64, bool, error) {
	sc := &d.sc
	switch c := sc.peek(); {
	case c == '-' || c >= '0' && c <= '9':
		s, err := sc.num()
		if err != nil {
			return 0, false, err
		}
		f, err := parseNumber(s)
		if err != nil {
			d.fail(reason, field+" "+clip(s)+" is out of range")
			return 0, false, nil
		}
		return f, true, nil
	case c == 'n':
		_, err := sc.lit()
		return 0, false, err
	}
	d.fail(reason, field+" is not a number")
	return 0, false, d.skipValue(depth)
}

// intVal reads an integer given as a number or a numeric string (some
// producers quote content_length). Anything else records invalid_field;
// fractional or huge values give ok=false.
func (d *Decoder) intVal(field string, depth int) (int64, bool, error) {
	sc := &d.sc
	var s string
	switch c := sc.peek(); {
	case c == '-' || c >= '0' && c <= '9':
		v, err := sc.num()
		if err != nil {
			return 0, false, err
		}
		s = v
	case c == '"':
		v, err := sc.str()
		if err != nil {
			return 0, false, err
		}
		s = v
	case c == 'n':
		_, err := sc.lit()
		return 0, false, err
	default:
		d.fail(ReasonInvalidField, field+" is not a number")
		return 0, false, d.skipValue(depth)
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, true, nil
	}
	if f, err := parseNumber(s); err == nil && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return int64(f), true, nil
	}
	return 0, false, nil
}

// boolVal reads true or false. null gives ok=false; another type records
// invalid_field.
func (d *Decoder) boolVal(field string, depth int) (bool, bool, error) {
	sc := &d.sc
	switch sc.peek() {
	case 't', 'f', 'n':
		c, err := sc.lit()
		return c == 't', c != 'n', err
	}
	d.fail(ReasonInvalidField, field+" is not a boolean")
	return false, false, d.skipValue(depth)
}

// object starts reading an object member value at depth. It returns true
// when there are members to read (the scanner is at the first member name);
// null, {} or a value of another type (recorded with reason) return false
// with the value consumed.
func (d *Decoder) object(reason, field string, depth int) (bool, error) {
	sc := &d.sc
	switch sc.peek() {
	case '{':
		if depth > d.lim.MaxDepth {
			return false, d.skipValue(depth)
		}
		return !sc.open('}'), nil
	case 'n':
		_, err := sc.lit()
		return false, err
	}
	d.fail(reason, field+" is not an object")
	return false, d.skipValue(depth)
}

// members calls f for each member of the object whose first member name
// the scanner is at, then consumes the closing brace.
func (d *Decoder) members(f func(key string) error) error {
	sc := &d.sc
	for {
		k, err := sc.key()
		if err != nil {
			return err
		}
		if err := f(k); err != nil {
			return err
		}
		closed, err := sc.next('}')
		if err != nil {
			return err
		}
		if closed {
			return nil
		}
	}
}

func (d *Decoder) http(idx, depth int) error {
	ok, err := d.object(ReasonInvalidField, "http", depth)
	if !ok || err != nil {
		return err
	}
	return d.members(func(k string) error {
		switch k {
		case "request":
			return d.httpRequest(idx, depth+1)
		case "response":
			return d.httpResponse(idx, depth+1)
		}
		return d.skipValue(depth + 1)
	})
}

func (d *Decoder) httpRequest(idx, depth int) error {
	ok, err := d.object(ReasonInvalidField, "http.request", depth)
	if !ok || err != nil {
		return err
	}
	return d.members(func(k string) error {
		var p *string
		switch k {
		case "method":
			p = &d.spans[idx].HTTPMethod
		case "url":
			p = &d.spans[idx].HTTPURL
		case "user_agent":
			p = &d.spans[idx].HTTPUserAgent
		case "client_ip":
			p = &d.spans[idx].HTTPClientIP
		case "traced":
			v, _, err := d.boolVal("http.request.traced", depth+1)
			if v {
				d.spans[idx].HTTPTraced = true
			}
			return err
		default:
			return d.skipValue(depth + 1)
		}
		if c := d.sc.peek(); c != '"' && c != 'n' {
			d.fail(ReasonInvalidField, "http.request."+k+" is not a string")
			return d.skipValue(depth + 1)
		}
		v, _, err := d.strVal(ReasonInvalidField, k, depth+1)
		*p = v
		return err
	})
}

func (d *Decoder) httpResponse(idx, depth int) error {
	ok, err := d.object(ReasonInvalidField, "http.response", depth)
	if !ok || err != nil {
		return err
	}
	return d.members(func(k string) error {
		switch k {
		case "status":
			v, ok, err := d.intVal("http.response.status", depth+1)
			if ok && v >= 0 && v <= math.MaxUint16 {
				d.spans[idx].HTTPStatus = uint16(v)
			}
			return err
		case "content_length":
			v, ok, err := d.intVal("http.response.content_length", depth+1)
			if ok {
				d.spans[idx].HTTPContentLength = v
			}
			return err
		}
		return d.skipValue(depth + 1)
	})
}

// AWS resource sources, most specific first.
const (
	resNone = iota
	resNames
	resList
	resNamed
)

func (d *Decoder) aws(idx, depth int) error {
	ok, err := d.object(ReasonInvalidField, "aws", depth)
	if !ok || err != nil {
		return err
	}
	prio := resNone
	return d.members(func(k string) error {
		switch k {
		case "operation", "region", "account_id":
			v, ok, err := d.optStr(depth + 1)
			if ok {
				sp := &d.spans[idx]
				switch k {
				case "operation":
					sp.AWSOperation = v
				case "region":
					sp.AWSRegion = v
				default:
					sp.AWSAccountID = v
				}
			}
			return err
		case "table_name", "queue_url", "bucket_name", "function_name", "topic_arn":
			v, ok, err := d.optStr(depth + 1)
			if ok && v != "" {
				d.spans[idx].AWSResource = v
				prio = resNamed
			}
			return err
		case "table_names", "resource_names":
			p := resNames
			if k == "table_names" {
				p = resList
			}
			v, ok, err := d.firstStr(depth + 1)
			if ok && v != "" && p > prio {
				d.spans[idx].AWSResource = v
				prio = p
			}
			return err
		}
		return d.skipValue(depth + 1)
	})
}

// firstStr returns the first element of an array value when it is a string;
// any other value is skipped.
func (d *Decoder) firstStr(depth int) (string, bool, error) {
	sc := &d.sc
	if sc.peek() != '[' || depth > d.lim.MaxDepth {
		return "", false, d.skipValue(depth)
	}
	if sc.open(']') {
		return "", false, nil
	}
	var first string
	found := false
	for i := 0; ; i++ {
		sc.ws()
		if i == 0 && sc.peek() == '"' {
			v, err := sc.str()
			if err != nil {
				return "", false, err
			}
			first, found = v, true
		} else if err := d.skipValue(depth + 1); err != nil {
			return "", false, err
		}
		closed, err := sc.next(']')
		if err != nil {
			return "", false, err
		}
		if closed {
			return first, found, nil
		}
	}
}

func (d *Decoder) sql(idx, depth int) error {
	ok, err := d.object(ReasonInvalidField, "sql", depth)
	if !ok || err != nil {
		return err
	}
	return d.members(func(k string) error {
		switch k {
		case "url":
			v, ok, err := d.optStr(depth + 1)
			if ok {
				d.spans[idx].SQLURL = v
			}
			return err
		case "database_type":
			v, ok, err := d.optStr(depth + 1)
			if ok {
				d.spans[idx].SQLDatabaseType = v
			}
			return err
		}
		return d.skipValue(depth + 1)
	})
}

func (d *Decoder) cause(idx, depth int) error {
	sc := &d.sc
	switch sc.peek() {
	case '"':
		v, err := sc.str()
		if err != nil {
			return err
		}
		if !validCauseID(v) {
			d.fail(ReasonInvalidCause, "cause "+strconv.Quote(clip(v))+" is not a 16-character exception id")
			return nil
		}
		if id, ok := normID(v); ok {
			v = id
		}
		d.spans[idx].CauseID = v
		return nil
	case '{', 'n':
	default:
		d.fail(ReasonInvalidCause, "cause is neither an object nor an exception id")
		return d.skipValue(depth)
	}
	ok, err := d.object(ReasonInvalidCause, "cause", depth)
	if !ok || err != nil {
		return err
	}
	return d.members(func(k string) error {
		if k != "exceptions" {
			return d.skipValue(depth + 1)
		}
		switch sc.peek() {
		case '[':
		case 'n':
			_, err := sc.lit()
			return err
		default:
			d.fail(ReasonInvalidCause, "cause.exceptions is not an array")
			return d.skipValue(depth + 1)
		}
		if depth+1 > d.lim.MaxDepth {
			return d.skipValue(depth + 1)
		}
		if sc.open(']') {
			return nil
		}
		for i := 0; ; i++ {
			sc.ws()
			if err := d.exception(idx, i == 0, depth+2); err != nil {
				return err
			}
			closed, err := sc.next(']')
			if err != nil {
				return err
			}
			if closed {
				return nil
			}
		}
	})
}

func (d *Decoder) exception(idx int, first bool, depth int) error {
	if d.sc.peek() != '{' {
		d.fail(ReasonInvalidCause, "cause.exceptions element is not an object")
		return d.skipValue(depth)
	}
	ok, err := d.object(ReasonInvalidCause, "exception", depth)
	if !ok || err != nil {
		return err
	}
	return d.members(func(k string) error {
		switch k {
		case "type", "message":
			v, ok, err := d.optStr(depth + 1)
			if ok && first {
				if k == "type" {
					d.spans[idx].CauseType = v
				} else {
					d.spans[idx].CauseMessage = v
				}
			}
			return err
		case "remote":
			if c := d.sc.peek(); c == 't' || c == 'f' {
				v, err := d.sc.lit()
				if v == 't' {
					d.spans[idx].Remote = true
				}
				return err
			}
		}
		return d.skipValue(depth + 1)
	})
}

func (d *Decoder) annotations(idx, depth int) error {
	sc := &d.sc
	e := &d.ext[idx]
	e.strLo, e.numLo, e.boolLo = int32(len(d.annStrK)), int32(len(d.annNumK)), int32(len(d.annBoolK))
	e.strHi, e.numHi, e.boolHi = e.strLo, e.numLo, e.boolLo
	ok, err := d.object(ReasonInvalidAnnotation, "annotations", depth)
	if !ok || err != nil {
		return err
	}
	err = d.members(func(k string) error {
		d.nAnn++
		store := d.nAnn <= d.lim.MaxAnnotations
		if !store {
			d.fail(ReasonTooManyAnnotations, "more than "+strconv.Itoa(d.lim.MaxAnnotations)+" annotations")
		}
		switch c := sc.peek(); {
		case c == '"':
			v, err := sc.str()
			if store {
				d.annStrK = append(d.annStrK, k)
				d.annStrV = append(d.annStrV, v)
			}
			return err
		case c == '-' || c >= '0' && c <= '9':
			s, err := sc.num()
			if err != nil {
				return err
			}
			f, err := parseNumber(s)
			if err != nil {
				d.fail(ReasonInvalidAnnotation, "annotation "+strconv.Quote(clip(k))+" is out of range")
				return nil
			}
			if store {
				d.annNumK = append(d.annNumK, k)
				d.annNumV = append(d.annNumV, f)
			}
			return nil
		case c == 't' || c == 'f':
			v, err := sc.lit()
			if store {
				d.annBoolK = append(d.annBoolK, k)
				d.annBoolV = append(d.annBoolV, v == 't')
			}
			return err
		}
		d.fail(ReasonInvalidAnnotation, "annotation "+strconv.Quote(clip(k))+" is not a string, number or boolean")
		return d.skipValue(depth + 1)
	})
	e = &d.ext[idx]
	e.strHi, e.numHi, e.boolHi = int32(len(d.annStrK)), int32(len(d.annNumK)), int32(len(d.annBoolK))
	return err
}

func (d *Decoder) subsegments(parent, level, depth int) error {
	sc := &d.sc
	switch sc.peek() {
	case '[':
	case 'n':
		_, err := sc.lit()
		return err
	default:
		d.fail(ReasonInvalidField, "subsegments is not an array")
		return d.skipValue(depth)
	}
	if depth > d.lim.MaxDepth {
		return d.skipValue(depth)
	}
	if sc.open(']') {
		return nil
	}
	for {
		sc.ws()
		switch {
		case sc.peek() != '{':
			d.fail(ReasonInvalidField, "subsegments element is not an object")
			if err := d.skipValue(depth + 1); err != nil {
				return err
			}
		case len(d.spans) > d.lim.MaxSubsegments:
			d.fail(ReasonTooManySubsegments, "more than "+strconv.Itoa(d.lim.MaxSubsegments)+" subsegments")
			if err := d.skipValue(depth + 1); err != nil {
				return err
			}
		default:
			child := d.addSpan(parent)
			if err := d.span(child, level+1, depth+1); err != nil {
				return err
			}
		}
		closed, err := sc.next(']')
		if err != nil {
			return err
		}
		if closed {
			return nil
		}
	}
}
