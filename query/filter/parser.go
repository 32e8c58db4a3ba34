package filter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Expr is a parsed filter expression. It is immutable and safe for
// concurrent use.
type Expr struct {
	root node
}

// String returns the expression in normal form: lower-case keywords,
// upper-case word operators, explicit AND and fully parenthesised binary
// operators. Parse(e.String()) yields an equal expression.
func (e *Expr) String() string {
	var b strings.Builder
	e.root.write(&b)
	return b.String()
}

// maxDepth bounds nesting (parentheses, negations, blocks).
const maxDepth = 64

// scope is the context a predicate is evaluated in.
type scope uint8

const (
	scopeTrace scope = iota
	scopeService
	scopeEdge
	scopeRCService
	scopeRCEntity
	scopeRCRTEntity // rootcause.responsetime.entity: adds coverage
	scopeRCException
)

func (s scope) describe() string {
	switch s {
	case scopeService:
		return "inside service() { }"
	case scopeEdge:
		return "inside edge() { }"
	case scopeRCService:
		return "inside rootcause.*.service { }"
	case scopeRCEntity, scopeRCRTEntity:
		return "inside rootcause.*.entity { }"
	case scopeRCException:
		return "inside rootcause.*.exception { }"
	}
	return "at the top level"
}

func (s scope) isRootCause() bool { return s >= scopeRCService }

// allowed reports whether kw may be used in scope s, and if not, where it may be.
func allowed(kw keyword, s scope) (bool, string) {
	switch kw {
	case kwOK, kwError, kwThrottle, kwFault, kwResponseTime, kwDuration, kwHTTPStatus,
		kwHTTPURL, kwHTTPMethod, kwHTTPUserAgent, kwHTTPClientIP, kwUser,
		kwAvailabilityZone, kwInstanceID, kwResourceARN:
		return s <= scopeEdge, "at the top level or inside service()/edge() { }"
	case kwPartial:
		return s == scopeTrace, "at the top level"
	case kwInferred:
		return s == scopeTrace || s == scopeRCService, "at the top level or inside rootcause.*.service { }"
	case kwRoot:
		return s == scopeService, "inside service() { }"
	case kwFirst, kwLast, kwIndex:
		return s.isRootCause(), "inside rootcause.* { }"
	case kwRemote:
		return s == scopeRCEntity || s == scopeRCRTEntity, "inside rootcause.*.entity { }"
	case kwCoverage:
		return s == scopeRCRTEntity, "inside rootcause.responsetime.entity { }"
	case kwName:
		return s.isRootCause(), "inside rootcause.* { }"
	case kwType:
		return s == scopeRCService, "inside rootcause.*.service { }"
	case kwMessage:
		return s == scopeRCException, "inside rootcause.*.exception { }"
	}
	return false, ""
}

type parser struct {
	src   string
	toks  []token
	i     int
	depth int
}

// Parse parses a filter expression (xray.md §5). Errors are *SyntaxError.
func Parse(expr string) (*Expr, error) {
	toks, err := lex(expr)
	if err != nil {
		return nil, err
	}
	p := &parser{src: expr, toks: toks}
	if p.peek().kind == tEOF {
		return nil, p.errAt(p.peek(), "expected a filter expression")
	}
	root, err := p.parseOr(scopeTrace)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.unexpected(t, "expected AND, OR or the end of the expression")
	}
	return &Expr{root: root}, nil
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) errAt(t token, msg string) *SyntaxError {
	return &SyntaxError{Pos: t.pos, Msg: msg}
}

// unexpected reports "<what was expected>, found <token>".
func (p *parser) unexpected(t token, expected string) *SyntaxError {
	return &SyntaxError{Pos: t.pos, Msg: expected + ", found " + t.describe()}
}

func (p *parser) expect(k tokKind, expected string) (token, error) {
	t := p.peek()
	if t.kind != k {
		return t, p.unexpected(t, expected)
	}
	return p.next(), nil
}

