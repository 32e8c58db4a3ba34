package servicegraph

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// NodeRef selects nodes by any of name, type and account (an id(...) or a
// plain service name).
type NodeRef struct {
	Name, Type, AccountID          string
	HasName, HasType, HasAccountID bool
}

// Match reports whether k is selected. A reference without a type never
// selects client nodes: service("web") means the service, not its
// clients.
func (r NodeRef) Match(k NodeKey) bool {
	if !r.HasType && k.Type == TypeClient {
		return false
	}
	return (!r.HasName || r.Name == k.Name) && (!r.HasType || r.Type == k.Type) &&
		(!r.HasAccountID || r.AccountID == k.AccountID)
}

// String formats the reference as it would be written in an expression.
func (r NodeRef) String() string {
	if r.HasName && !r.HasType && !r.HasAccountID {
		return quote(r.Name)
	}
	var parts []string
	if r.HasName {
		parts = append(parts, "name: "+quote(r.Name))
	}
	if r.HasType {
		parts = append(parts, "type: "+quote(r.Type))
	}
	if r.HasAccountID {
		parts = append(parts, "account.id: "+quote(r.AccountID))
	}
	return "id(" + strings.Join(parts, ", ") + ")"
}

// quote writes s as an expression string: in double quotes, with \ before
// every " and \.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// SelectorKind says what a Selector aggregates.
type SelectorKind uint8

// Selector kinds.
const (
	// SelectEntry sums the edges from client nodes: every request that
	// entered the graph (no EntitySelectorExpression: "edge statistics").
	SelectEntry SelectorKind = iota
	// SelectService sums the nodes Node selects (service(...) or id(...)).
	SelectService
	// SelectEdge sums the edges from a node Src selects to a node Dst selects.
	SelectEdge
)

// Selector is a parsed EntitySelectorExpression.
type Selector struct {
	Kind     SelectorKind
	Node     NodeRef // SelectService
	Src, Dst NodeRef // SelectEdge
	// ByID is set when the expression is an id(...) selector (what
	// ForecastStatistics requires).
	ByID bool
}

// Match reports whether row r belongs to the selection.
func (s Selector) Match(r *Row) bool {
	switch s.Kind {
	case SelectService:
		return !r.Edge && s.Node.Match(r.Src)
	case SelectEdge:
		return r.Edge && s.Src.Match(r.Src) && s.Dst.Match(r.Dst)
	}
	return r.Edge && r.Src.Type == TypeClient
}

// SelectorError is a syntax error in an EntitySelectorExpression.
type SelectorError struct {
	Pos int // byte offset
	Msg string
}

func (e *SelectorError) Error() string {
	return fmt.Sprintf("entity selector: %s at position %d", e.Msg, e.Pos)
}

// ParseSelector parses an EntitySelectorExpression: service("name"),
// service(id(...)), id(name: "…", type: "…", account.id: "…") or
// edge(ref, ref), keywords case-insensitive. The empty expression selects
// the entry edges (SelectEntry).
func ParseSelector(expr string) (Selector, error) {
	p := &selParser{src: expr}
	p.next()
	if p.tok.kind == tEOF {
		return Selector{Kind: SelectEntry}, nil
	}
	var sel Selector
	switch {
	case p.isIdent("service"):
		p.next()
		if err := p.expect('('); err != nil {
			return sel, err
		}
		ref, byID, err := p.ref(true)
		if err != nil {
			return sel, err
		}
		if err := p.expect(')'); err != nil {
			return sel, err
		}
		sel = Selector{Kind: SelectService, Node: ref, ByID: byID}
	case p.isIdent("id"):
		ref, err := p.id()
		if err != nil {
			return sel, err
		}
		sel = Selector{Kind: SelectService, Node: ref, ByID: true}
	case p.isIdent("edge"):
		p.next()
		if err := p.expect('('); err != nil {
			return sel, err
		}
		src, _, err := p.ref(false)
		if err != nil {
			return sel, err
		}
		if err := p.expect(','); err != nil {
			return sel, err
		}
		dst, _, err := p.ref(false)
		if err != nil {
			return sel, err
		}
		if err := p.expect(')'); err != nil {
			return sel, err
		}
		sel = Selector{Kind: SelectEdge, Src: src, Dst: dst}
	default:
		return sel, p.fail(`expected service(…), edge(…, …) or id(…)`)
	}
	if p.tok.kind != tEOF {
		return Selector{}, p.fail("expected the end of the expression")
	}
	return sel, nil
}

type tokKind uint8

const (
	tEOF tokKind = iota
	tIdent
	tString
	tPunct
	tBad
)

type token struct {
	kind tokKind
	pos  int
	text string // identifier (as written), string value, or the punctuation
}

