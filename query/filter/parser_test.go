package filter

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseNormalForm(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		e, err := Parse(in)
		if err != nil {
			t.Errorf("Parse(%q): %v", in, err)
			return
		}
		if got := e.String(); got != want {
			t.Errorf("Parse(%q).String() = %q, want %q", in, got, want)
		}
	}
	// xray.md §5.5 examples
	f(`responsetime > 5`, `responsetime > 5`)
	f(`duration >= 5 AND duration <= 8`, `(duration >= 5 AND duration <= 8)`)
	f(`ok !partial duration <3`, `((ok AND !partial) AND duration < 3)`)
	f(`http.status != 200`, `http.status != 200`)
	f(`!ok`, `!ok`)
	f(`http.url CONTAINS "/api/game/"`, `http.url CONTAINS "/api/game/"`)
	f(`user CONTAINS ""`, `user CONTAINS ""`)
	f(`user = "alice" AND http.method = "POST"`, `(user = "alice" AND http.method = "POST")`)
	f(`annotation.gameid = "817DL6VO"`, `annotation.gameid = "817DL6VO"`)
	f(`annotation.age > 29`, `annotation.age > 29`)
	f(`!annotation.age`, `!annotation.age`)
	f(`service("api.example.com") { fault }`, `service("api.example.com") { fault }`)
	f(`service() { fault }`, `service() { fault }`)
	f(`service("api.example.com") { fault = true OR responsetime > 2.5 } AND annotation.account = "12345"`,
		`(service("api.example.com") { (fault = true OR responsetime > 2.5) } AND annotation.account = "12345")`)
	f(`edge("api.example.com", "backend.example.com") { error }`, `edge("api.example.com", "backend.example.com") { error }`)
	f(`service(id(name: "random-name", type: "AWS::Lambda::Function")) { error }`, `service(id(name: "random-name", type: "AWS::Lambda::Function")) { error }`)
	f(`service(id(type: "AWS::Lambda::Function")) { error }`, `service(id(type: "AWS::Lambda::Function")) { error }`)
	f(`service(id(account.id: "123456789012"))`, `service(id(account.id: "123456789012"))`)
	f(`service(id(account.id: "1", TYPE: "t", Name: "n"))`, `service(id(name: "n", type: "t", account.id: "1"))`)
	f(`service("data-plane") { root = true and fault = true }`, `service("data-plane") { (root = true AND fault = true) }`)
	f(`group.name = "high_response_time" AND user = "alice"`, `(group.name = "high_response_time" AND user = "alice")`)
	f(`group.arn != "arn:aws:xray:us-east-1:1:group/g/x"`, `group.arn != "arn:aws:xray:us-east-1:1:group/g/x"`)
	f(`rootcause.fault.service { name = "Auth" }`, `rootcause.fault.service { name = "Auth" }`)
	f(`rootcause.responsetime.service { last and type = "AWS::DynamoDB" }`, `rootcause.responsetime.service { (last AND type = "AWS::DynamoDB") }`)
	f(`rootcause.fault.entity { last and name = "deserialize" }`, `rootcause.fault.entity { (last AND name = "deserialize") }`)
	f(`rootcause.responsetime.entity { remote and coverage > 0.7 and name = traces }`,
		`rootcause.responsetime.entity { ((remote AND coverage > 0.7) AND name = "traces") }`)
	f(`rootcause.fault.service { index > 5 }`, `rootcause.fault.service { index > 5 }`)
	f(`rootcause.error.exception { last and message = "Access Denied for account_id: 1234567890" }`,
		`rootcause.error.exception { (last AND message = "Access Denied for account_id: 1234567890") }`)
	f(`rootcause.json = #[{ "Services": [ { "Name": "GetWeatherData", "EntityPath": [{ "Name": "GetWeatherData" }, { "Name": "get_temperature" }] } ] }]`,
		`rootcause.json = #[{"Services":[{"Name":"GetWeatherData","EntityPath":[{"Name":"GetWeatherData"},{"Name":"get_temperature"}]}]}]`)
	f(`http.url AND responsetime > 2`, `(http.url AND responsetime > 2)`)
	f(`throttle OR service() { throttle }`, `(throttle OR service() { throttle })`)
	// case rules: keywords, operators and literals are case-insensitive; values and annotation keys are not
	f(`ResponseTime > 1 and OK = TRUE or NOT Fault`, `((responsetime > 1 AND ok = true) OR !fault)`)
	f(`HTTP.URL contains "A" And User BeginsWith "B" && user endswith "c"`,
		`((http.url CONTAINS "A" AND user BEGINSWITH "B") AND user ENDSWITH "c")`)
	f(`Annotation.GameID = "X"`, `annotation.GameID = "X"`)
	f(`SERVICE("Api") { ROOT }`, `service("Api") { root }`)
}

