package filter

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// SyntaxError reports an expression that cannot be parsed: Pos is the byte
// offset in the expression (0-based; len(expr) means "at the end") and Msg
// says what was found and what was expected.
type SyntaxError struct {
	Pos int
	Msg string
}

// Error returns "<Msg> at <Pos>".
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%s at %d", e.Msg, e.Pos)
}

type tokKind uint8

const (
	tEOF tokKind = iota
	tIdent
	tString
	tNumber
	tJSON // '#' followed by a JSON array; text is the array
	tLParen
	tRParen
	tLBrace
	tRBrace
	tLBrack
	tRBrack
	tComma
	tColon
	tBang
	tEq
	tNe
	tLt
	tLe
	tGt
	tGe
	tAndAnd
	tOrOr
)

type token struct {
	kind tokKind
	pos  int
	text string // identifier / number text, decoded string, raw JSON
}

// describe renders a token for error messages.
func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "end of expression"
	case tIdent:
		return "'" + t.text + "'"
	case tString:
		return "string " + quoteForMsg(t.text)
	case tNumber:
		return "number " + t.text
	case tJSON:
		return "JSON value"
	}
	return "'" + punct[t.kind] + "'"
}

var punct = map[tokKind]string{
	tLParen: "(", tRParen: ")", tLBrace: "{", tRBrace: "}", tLBrack: "[", tRBrack: "]",
	tComma: ",", tColon: ":", tBang: "!", tEq: "=", tNe: "!=", tLt: "<", tLe: "<=", tGt: ">", tGe: ">=",
	tAndAnd: "&&", tOrOr: "||",
}

func quoteForMsg(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	var b strings.Builder
	writeString(&b, s)
	return b.String()
}

// maxTokens bounds the work a single expression can cause.
const maxTokens = 4096

// lex splits src into tokens; the last token is tEOF.
func lex(src string) ([]token, error) {
	toks := make([]token, 0, len(src)/4+2)
	i := 0
	for {
		for i < len(src) && isSpace(src[i]) {
			i++
		}
		if len(toks) >= maxTokens {
			return nil, &SyntaxError{Pos: i, Msg: fmt.Sprintf("expression has more than %d tokens", maxTokens)}
		}
		if i >= len(src) {
			toks = append(toks, token{kind: tEOF, pos: len(src)})
			return toks, nil
		}
		start := i
		c := src[i]
		switch {
		case c == '"':
			s, n, err := lexString(src, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tString, pos: start, text: s})
			i = n
			continue
		case isDigit(c) || (c == '-' && i+1 < len(src) && isDigit(src[i+1])):
			j := i + 1
			for j < len(src) && isDigit(src[j]) {
				j++
			}
			if j < len(src) && src[j] == '.' {
				j++
				if j >= len(src) || !isDigit(src[j]) {
					return nil, &SyntaxError{Pos: j, Msg: "expected a digit after the decimal point"}
				}
				for j < len(src) && isDigit(src[j]) {
					j++
				}
			}
			toks = append(toks, token{kind: tNumber, pos: start, text: src[i:j]})
			i = j
			continue
		case c == '#':
			raw, n, err := lexJSON(src, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tJSON, pos: start, text: raw})
			i = n
			continue
		}
		if r, size := utf8.DecodeRuneInString(src[i:]); isIdentStart(r) {
			j := i + size
			for j < len(src) {
				r, size := utf8.DecodeRuneInString(src[j:])
				if !isIdentPart(r) {
					break
				}
				j += size
			}
			toks = append(toks, token{kind: tIdent, pos: start, text: src[i:j]})
			i = j
			continue
		}
		two := ""
		if i+1 < len(src) {
			two = src[i : i+2]
		}
		var k tokKind
		n := 1
		switch {
		case two == "!=":
			k, n = tNe, 2
		case two == "<=":
			k, n = tLe, 2
		case two == ">=":
			k, n = tGe, 2
		case two == "&&":
			k, n = tAndAnd, 2
		case two == "||":
			k, n = tOrOr, 2
		case c == '(':
			k = tLParen
		case c == ')':
			k = tRParen
		case c == '{':
			k = tLBrace
		case c == '}':
			k = tRBrace
		case c == '[':
			k = tLBrack
		case c == ']':
			k = tRBrack
		case c == ',':
			k = tComma
		case c == ':':
			k = tColon
		case c == '!':
			k = tBang
		case c == '=':
			k = tEq
		case c == '<':
			k = tLt
		case c == '>':
			k = tGt
		default:
			r, _ := utf8.DecodeRuneInString(src[i:])
			msg := fmt.Sprintf("unexpected character %q", r)
			if c == '&' || c == '|' {
				msg += fmt.Sprintf("; use AND/OR (or %c%c)", c, c)
			}
			if c == '\'' {
				msg += "; strings are written in double quotes"
			}
			return nil, &SyntaxError{Pos: i, Msg: msg}
		}
		toks = append(toks, token{kind: k, pos: start})
		i += n
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isIdentStart(r rune) bool { return r == '_' || unicode.IsLetter(r) }

func isIdentPart(r rune) bool {
	return r == '_' || r == '.' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

// lexString reads a double-quoted string starting at src[i] == '"'. The
// escapes \" and \\ are decoded; any other backslash is kept as is.
func lexString(src string, i int) (string, int, error) {
	var b strings.Builder
	j := i + 1
	for j < len(src) {
		c := src[j]
		switch {
		case c == '"':
			return b.String(), j + 1, nil
		case c == '\\' && j+1 < len(src) && (src[j+1] == '"' || src[j+1] == '\\'):
			b.WriteByte(src[j+1])
			j += 2
		default:
			b.WriteByte(c)
			j++
		}
	}
	return "", 0, &SyntaxError{Pos: i, Msg: "unterminated string (missing closing '\"')"}
}

// lexJSON reads `#` followed by a JSON array, matching brackets outside JSON
// strings. It returns the array's text.
func lexJSON(src string, i int) (string, int, error) {
	j := i + 1
	for j < len(src) && isSpace(src[j]) {
		j++
	}
	if j >= len(src) || src[j] != '[' {
		return "", 0, &SyntaxError{Pos: j, Msg: "expected a JSON array after '#'"}
	}
	start := j
	depth := 0
	inStr := false
	for ; j < len(src); j++ {
		c := src[j]
		if inStr {
			switch c {
			case '\\':
				j++
			case '"':
				inStr = false
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case '[', '{':
			depth++
		case ']', '}':
			depth--
			if depth == 0 {
				return src[start : j+1], j + 1, nil
			}
		}
	}
	return "", 0, &SyntaxError{Pos: start, Msg: "unterminated JSON array after '#'"}
}
