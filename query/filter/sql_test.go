package filter

import (
	"errors"
	"strings"
	"testing"
)

// TestSQLBindsUserInput checks that every value from an expression travels
// as a bound parameter: the text has one ? per arg and never contains the
// expression's strings.
func TestSQLBindsUserInput(t *testing.T) {
	evil := `x' OR 1=1) -- \' ?`
	exprs := append(testExprs(),
		`user = "`+strings.ReplaceAll(evil, `\`, `\\`)+`"`,
		`annotation["`+strings.ReplaceAll(evil, `\`, `\\`)+`"] CONTAINS "`+strings.ReplaceAll(evil, `\`, `\\`)+`"`,
		`service(id(name: "zq'?", type: "zt'", account.id: "za'")) { http.url ENDSWITH "z'" }`,
		`edge(id(name: "zs'", type: "zt'"), id(name: "zd'", account.id: "za'")) { user BEGINSWITH "z'" }`,
	)
	for _, s := range exprs {
		e, err := Parse(s)
		if err != nil {
			t.Fatalf("Parse(%q): %v", s, err)
		}
		having, args, err := e.SQL()
		if err != nil {
			t.Errorf("SQL(%q): %v", s, err)
			continue
		}
		if n := strings.Count(having, "?"); n != len(args) {
			t.Errorf("SQL(%q): %d placeholders, %d args", s, n, len(args))
		}
		for _, a := range args {
			switch v := a.(type) {
			case string:
				if strings.Contains(v, "'") && strings.Contains(having, v) {
					t.Errorf("SQL(%q): value %q appears in the SQL text", s, v)
				}
			case float64:
			default:
				t.Errorf("SQL(%q): arg of type %T", s, a)
			}
		}
		if strings.Contains(having, "1=1") || strings.Count(having, "(") != strings.Count(having, ")") {
			t.Errorf("SQL(%q): unbalanced or leaking text: %s", s, having)
		}
	}
}

func TestGroups(t *testing.T) {
	groups := map[string]string{
		"slow":  `responsetime > 1`,
		"all":   ``,
		"outer": `group.name = "slow" AND fault`,
		"bad":   `responsetime >`,
		"cyc1":  `group.name = "cyc2"`,
		"cyc2":  `ok OR group.name = "cyc1"`,
	}
	errUnknown := errors.New("no such group")
	lookup := func(r GroupRef) (string, error) {
		key := r.Name
		if r.ARN != "" {
			key = strings.TrimPrefix(r.ARN, "arn:aws:xray:us-east-1:1:group/")
		}
		s, ok := groups[key]
		if !ok {
			return "", errUnknown
		}
		return s, nil
	}
	hand := handTraces()
	matchSet := func(e *Expr) string {
		var out []string
		for _, n := range []string{"H1", "H2", "H3", "H4", "H5", "H6"} {
			if e.Match(hand[n].spans()) {
				out = append(out, n)
			}
		}
		return strings.Join(out, ",")
	}
	f := func(expr, inline string) {
		t.Helper()
		e, err := Parse(expr)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.SQL(); err == nil {
			t.Errorf("SQL(%q) before ResolveGroups: no error", expr)
		}
		r, err := e.ResolveGroups(lookup)
		if err != nil {
			t.Fatalf("ResolveGroups(%q): %v", expr, err)
		}
		want, _ := Parse(inline)
		if got, w := matchSet(r), matchSet(want); got != w {
			t.Errorf("%q matches %s, want %s like %q", expr, got, w, inline)
		}
		if r.String() != e.String() {
			t.Errorf("resolved String() = %q, want %q", r.String(), e.String())
		}
		having, args, err := r.SQL()
		if err != nil || strings.Count(having, "?") != len(args) {
			t.Errorf("SQL(resolved %q) = %q, %v, %v", expr, having, args, err)
		}
	}
	f(`group.name = "slow"`, `responsetime > 1`)
	f(`group.name != "slow"`, `!(responsetime > 1)`)
	f(`group.arn = "arn:aws:xray:us-east-1:1:group/slow" AND user`, `responsetime > 1 AND user`)
	f(`group.name = "all"`, `ok OR !ok`)
	f(`group.name = "outer" OR partial`, `(responsetime > 1 AND fault) OR partial`)

	e, _ := Parse(`group.name = "outer" OR group.name = "slow" OR group.name = "outer"`)
	if got := e.Groups(); len(got) != 2 || got[0].Name != "outer" || got[1].Name != "slow" {
		t.Errorf("Groups() = %v", got)
	}
	if e.Match(hand["H2"].spans()) {
		t.Error("an unresolved group matched")
	}
	for expr, want := range map[string]error{
		`group.name = "nope"`: errUnknown,
		`group.name = "cyc1"`: ErrGroupCycle,
	} {
		e, _ := Parse(expr)
		if _, err := e.ResolveGroups(lookup); !errors.Is(err, want) {
			t.Errorf("ResolveGroups(%q) = %v, want %v", expr, err, want)
		}
	}
	e, _ = Parse(`group.name = "bad"`)
	var se *SyntaxError
	if _, err := e.ResolveGroups(lookup); !errors.As(err, &se) || !strings.Contains(err.Error(), `"bad"`) {
		t.Errorf("ResolveGroups with a broken group expression = %v", err)
	}
}

func TestNeedsMatch(t *testing.T) {
	for s, want := range map[string]bool{
		`ok`: false, `service("a") { fault }`: false, `rootcause.fault.service { name = "a" }`: true,
		`ok OR !rootcause.json = #[]`: true,
	} {
		e, err := Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := e.NeedsMatch(); got != want {
			t.Errorf("NeedsMatch(%q) = %v", s, got)
		}
	}
}

func TestMatchEmptyTrace(t *testing.T) {
	e, _ := Parse(`!ok`)
	if e.Match(nil) {
		t.Error("an empty trace matched")
	}
}