func TestParsePrecedence(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		e, err := Parse(in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", in, err)
		}
		if got := e.String(); got != want {
			t.Errorf("Parse(%q).String() = %q, want %q", in, got, want)
		}
	}
	f(`ok OR fault AND error`, `(ok OR (fault AND error))`)
	f(`ok || fault && error`, `(ok OR (fault AND error))`)
	f(`!ok AND fault`, `(!ok AND fault)`)
	f(`!(ok AND fault)`, `!(ok AND fault)`)
	f(`not not ok`, `!!ok`)
	f(`ok fault OR error partial`, `((ok AND fault) OR (error AND partial))`)
	f(`(ok OR fault) error`, `((ok OR fault) AND error)`)
	f(`responsetime > -1.25`, `responsetime > -1.25`)
	f(`http.status = 0200`, `http.status = 200`)
	f(`annotation["aws:api_id"] = "x"`, `annotation["aws:api_id"] = "x"`)
	f(`annotation[gameid]`, `annotation["gameid"]`)
	f(`annotation.a.b = 1.5`, `annotation.a.b = 1.5`)
	f(`annotation.x = true`, `annotation.x = true`)
	f(`annotation.x != FALSE`, `annotation.x != false`)
	f(`annotation.x = bare`, `annotation.x = "bare"`)
	f(`user = "q\"uote\\back\slash"`, `user = "q\"uote\\back\\slash"`)
	f("user = \"multi\nline\"", "user = \"multi\nline\"")
	f(`edge(id(name: "a"), id(type: "t", account.id: "1")) { ok }`, `edge(id(name: "a"), id(type: "t", account.id: "1")) { ok }`)
}

