package filter

import (
	"strconv"
	"strings"
)

// keyword identifies a simple (boolean, number or string) keyword of xray.md §5.2.
type keyword uint8

const (
	kwNone keyword = iota
	// boolean keywords
	kwOK
	kwError
	kwThrottle
	kwFault
	kwPartial
	kwInferred
	kwFirst
	kwLast
	kwRemote
	kwRoot
	// number keywords
	kwResponseTime
	kwDuration
	kwHTTPStatus
	kwIndex
	kwCoverage
	// string keywords
	kwHTTPURL
	kwHTTPMethod
	kwHTTPUserAgent
	kwHTTPClientIP
	kwUser
	kwName
	kwType
	kwMessage
	kwAvailabilityZone
	kwInstanceID
	kwResourceARN
	kwCount // sentinel
)

var keywordNames = [kwCount]string{
	kwOK: "ok", kwError: "error", kwThrottle: "throttle", kwFault: "fault", kwPartial: "partial",
	kwInferred: "inferred", kwFirst: "first", kwLast: "last", kwRemote: "remote", kwRoot: "root",
	kwResponseTime: "responsetime", kwDuration: "duration", kwHTTPStatus: "http.status",
	kwIndex: "index", kwCoverage: "coverage",
	kwHTTPURL: "http.url", kwHTTPMethod: "http.method", kwHTTPUserAgent: "http.useragent",
	kwHTTPClientIP: "http.clientip", kwUser: "user", kwName: "name", kwType: "type",
	kwMessage: "message", kwAvailabilityZone: "availabilityzone", kwInstanceID: "instance.id",
	kwResourceARN: "resource.arn",
}

func (k keyword) String() string { return keywordNames[k] }

func (k keyword) isBool() bool { return k >= kwOK && k <= kwRoot }
func (k keyword) isNum() bool  { return k >= kwResponseTime && k <= kwCoverage }
func (k keyword) isStr() bool  { return k >= kwHTTPURL && k <= kwResourceARN }

// lookupKeyword maps a lower-cased identifier to its keyword.
func lookupKeyword(lower string) keyword {
	for k := kwOK; k < kwCount; k++ {
		if keywordNames[k] == lower {
			return k
		}
	}
	return kwNone
}

// cmpOp is a comparison operator; opNone marks a bare keyword.
type cmpOp uint8

const (
	opNone cmpOp = iota
	opEq
	opNe
	opLt
	opLe
	opGt
	opGe
	opContains
	opBeginsWith
	opEndsWith
)

var opNames = [...]string{opNone: "", opEq: "=", opNe: "!=", opLt: "<", opLe: "<=", opGt: ">", opGe: ">=",
	opContains: "CONTAINS", opBeginsWith: "BEGINSWITH", opEndsWith: "ENDSWITH"}

func (o cmpOp) String() string { return opNames[o] }

func (o cmpOp) isNumOp() bool { return o >= opEq && o <= opGe }
func (o cmpOp) isStrOp() bool { return o == opEq || o == opNe || o >= opContains }

// node is one element of the syntax tree. Nodes carry no positions, so that
// two parses of equivalent text compare equal with reflect.DeepEqual.
type node interface {
	write(b *strings.Builder)
}

type andNode struct{ l, r node }
type orNode struct{ l, r node }
type notNode struct{ x node }

// boolPred is `kw`, `kw = true|false` or `kw != true|false`.
type boolPred struct {
	kw  keyword
	op  cmpOp // opNone, opEq or opNe
	val bool
}

// numPred is `kw op number`.
type numPred struct {
	kw  keyword
	op  cmpOp
	val float64
}

// strPred is `kw` (field is set) or `kw op "string"`.
type strPred struct {
	kw  keyword
	op  cmpOp
	val string
}

type litKind uint8

const (
	litString litKind = iota + 1
	litNumber
	litBool
)

// literal is the typed right-hand side of an annotation comparison.
type literal struct {
	kind litKind
	s    string
	n    float64
	b    bool
}

// annPred is `annotation.KEY [op value]` or `annotation[KEY] [op value]`.
type annPred struct {
	key     string
	bracket bool // written as annotation["KEY"]
	op      cmpOp
	val     literal
}

// nodeRef selects service-graph nodes: a plain name or id(name:, type:, account.id:).
type nodeRef struct {
	isID                         bool
	hasName, hasType, hasAccount bool
	name, typ, account           string
}

// serviceNode is `service([ref]) [{ block }]`.
type serviceNode struct {
	ref   *nodeRef // nil: service() — any node
	block node     // nil: no filter
}

// edgeNode is `edge(src, dst) [{ block }]`.
type edgeNode struct {
	src, dst nodeRef
	block    node
}

// groupPred is `group.name = "x"`, `group.arn != "x"`…; resolved holds the
// group's parsed expression once ResolveGroups has run.
type groupPred struct {
	arn      bool
	op       cmpOp // opEq or opNe
	val      string
	resolved node
}

type rcKind uint8