func isWord(t token, w string) bool { return t.kind == tIdent && strings.EqualFold(t.text, w) }

func (p *parser) parseOr(s scope) (node, error) {
	l, err := p.parseAnd(s)
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if !(isWord(t, "or") || t.kind == tOrOr) {
			return l, nil
		}
		p.next()
		r, err := p.parseAnd(s)
		if err != nil {
			return nil, err
		}
		l = &orNode{l: l, r: r}
	}
}

// startsUnary reports whether t can begin an operand (for juxtaposition = AND).
func startsUnary(t token) bool {
	switch t.kind {
	case tBang, tLParen:
		return true
	case tIdent:
		return !isWord(t, "or") && !isWord(t, "and")
	}
	return false
}

func (p *parser) parseAnd(s scope) (node, error) {
	l, err := p.parseUnary(s)
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		switch {
		case isWord(t, "and") || t.kind == tAndAnd:
			p.next()
		case startsUnary(t):
		default:
			return l, nil
		}
		r, err := p.parseUnary(s)
		if err != nil {
			return nil, err
		}
		l = &andNode{l: l, r: r}
	}
}

func (p *parser) enter(t token) error {
	p.depth++
	if p.depth > maxDepth {
		return p.errAt(t, fmt.Sprintf("expression nested more than %d levels deep", maxDepth))
	}
	return nil
}

func (p *parser) parseUnary(s scope) (node, error) {
	t := p.peek()
	if t.kind == tBang || isWord(t, "not") {
		if err := p.enter(t); err != nil {
			return nil, err
		}
		p.next()
		x, err := p.parseUnary(s)
		if err != nil {
			return nil, err
		}
		p.depth--
		return &notNode{x: x}, nil
	}
	return p.parsePrimary(s)
}

func (p *parser) parsePrimary(s scope) (node, error) {
	t := p.peek()
	switch t.kind {
	case tLParen:
		if err := p.enter(t); err != nil {
			return nil, err
		}
		p.next()
		x, err := p.parseOr(s)
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tRParen, "expected ')' to close the '(' at "+strconv.Itoa(t.pos)); err != nil {
			return nil, err
		}
		p.depth--
		return x, nil
	case tIdent:
		if isWord(t, "and") || isWord(t, "or") {
			break
		}
		return p.parsePredicate(s)
	case tEOF:
		return nil, p.unexpected(t, "expected a keyword, '!' or '('")
	}
	return nil, p.unexpected(t, "expected a keyword, '!' or '('")
}

func (p *parser) parsePredicate(s scope) (node, error) {
	t := p.next()
	lower := strings.ToLower(t.text)
	switch {
	case lower == "service":
		return p.parseService(t, s)
	case lower == "edge":
		return p.parseEdge(t, s)
	case lower == "id":
		return nil, p.errAt(t, "id(...) is only valid as the argument of service() or edge()")
	case lower == "annotation" || strings.HasPrefix(lower, "annotation."):
		return p.parseAnnotation(t, s)
	case lower == "group.name" || lower == "group.arn":
		return p.parseGroup(t, s, lower == "group.arn")
	case lower == "rootcause.json":
		return p.parseRootCauseJSON(t, s)
	case strings.HasPrefix(lower, "rootcause."):
		return p.parseRootCause(t, s, lower)
	case lower == "true" || lower == "false":
		return nil, p.errAt(t, fmt.Sprintf("unexpected %s: a boolean value must follow a keyword and '=' or '!='", t.describe()))
	case lower == "contains" || lower == "beginswith" || lower == "endswith":
		return nil, p.errAt(t, fmt.Sprintf("unexpected operator %s: expected a keyword before it", t.describe()))
	}
	kw := lookupKeyword(lower)
	if kw == kwNone {
		return nil, p.unknownKeyword(t)
	}
	if ok, where := allowed(kw, s); !ok {
		return nil, p.errAt(t, fmt.Sprintf("keyword '%s' cannot be used %s; it is valid %s", kw, s.describe(), where))
	}
	switch {
	case kw.isBool():
		return p.parseBool(t, kw)
	case kw.isNum():
		return p.parseNum(t, kw)
	default:
		return p.parseStr(t, kw)
	}
}

