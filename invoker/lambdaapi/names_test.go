package lambdaapi

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestParseFunctionName(t *testing.T) {
	tests := []struct {
		in, name, q string
		err         bool
	}{
		{in: "orders", name: "orders"},
		{in: "orders:live", name: "orders", q: "live"},
		{in: "orders:$LATEST", name: "orders", q: "$LATEST"},
		{in: "arn:aws:lambda:us-east-1:000000000000:function:orders", name: "orders"},
		{in: "arn:aws:lambda:eu-west-1:123456789012:function:orders:7", name: "orders", q: "7"},
		{in: "123456789012:function:orders", name: "orders"},
		{in: "123456789012:function:orders:live", name: "orders", q: "live"},
		{in: "", err: true},
		{in: "has space", err: true},
		{in: "a:b:c:d", err: true},
		{in: "orders:bad!q", err: true},
		{in: strings.Repeat("x", 65), err: true},
	}
	for _, tc := range tests {
		name, q, err := parseFunctionName(tc.in)
		if tc.err {
			var ae *APIError
			if !errors.As(err, &ae) || ae.Code != "InvalidParameterValueException" {
				t.Errorf("parseFunctionName(%q) err = %v", tc.in, err)
			}
			continue
		}
		if err != nil || name != tc.name || q != tc.q {
			t.Errorf("parseFunctionName(%q) = %q, %q, %v; want %q, %q", tc.in, name, q, err, tc.name, tc.q)
		}
	}
}

func TestNameAndQualifier(t *testing.T) {
	if _, _, err := nameAndQualifier("f:1", "2"); err == nil {
		t.Error("conflicting qualifiers accepted")
	}
	if n, q, err := nameAndQualifier("f:1", "1"); err != nil || n != "f" || q != "1" {
		t.Errorf("same qualifier twice: %q %q %v", n, q, err)
	}
	if n, q, err := nameAndQualifier("f", "live"); err != nil || n != "f" || q != "live" {
		t.Errorf("query qualifier: %q %q %v", n, q, err)
	}
}

func TestPaginate(t *testing.T) {
	items := []int{1, 2, 3, 4, 5}
	page, next, err := paginate(items, "", "2", 50)
	if err != nil || len(page) != 2 || next != "2" {
		t.Fatalf("first page %v %q %v", page, next, err)
	}
	page, next, err = paginate(items, next, "2", 50)
	if err != nil || page[0] != 3 || next != "4" {
		t.Fatalf("second page %v %q %v", page, next, err)
	}
	page, next, _ = paginate(items, next, "2", 50)
	if len(page) != 1 || next != "" {
		t.Fatalf("last page %v %q", page, next)
	}
	if _, _, err := paginate(items, "x", "", 50); err == nil {
		t.Error("bad marker accepted")
	}
	if _, _, err := paginate(items, "", "0", 50); err == nil {
		t.Error("MaxItems 0 accepted")
	}
}

func TestValidateEnvironment(t *testing.T) {
	if err := validateEnvironment(map[string]string{"GOOD_1": "x"}); err != nil {
		t.Error(err)
	}
	for _, bad := range []map[string]string{{"AWS_REGION": "x"}, {"1BAD": "x"}, {"BIG": strings.Repeat("x", 4096)}} {
		if err := validateEnvironment(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func FuzzParseFunctionName(f *testing.F) {
	for _, s := range []string{"orders", "orders:live", "arn:aws:lambda:us-east-1:000000000000:function:orders:7", "123456789012:function:x", "::", "a:b:c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name, q, err := parseFunctionName(s)
		if err != nil {
			return
		}
		if !functionNameRE.MatchString(name) || (q != "" && !qualifierRE.MatchString(q)) {
			t.Fatalf("accepted %q as %q %q", s, name, q)
		}
	})
}

func TestValidFunctionNameMatchesPattern(t *testing.T) {
	for _, s := range []string{"", "a", "orders", "my-fn_2", "has space", "dot.ted", "colon:x", "ünï", strings.Repeat("x", 64), strings.Repeat("x", 65), "$LATEST", "-", "_"} {
		if got, want := validFunctionName(s), functionNameRE.MatchString(s); got != want {
			t.Errorf("validFunctionName(%q) = %v, regexp says %v", s, got, want)
		}
	}
}

// TestInvokeRouteMatchesServeMux: the router's Invoke shortcut takes a path
// only when the ServeMux would send it to the Invoke handler with the same
// {name}.
func TestInvokeRouteMatchesServeMux(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc(invokePattern, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "invoke:"+r.PathValue("name"))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "other") })
	paths := []string{
		"/2015-03-31/functions/noop/invocations",
		"/2015-03-31/functions/arn:aws:lambda:us-east-1:000000000000:function:noop:7/invocations",
		"/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Anoop/invocations",
		"/2015-03-31/functions/a%2Fb/invocations",
		"/2015-03-31/functions//invocations",
		"/2015-03-31/functions/./invocations",
		"/2015-03-31/functions/../invocations",
		"/2015-03-31/functions/a/b/invocations",
		"/2015-03-31/functions/a/invocations/",
		"/2015-03-31//functions/a/invocations",
		"/2015-03-31/functions/invocations",
		"/2015-03-31/functions/a/invocationsx",
	}
	for _, p := range paths {
		for _, method := range []string{http.MethodPost, http.MethodGet} {
			r := httptest.NewRequest(method, p, nil)
			viaMux := httptest.NewRecorder()
			mux.ServeHTTP(viaMux, r)
			r = httptest.NewRequest(method, p, nil)
			viaRouter := httptest.NewRecorder()
			rt := &router{mux: mux, invoke: func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, "invoke:"+r.PathValue("name"))
			}}
			rt.ServeHTTP(viaRouter, r)
			if viaMux.Code != viaRouter.Code || viaMux.Body.String() != viaRouter.Body.String() {
				t.Errorf("%s %s: mux %d %q, router %d %q", method, p, viaMux.Code, viaMux.Body, viaRouter.Code, viaRouter.Body)
			}
		}
	}
}
