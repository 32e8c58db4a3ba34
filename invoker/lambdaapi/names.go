package lambdaapi

import (
	"regexp"
	"strings"
)

var (
	functionNameRE = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)
	qualifierRE    = regexp.MustCompile(`^(\$LATEST|[a-zA-Z0-9_-]{1,128})$`)
	aliasNameRE    = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,128}$`)
	versionRE      = regexp.MustCompile(`^[0-9]{1,10}$`)
	accountRE      = regexp.MustCompile(`^[0-9]{12}$`)
	envKeyRE       = regexp.MustCompile(`^[a-zA-Z]([a-zA-Z0-9_])+$`)
)

// parseFunctionName splits a FunctionName member or path label — a name,
// name:qualifier, a full ARN (arn:aws:lambda:region:account:function:name[:q])
// or a partial ARN (account:function:name[:q]) — into name and qualifier.
// Region and account of ARNs are not checked: everything runs here.
func parseFunctionName(s string) (name, qualifier string, err error) {
	if len(s) == 0 || len(s) > 256 {
		return "", "", invalidParam("1 validation error detected: Value '%s' at 'functionName' failed to satisfy constraint: Member must have length between 1 and 140", s)
	}
	if strings.IndexByte(s, ':') < 0 && validFunctionName(s) {
		return s, "", nil // the common case: a plain name
	}
	parts := strings.Split(s, ":")
	switch {
	case len(parts) >= 7 && parts[0] == "arn" && parts[2] == "lambda" && parts[5] == "function":
		parts = parts[6:]
	case len(parts) >= 3 && parts[1] == "function" && accountRE.MatchString(parts[0]):
		parts = parts[2:]
	}
	switch len(parts) {
	case 1:
		name = parts[0]
	case 2:
		name, qualifier = parts[0], parts[1]
	default:
		return "", "", invalidParam("1 validation error detected: Value '%s' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?", s)
	}
	if !functionNameRE.MatchString(name) {
		return "", "", invalidParam("1 validation error detected: Value '%s' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9-_]+ and have length between 1 and 64", s)
	}
	if qualifier != "" && !qualifierRE.MatchString(qualifier) {
		return "", "", invalidParam("1 validation error detected: Value '%s' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: (|[a-zA-Z0-9$_-]+)", qualifier)
	}
	return name, qualifier, nil
}

// nameAndQualifier combines the path label with an optional ?Qualifier=.
func nameAndQualifier(label, query string) (name, qualifier string, err error) {
	name, q, err := parseFunctionName(label)
	if err != nil {
		return "", "", err
	}
	if query != "" {
		if !qualifierRE.MatchString(query) {
			return "", "", invalidParam("1 validation error detected: Value '%s' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: (|[a-zA-Z0-9$_-]+)", query)
		}
		if q != "" && q != query {
			return "", "", invalidParam("The derived qualifier from the function name does not match the specified qualifier.")
		}
		q = query
	}
	return name, q, nil
}

// validFunctionName is functionNameRE.MatchString without the regexp.
func validFunctionName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