// parseCmpOp reads an operator if one follows; opNone otherwise.
func (p *parser) parseCmpOp() (cmpOp, token) {
	t := p.peek()
	var op cmpOp
	switch t.kind {
	case tEq:
		op = opEq
	case tNe:
		op = opNe
	case tLt:
		op = opLt
	case tLe:
		op = opLe
	case tGt:
		op = opGt
	case tGe:
		op = opGe
	case tIdent:
		switch strings.ToLower(t.text) {
		case "contains":
			op = opContains
		case "beginswith":
			op = opBeginsWith
		case "endswith":
			op = opEndsWith
		}
	}
	if op != opNone {
		p.next()
	}
	return op, t
}

func (p *parser) parseBool(kwTok token, kw keyword) (node, error) {
	op, opTok := p.parseCmpOp()
	switch op {
	case opNone:
		return &boolPred{kw: kw}, nil
	case opEq, opNe:
	default:
		return nil, p.errAt(opTok, fmt.Sprintf("'%s' is a boolean keyword: expected '=' or '!=' after it, found %s", kw, opTok.describe()))
	}
	v := p.peek()
	if isWord(v, "true") || isWord(v, "false") {
		p.next()
		return &boolPred{kw: kw, op: op, val: isWord(v, "true")}, nil
	}
	return nil, p.unexpected(v, fmt.Sprintf("expected true or false after '%s %s'", kw, op))
}

func (p *parser) parseNumber(t token) (float64, error) {
	v, err := strconv.ParseFloat(t.text, 64)
	if err != nil {
		return 0, p.errAt(t, "number "+t.text+" is out of range")
	}
	return v, nil
}

func (p *parser) parseNum(kwTok token, kw keyword) (node, error) {
	op, opTok := p.parseCmpOp()
	if !op.isNumOp() {
		return nil, p.unexpected(opTok, fmt.Sprintf("expected a comparison operator (=, !=, <, <=, >, >=) after '%s'", kw))
	}
	v := p.peek()
	if v.kind != tNumber {
		return nil, p.unexpected(v, fmt.Sprintf("expected a number after '%s %s'", kw, op))
	}
	p.next()
	n, err := p.parseNumber(v)
	if err != nil {
		return nil, err
	}
	return &numPred{kw: kw, op: op, val: n}, nil
}

// parseStringValue reads the string operand of op; after = and != a bare
// identifier is accepted as a string (xray.md §5.3 leniency).
func (p *parser) parseStringValue(subject string, op cmpOp) (string, error) {
	v := p.peek()
	switch {
	case v.kind == tString:
		p.next()
		return v.text, nil
	case v.kind == tIdent && (op == opEq || op == opNe) && !isWord(v, "and") && !isWord(v, "or"):
		p.next()
		return v.text, nil
	}
	return "", p.unexpected(v, fmt.Sprintf("expected a double-quoted string after '%s %s'", subject, op))
}

func (p *parser) parseStr(kwTok token, kw keyword) (node, error) {
	op, opTok := p.parseCmpOp()
	if op == opNone {
		if t := p.peek(); t.kind == tString || t.kind == tNumber {
			return nil, p.unexpected(t, fmt.Sprintf("expected an operator (=, !=, CONTAINS, BEGINSWITH, ENDSWITH) after '%s'", kw))
		}
		return &strPred{kw: kw}, nil
	}
	if !op.isStrOp() {
		return nil, p.errAt(opTok, fmt.Sprintf("'%s' is a string keyword: expected =, !=, CONTAINS, BEGINSWITH or ENDSWITH, found %s", kw, opTok.describe()))
	}
	s, err := p.parseStringValue(kw.String(), op)
	if err != nil {
		return nil, err
	}
	return &strPred{kw: kw, op: op, val: s}, nil
}