const (
	rcFault rcKind = iota + 1
	rcError
	rcResponseTime
)

type rcLevel uint8

const (
	rcService rcLevel = iota + 1
	rcEntity
	rcException
)

var rcKindNames = [...]string{rcFault: "fault", rcError: "error", rcResponseTime: "responsetime"}
var rcLevelNames = [...]string{rcService: "service", rcEntity: "entity", rcException: "exception"}

// rootCauseNode is `rootcause.KIND.LEVEL { block }`.
type rootCauseNode struct {
	kind  rcKind
	level rcLevel
	block node
}

// rootCauseJSON is `rootcause.json = #[ ... ]`.
type rootCauseJSON struct {
	raw  string // compacted JSON array
	want []any  // decoded skeletons
}

func (n *andNode) write(b *strings.Builder) {
	b.WriteByte('(')
	n.l.write(b)
	b.WriteString(" AND ")
	n.r.write(b)
	b.WriteByte(')')
}

func (n *orNode) write(b *strings.Builder) {
	b.WriteByte('(')
	n.l.write(b)
	b.WriteString(" OR ")
	n.r.write(b)
	b.WriteByte(')')
}

func (n *notNode) write(b *strings.Builder) {
	b.WriteByte('!')
	n.x.write(b)
}

func (n *boolPred) write(b *strings.Builder) {
	b.WriteString(n.kw.String())
	if n.op != opNone {
		b.WriteByte(' ')
		b.WriteString(n.op.String())
		b.WriteByte(' ')
		b.WriteString(strconv.FormatBool(n.val))
	}
}

func (n *numPred) write(b *strings.Builder) {
	b.WriteString(n.kw.String())
	b.WriteByte(' ')
	b.WriteString(n.op.String())
	b.WriteByte(' ')
	b.WriteString(formatNumber(n.val))
}

func (n *strPred) write(b *strings.Builder) {
	b.WriteString(n.kw.String())
	if n.op != opNone {
		b.WriteByte(' ')
		b.WriteString(n.op.String())
		b.WriteByte(' ')
		writeString(b, n.val)
	}
}

func (n *annPred) write(b *strings.Builder) {
	if n.bracket {
		b.WriteString("annotation[")
		writeString(b, n.key)
		b.WriteByte(']')
	} else {
		b.WriteString("annotation.")
		b.WriteString(n.key)
	}
	if n.op == opNone {
		return
	}
	b.WriteByte(' ')
	b.WriteString(n.op.String())
	b.WriteByte(' ')
	switch n.val.kind {
	case litString:
		writeString(b, n.val.s)
	case litNumber:
		b.WriteString(formatNumber(n.val.n))
	case litBool:
		b.WriteString(strconv.FormatBool(n.val.b))
	}
}

func (r *nodeRef) write(b *strings.Builder) {
	if !r.isID {
		writeString(b, r.name)
		return
	}
	b.WriteString("id(")
	sep := ""
	if r.hasName {
		b.WriteString("name: ")
		writeString(b, r.name)
		sep = ", "
	}
	if r.hasType {
		b.WriteString(sep)
		b.WriteString("type: ")
		writeString(b, r.typ)
		sep = ", "
	}
	if r.hasAccount {
		b.WriteString(sep)
		b.WriteString("account.id: ")
		writeString(b, r.account)
	}
	b.WriteByte(')')
}

func writeBlock(b *strings.Builder, block node) {
	if block == nil {
		return
	}
	b.WriteString(" { ")
	block.write(b)
	b.WriteString(" }")
}

func (n *serviceNode) write(b *strings.Builder) {
	b.WriteString("service(")
	if n.ref != nil {
		n.ref.write(b)
	}
	b.WriteByte(')')
	writeBlock(b, n.block)
}

func (n *edgeNode) write(b *strings.Builder) {
	b.WriteString("edge(")
	n.src.write(b)
	b.WriteString(", ")
	n.dst.write(b)
	b.WriteByte(')')
	writeBlock(b, n.block)
}

func (n *groupPred) write(b *strings.Builder) {
	if n.arn {
		b.WriteString("group.arn ")
	} else {
		b.WriteString("group.name ")
	}
	b.WriteString(n.op.String())
	b.WriteByte(' ')
	writeString(b, n.val)
}

func (n *rootCauseNode) write(b *strings.Builder) {
	b.WriteString("rootcause.")
	b.WriteString(rcKindNames[n.kind])
	b.WriteByte('.')
	b.WriteString(rcLevelNames[n.level])
	writeBlock(b, n.block)
}

func (n *rootCauseJSON) write(b *strings.Builder) {
	b.WriteString("rootcause.json = #")
	b.WriteString(n.raw)
}

// writeString writes s as a double-quoted filter string literal.
func writeString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	b.WriteByte('"')
}

// formatNumber writes v so that the lexer reads back exactly v: plain
// decimal notation, no exponent.
func formatNumber(v float64) string {
	return strconv.FormatFloat(v, 'f', -1, 64)
}