type selParser struct {
	src string
	pos int
	tok token
	err error
}

func (p *selParser) next() {
	for p.pos < len(p.src) {
		r, n := utf8.DecodeRuneInString(p.src[p.pos:])
		if !unicode.IsSpace(r) {
			break
		}
		p.pos += n
	}
	start := p.pos
	if p.pos >= len(p.src) {
		p.tok = token{kind: tEOF, pos: start}
		return
	}
	c := p.src[p.pos]
	switch {
	case c == '(' || c == ')' || c == ',' || c == ':':
		p.pos++
		p.tok = token{kind: tPunct, pos: start, text: string(c)}
	case c == '"':
		var b strings.Builder
		p.pos++
		for p.pos < len(p.src) {
			c := p.src[p.pos]
			switch {
			case c == '\\' && p.pos+1 < len(p.src):
				b.WriteByte(p.src[p.pos+1])
				p.pos += 2
			case c == '"':
				p.pos++
				p.tok = token{kind: tString, pos: start, text: b.String()}
				return
			default:
				b.WriteByte(c)
				p.pos++
			}
		}
		p.tok = token{kind: tBad, pos: start, text: "unterminated string"}
	case c == '_' || c == '.' || unicode.IsLetter(rune(c)) || unicode.IsDigit(rune(c)):
		for p.pos < len(p.src) {
			c := p.src[p.pos]
			if c != '_' && c != '.' && !unicode.IsLetter(rune(c)) && !unicode.IsDigit(rune(c)) {
				break
			}
			p.pos++
		}
		p.tok = token{kind: tIdent, pos: start, text: p.src[start:p.pos]}
	default:
		_, n := utf8.DecodeRuneInString(p.src[p.pos:])
		p.pos += n
		p.tok = token{kind: tBad, pos: start, text: fmt.Sprintf("unexpected %q", p.src[start:p.pos])}
	}
}

func (p *selParser) isIdent(kw string) bool {
	return p.tok.kind == tIdent && strings.EqualFold(p.tok.text, kw)
}

func (p *selParser) fail(expected string) error {
	got := "the end of the expression"
	switch p.tok.kind {
	case tBad:
		got = p.tok.text
	case tIdent:
		got = fmt.Sprintf("%q", p.tok.text)
	case tString:
		got = fmt.Sprintf("the string %q", p.tok.text)
	case tPunct:
		got = fmt.Sprintf("%q", p.tok.text)
	}
	return &SelectorError{Pos: p.tok.pos, Msg: expected + ", found " + got}
}

func (p *selParser) expect(punct byte) error {
	if p.tok.kind != tPunct || p.tok.text[0] != punct {
		return p.fail(fmt.Sprintf("expected %q", punct))
	}
	p.next()
	return nil
}

// ref parses a node reference: a string or id(...). In service(), an
// empty argument list selects every node.
func (p *selParser) ref(allowEmpty bool) (NodeRef, bool, error) {
	switch {
	case p.tok.kind == tString:
		r := NodeRef{Name: p.tok.text, HasName: true}
		p.next()
		return r, false, nil
	case p.isIdent("id"):
		r, err := p.id()
		return r, true, err
	case allowEmpty && p.tok.kind == tPunct && p.tok.text == ")":
		return NodeRef{}, false, nil
	}
	return NodeRef{}, false, p.fail(`expected a quoted service name or id(…)`)
}

func (p *selParser) id() (NodeRef, error) {
	var r NodeRef
	p.next() // id
	if err := p.expect('('); err != nil {
		return r, err
	}
	for {
		if p.tok.kind != tIdent {
			return r, p.fail("expected name, type or account.id")
		}
		key := strings.ToLower(p.tok.text)
		keyPos := p.tok.pos
		p.next()
		if err := p.expect(':'); err != nil {
			return r, err
		}
		if p.tok.kind != tString {
			return r, p.fail("expected a quoted value")
		}
		v := p.tok.text
		var dup bool
		switch key {
		case "name":
			dup, r.Name, r.HasName = r.HasName, v, true
		case "type":
			dup, r.Type, r.HasType = r.HasType, v, true
		case "account.id":
			dup, r.AccountID, r.HasAccountID = r.HasAccountID, v, true
		default:
			return r, &SelectorError{Pos: keyPos, Msg: fmt.Sprintf("unknown id() argument %q (expected name, type or account.id)", key)}
		}
		if dup {
			return r, &SelectorError{Pos: keyPos, Msg: fmt.Sprintf("id() argument %s given twice", key)}
		}
		p.next()
		if p.tok.kind == tPunct && p.tok.text == "," {
			p.next()
			continue
		}
		return r, p.expect(')')
	}
}