func TestParseErrors(t *testing.T) {
	f := func(in string, pos int, msg string) {
		t.Helper()
		_, err := Parse(in)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Parse(%q) = %v, want a *SyntaxError", in, err)
			return
		}
		if se.Pos != pos || !strings.Contains(se.Msg, msg) {
			t.Errorf("Parse(%q) = %q at %d, want %q at %d", in, se.Msg, se.Pos, msg, pos)
		}
	}
	f(``, 0, "expected a filter expression")
	f(`   `, 3, "expected a filter expression")
	f(`responsetime`, 12, "expected a comparison operator (=, !=, <, <=, >, >=) after 'responsetime', found end of expression")
	f(`responsetime x`, 13, "expected a comparison operator")
	f(`responsetime > "5"`, 15, "expected a number after 'responsetime >'")
	f(`responsetime CONTAINS 5`, 13, "expected a comparison operator")
	f(`responstime > 1`, 0, "unknown keyword 'responstime'; did you mean 'responsetime'?")
	f(`http.urll = "x"`, 0, "did you mean 'http.url'?")
	f(`http.foo = "x"`, 0, "expected http.url, http.method")
	f(`frobnicate`, 0, "unknown keyword 'frobnicate'")
	f(`ok = 1`, 5, "expected true or false after 'ok ='")
	f(`ok > true`, 3, "'ok' is a boolean keyword")
	f(`http.url > "a"`, 9, "'http.url' is a string keyword")
	f(`http.url CONTAINS 5`, 18, "expected a double-quoted string after 'http.url CONTAINS'")
	f(`http.url "x"`, 9, "expected an operator")
	f(`user = "abc`, 7, "unterminated string")
	f(`ok AND`, 6, "expected a keyword, '!' or '('")
	f(`ok OR OR fault`, 6, "expected a keyword")
	f(`(ok`, 3, "expected ')' to close the '(' at 0")
	f(`ok)`, 2, "expected AND, OR or the end of the expression")
	f(`ok & fault`, 3, "use AND/OR")
	f(`user = 'x'`, 7, "strings are written in double quotes")
	f(`service`, 7, "expected '(' after 'service'")
	f(`service("a"`, 11, "expected ')' after the service() argument")
	f(`service(a)`, 8, "expected a double-quoted service name or id(...)")
	f(`service("a") {}`, 14, "expected a filter inside { }")
	f(`service("a") { fault`, 20, "expected '}' to close the '{' at 13")
	f(`service("a") { annotation.x }`, 15, "annotation keywords cannot be used inside service() { }")
	f(`service("a") { partial }`, 15, "keyword 'partial' cannot be used inside service() { }")
	f(`service("a") { service("b") }`, 15, "service() cannot be used inside service() { }")
	f(`edge("a", "b") { root }`, 17, "keyword 'root' cannot be used inside edge() { }")
	f(`edge("a")`, 8, "expected ',' between the two nodes of edge()")
	f(`edge(id(account.id: "1"), "b")`, 8, "account.id is not supported for the source node of edge()")
	f(`service(id())`, 11, "expected name:, type: or account.id: in id()")
	f(`service(id(name "a"))`, 16, "expected ':' after 'name' in id()")
	f(`service(id(region: "a"))`, 11, "unknown id() argument 'region'")
	f(`service(id(name: "a", name: "b"))`, 22, "id() argument 'name' given twice")
	f(`id(name: "a")`, 0, "id(...) is only valid as the argument of service() or edge()")
	f(`root`, 0, "keyword 'root' cannot be used at the top level; it is valid inside service() { }")
	f(`name = "x"`, 0, "keyword 'name' cannot be used at the top level")
	f(`coverage > 1`, 0, "valid inside rootcause.responsetime.entity { }")
	f(`rootcause.fault.entity { coverage > 0.5 }`, 25, "keyword 'coverage' cannot be used inside rootcause.*.entity { }")
	f(`rootcause.fault.service { message = "x" }`, 26, "keyword 'message' cannot be used")
	f(`rootcause.responsetime.exception { first }`, 0, "unknown keyword 'rootcause.responsetime.exception'")
	f(`rootcause.fault.service`, 23, "expected '{' after 'rootcause.fault.service'")
	f(`rootcause.json = [1]`, 17, "expected #[ ... ] (a JSON array)")
	f(`rootcause.json = #{}`, 18, "expected a JSON array after '#'")
	f(`rootcause.json = #[1,]`, 17, "invalid JSON after '#'")
	f(`rootcause.json = #["a`, 18, "unterminated JSON array")
	f(`group.name "x"`, 11, "expected '=' or '!=' after 'group.name'")
	f(`group.name = x`, 13, "expected a double-quoted group name")
	f(`annotation`, 10, "expected '.KEY' or '[\"KEY\"]' after 'annotation'")
	f(`annotation.`, 0, "expected an annotation key after 'annotation.'")
	f(`annotation[]`, 11, "expected an annotation key inside annotation[ ]")
	f(`annotation[a:b]`, 12, "expected ']' after the annotation key")
	f(`annotation.x CONTAINS 5`, 22, "CONTAINS needs a string operand")
	f(`annotation.x > true`, 13, "a boolean annotation value can only follow = or !=")
	f(`annotation.x > "s"`, 15, "expected a number after 'annotation.x >'")
	f(`annotation.x "s"`, 13, "expected an operator after 'annotation.x'")
	f(`true`, 0, "a boolean value must follow a keyword")
	f(`CONTAINS "x"`, 0, "expected a keyword before it")
	f(`responsetime > 1.`, 17, "expected a digit after the decimal point")
	f(`responsetime > 1`+strings.Repeat("0", 400), 15, "out of range")
	f(strings.Repeat("(", 70)+"ok"+strings.Repeat(")", 70), 64, "nested more than 64 levels deep")
	f(strings.Repeat("!", 70)+"ok", 64, "nested more than 64 levels deep")
	f(strings.Repeat("ok ", 5000), 12288, "more than 4096 tokens")
	f("ok \x01", 3, "unexpected character")
}

func TestParseRoundTrip(t *testing.T) {
	for _, s := range append(testExprs(), roundTripExtra...) {
		e, err := Parse(s)
		if err != nil {
			t.Errorf("Parse(%q): %v", s, err)
			continue
		}
		again, err := Parse(e.String())
		if err != nil {
			t.Errorf("Parse(String(%q)) = Parse(%q): %v", s, e.String(), err)
			continue
		}
		if !reflect.DeepEqual(e, again) {
			t.Errorf("round trip of %q through %q changed the tree", s, e.String())
		}
	}
}

var roundTripExtra = []string{
	`group.name = "high_response_time" AND user = "alice"`, `group.arn != "arn:x"`,
	`annotation.x = -0`, `responsetime > 0.000001`, `annotation.n = 123456789012345678901234567890`,
	`user = "\\\""`, `annotation["a\"b"]`,
}