func (p *parser) parseAnnotation(t token, s scope) (node, error) {
	if s != scopeTrace {
		return nil, p.errAt(t, "annotation keywords cannot be used "+s.describe()+"; combine them with the service()/edge() filter using AND instead")
	}
	n := &annPred{}
	if strings.EqualFold(t.text, "annotation") {
		if p.peek().kind != tLBrack {
			return nil, p.unexpected(p.peek(), "expected '.KEY' or '[\"KEY\"]' after 'annotation'")
		}
		p.next()
		k := p.peek()
		switch k.kind {
		case tString, tIdent, tNumber:
			p.next()
		default:
			return nil, p.unexpected(k, "expected an annotation key inside annotation[ ]")
		}
		if k.text == "" {
			return nil, p.errAt(k, "annotation key must not be empty")
		}
		if _, err := p.expect(tRBrack, "expected ']' after the annotation key (quote keys that contain other characters)"); err != nil {
			return nil, err
		}
		n.key, n.bracket = k.text, true
	} else {
		n.key = t.text[len("annotation."):]
		if n.key == "" || strings.HasSuffix(n.key, ".") {
			return nil, p.errAt(t, "expected an annotation key after 'annotation.'")
		}
	}
	subject := "annotation." + n.key
	op, opTok := p.parseCmpOp()
	if op == opNone {
		if v := p.peek(); v.kind == tString || v.kind == tNumber {
			return nil, p.unexpected(v, fmt.Sprintf("expected an operator after '%s'", subject))
		}
		return n, nil
	}
	n.op = op
	v := p.peek()
	switch {
	case v.kind == tNumber:
		if !op.isNumOp() {
			return nil, p.errAt(v, fmt.Sprintf("%s needs a string operand; a number can only follow =, !=, <, <=, > or >=", op))
		}
		p.next()
		f, err := p.parseNumber(v)
		if err != nil {
			return nil, err
		}
		n.val = literal{kind: litNumber, n: f}
	case isWord(v, "true") || isWord(v, "false"):
		if op != opEq && op != opNe {
			return nil, p.errAt(opTok, fmt.Sprintf("a boolean annotation value can only follow = or !=, found %s", opTok.describe()))
		}
		p.next()
		n.val = literal{kind: litBool, b: isWord(v, "true")}
	default:
		if !op.isStrOp() {
			return nil, p.unexpected(v, fmt.Sprintf("expected a number after '%s %s'", subject, op))
		}
		str, err := p.parseStringValue(subject, op)
		if err != nil {
			return nil, err
		}
		n.val = literal{kind: litString, s: str}
	}
	return n, nil
}

func (p *parser) parseBlock(s scope, owner string) (node, error) {
	open, err := p.expect(tLBrace, "expected '{' after '"+owner+"'")
	if err != nil {
		return nil, err
	}
	if err := p.enter(open); err != nil {
		return nil, err
	}
	if p.peek().kind == tRBrace {
		return nil, p.errAt(p.peek(), "expected a filter inside { }")
	}
	x, err := p.parseOr(s)
	if err != nil {
		return nil, err
	}
	if _, err := p.expect(tRBrace, "expected '}' to close the '{' at "+strconv.Itoa(open.pos)); err != nil {
		return nil, err
	}
	p.depth--
	return x, nil
}

func (p *parser) parseService(t token, s scope) (node, error) {
	if s != scopeTrace {
		return nil, p.errAt(t, "service() cannot be used "+s.describe())
	}
	if _, err := p.expect(tLParen, "expected '(' after 'service'"); err != nil {
		return nil, err
	}
	n := &serviceNode{}
	if p.peek().kind != tRParen {
		ref, err := p.parseNodeRef("service", false)
		if err != nil {
			return nil, err
		}
		n.ref = &ref
	}
	if _, err := p.expect(tRParen, "expected ')' after the service() argument"); err != nil {
		return nil, err
	}
	if p.peek().kind == tLBrace {
		b, err := p.parseBlock(scopeService, "service()")
		if err != nil {
			return nil, err
		}
		n.block = b
	}
	return n, nil
}

func (p *parser) parseEdge(t token, s scope) (node, error) {
	if s != scopeTrace {
		return nil, p.errAt(t, "edge() cannot be used "+s.describe())
	}
	if _, err := p.expect(tLParen, "expected '(' after 'edge'"); err != nil {
		return nil, err
	}
	n := &edgeNode{}
	var err error
	if n.src, err = p.parseNodeRef("edge", true); err != nil {
		return nil, err
	}
	if _, err := p.expect(tComma, "expected ',' between the two nodes of edge()"); err != nil {
		return nil, err
	}
	if n.dst, err = p.parseNodeRef("edge", false); err != nil {
		return nil, err
	}
	if _, err := p.expect(tRParen, "expected ')' after the edge() arguments"); err != nil {
		return nil, err
	}
	if p.peek().kind == tLBrace {
		if n.block, err = p.parseBlock(scopeEdge, "edge()"); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// parseNodeRef reads `"name"` or `id(name: "…", type: "…", account.id: "…")`.
func (p *parser) parseNodeRef(fn string, edgeSource bool) (nodeRef, error) {
	t := p.peek()
	if t.kind == tString {
		p.next()
		return nodeRef{name: t.text, hasName: true}, nil
	}
	if !isWord(t, "id") {
		return nodeRef{}, p.unexpected(t, "expected a double-quoted service name or id(...) in "+fn+"()")
	}
	p.next()
	if _, err := p.expect(tLParen, "expected '(' after 'id'"); err != nil {
		return nodeRef{}, err
	}
	r := nodeRef{isID: true}
	for {
		a := p.peek()
		if a.kind != tIdent {
			return nodeRef{}, p.unexpected(a, "expected name:, type: or account.id: in id()")
		}
		p.next()
		if _, err := p.expect(tColon, "expected ':' after '"+a.text+"' in id()"); err != nil {
			return nodeRef{}, err
		}
		v, err := p.expect(tString, "expected a double-quoted string after '"+a.text+":' in id()")
		if err != nil {
			return nodeRef{}, err
		}
		var dup bool
		switch strings.ToLower(a.text) {
		case "name":
			dup, r.hasName, r.name = r.hasName, true, v.text
		case "type":
			dup, r.hasType, r.typ = r.hasType, true, v.text
		case "account.id":
			if edgeSource {
				return nodeRef{}, p.errAt(a, "account.id is not supported for the source node of edge(); use it on the destination or in service()")
			}
			dup, r.hasAccount, r.account = r.hasAccount, true, v.text
		default:
			return nodeRef{}, p.errAt(a, fmt.Sprintf("unknown id() argument '%s': expected name, type or account.id", a.text))
		}
		if dup {
			return nodeRef{}, p.errAt(a, fmt.Sprintf("id() argument '%s' given twice", a.text))
		}
		if p.peek().kind != tComma {
			break
		}
		p.next()
	}
	if _, err := p.expect(tRParen, "expected ',' or ')' in id()"); err != nil {
		return nodeRef{}, err
	}
	return r, nil
}

func (p *parser) parseGroup(t token, s scope, arn bool) (node, error) {
	if s != scopeTrace {
		return nil, p.errAt(t, "group keywords cannot be used "+s.describe())
	}
	op, opTok := p.parseCmpOp()
	if op != opEq && op != opNe {
		return nil, p.unexpected(opTok, fmt.Sprintf("expected '=' or '!=' after '%s'", strings.ToLower(t.text)))
	}
	v, err := p.expect(tString, fmt.Sprintf("expected a double-quoted group %s after '%s %s'", map[bool]string{false: "name", true: "ARN"}[arn], strings.ToLower(t.text), op))
	if err != nil {
		return nil, err
	}
	return &groupPred{arn: arn, op: op, val: v.text}, nil
}

func (p *parser) parseRootCause(t token, s scope, lower string) (node, error) {
	if s != scopeTrace {
		return nil, p.errAt(t, "rootcause keywords cannot be used "+s.describe())
	}
	parts := strings.Split(lower, ".")
	n := &rootCauseNode{}
	if len(parts) == 3 {
		switch parts[1] {
		case "fault":
			n.kind = rcFault
		case "error":
			n.kind = rcError
		case "responsetime":
			n.kind = rcResponseTime
		}
		switch parts[2] {
		case "service":
			n.level = rcService
		case "entity":
			n.level = rcEntity
		case "exception":
			if n.kind != rcResponseTime {
				n.level = rcException
			}
		}
	}
	if n.kind == 0 || n.level == 0 {
		msg := fmt.Sprintf("unknown keyword '%s': expected rootcause.fault|error.service|entity|exception, rootcause.responsetime.service|entity or rootcause.json", t.text)
		return nil, p.errAt(t, msg)
	}
	bs := scopeRCService
	switch n.level {
	case rcEntity:
		bs = scopeRCEntity
		if n.kind == rcResponseTime {
			bs = scopeRCRTEntity
		}
	case rcException:
		bs = scopeRCException
	}
	b, err := p.parseBlock(bs, strings.ToLower(t.text))
	if err != nil {
		return nil, err
	}
	n.block = b
	return n, nil
}

func (p *parser) parseRootCauseJSON(t token, s scope) (node, error) {
	if s != scopeTrace {
		return nil, p.errAt(t, "rootcause.json cannot be used "+s.describe())
	}
	if _, err := p.expect(tEq, "expected '=' after 'rootcause.json'"); err != nil {
		return nil, err
	}
	v, err := p.expect(tJSON, "expected #[ ... ] (a JSON array) after 'rootcause.json ='")
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(v.text)); err != nil {
		return nil, p.errAt(v, "invalid JSON after '#': "+err.Error())
	}
	var want []any
	if err := json.Unmarshal(buf.Bytes(), &want); err != nil {
		return nil, p.errAt(v, "invalid JSON after '#': "+err.Error())
	}
	return &rootCauseJSON{raw: buf.String(), want: want}, nil
}

// allKeywords lists every keyword spelling, for suggestions.
var allKeywords = func() []string {
	ks := []string{"service", "edge", "id", "annotation", "group.name", "group.arn", "rootcause.json",
		"rootcause.fault.service", "rootcause.fault.entity", "rootcause.fault.exception",
		"rootcause.error.service", "rootcause.error.entity", "rootcause.error.exception",
		"rootcause.responsetime.service", "rootcause.responsetime.entity", "and", "or", "not"}
	for k := kwOK; k < kwCount; k++ {
		ks = append(ks, k.String())
	}
	return ks
}()

func (p *parser) unknownKeyword(t token) *SyntaxError {
	lower := strings.ToLower(t.text)
	msg := fmt.Sprintf("unknown keyword '%s'", t.text)
	best, bestD := "", 3
	for _, k := range allKeywords {
		if d := editDistance(lower, k, bestD); d < bestD {
			best, bestD = k, d
		}
	}
	switch {
	case best != "":
		msg += fmt.Sprintf("; did you mean '%s'?", best)
	case strings.HasPrefix(lower, "http."):
		msg += "; expected http.url, http.method, http.useragent, http.clientip or http.status"
	}
	return p.errAt(t, msg)
}

// editDistance is the Levenshtein distance of a and b, or limit when it is
// at least limit.
func editDistance(a, b string, limit int) int {
	if d := len(a) - len(b); d >= limit || -d >= limit {
		return limit
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			c = min(c, prev[j]+1, cur[j-1]+1)
			cur[j] = c
		}
		prev, cur = cur, prev
	}
	return min(prev[len(b)], limit)
}
