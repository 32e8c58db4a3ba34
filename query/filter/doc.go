// Package filter implements X-Ray filter expressions (xray.md §5): the
// language of GetTraceSummaries' FilterExpression, of groups and of the
// service map. Parse turns an expression into an *Expr, which has two
// back-ends that select exactly the same traces:
//
//   - (*Expr).Match evaluates it in memory over the spans of one assembled
//     trace (live views, alerting, confirming candidates);
//   - (*Expr).SQL translates it into a ClickHouse HAVING condition over the
//     rows of the spans table grouped by trace_id (chstore.TraceQuery.Having).
//     Every value from the expression is a bound "?" parameter; the SQL runs
//     on ClickHouse 18.16 and later.
//
// A differential test stores a generated corpus through chstore and requires
// both back-ends to agree on well over 100 expressions.
//
// # Grammar
//
// Keywords, AND/OR/NOT, word operators and true/false are case-insensitive;
// string values and annotation keys are case-sensitive.
//
//	expr       = orExpr ;
//	orExpr     = andExpr { ( "OR" | "||" ) andExpr } ;
//	andExpr    = unary { [ "AND" | "&&" ] unary } ;        (* juxtaposition is AND *)
//	unary      = ( "!" | "NOT" ) unary | primary ;
//	primary    = "(" expr ")" | predicate ;
//	predicate  = boolKw [ ( "=" | "!=" ) boolLit ]
//	           | numKw numOp number
//	           | strKw [ strOp strValue ]
//	           | annotation [ annOp value ]
//	           | "service" "(" [ nodeRef ] ")" [ block ]
//	           | "edge" "(" nodeRef "," nodeRef ")" [ block ]
//	           | ( "group.name" | "group.arn" ) ( "=" | "!=" ) string
//	           | rootcause block
//	           | "rootcause.json" "=" "#" jsonArray ;
//	block      = "{" expr "}" ;
//	annotation = "annotation." key | "annotation" "[" ( string | ident | number ) "]" ;
//	nodeRef    = string | "id" "(" idArg { "," idArg } ")" ;
//	idArg      = ( "name" | "type" | "account.id" ) ":" string ;   (* each at most once *)
//	rootcause  = "rootcause." ( "fault" | "error" ) "." ( "service" | "entity" | "exception" )
//	           | "rootcause.responsetime." ( "service" | "entity" ) ;
//	boolKw     = "ok" | "error" | "throttle" | "fault" | "partial" | "inferred"
//	           | "first" | "last" | "remote" | "root" ;
//	numKw      = "responsetime" | "duration" | "http.status" | "index" | "coverage" ;
//	strKw      = "http.url" | "http.method" | "http.useragent" | "http.clientip" | "user"
//	           | "name" | "type" | "message" | "availabilityzone" | "instance.id" | "resource.arn" ;
//	numOp      = "=" | "!=" | "<" | "<=" | ">" | ">=" ;
//	strOp      = "=" | "!=" | "CONTAINS" | "BEGINSWITH" | "ENDSWITH" ;
//	annOp      = numOp | strOp ;           (* the literal's type picks the annotation type *)
//	strValue   = string | ident ;          (* a bare identifier only after = and != *)
//	value      = number | string | boolLit | ident ;
//	string     = '"' { char | '\"' | '\\' } '"' ;   (* other backslashes are literal *)
//	number     = [ "-" ] digit { digit } [ "." digit { digit } ] ;
//	boolLit    = "true" | "false" ;
//	ident      = ( letter | "_" ) { letter | digit | "_" | "." } ;
//	key        = ( letter | digit | "_" ) { letter | digit | "_" | "." } ;
//
// Precedence: ! and NOT bind tightest, then AND (explicit or implied), then
// OR. Where keywords may appear (errors name the right place):
//
//	top level            ok error throttle fault partial inferred responsetime duration http.*
//	                     user availabilityzone instance.id resource.arn annotation service edge
//	                     group.* rootcause.*
//	service() { }        ok error throttle fault root responsetime duration http.* user
//	                     availabilityzone instance.id resource.arn
//	edge() { }           the same without root
//	rootcause.*.service  name type inferred first last index
//	rootcause.*.entity   name remote first last index (+ coverage for responsetime)
//	rootcause.*.exception name message first last index
//
// Errors are *SyntaxError with the byte offset (0-based; the input length
// for "at the end") and what was expected, e.g. "expected a comparison
// operator (=, !=, <, <=, >, >=) after 'responsetime', found end of
// expression at 12"; unknown keywords get a suggestion ("did you mean
// 'responsetime'?"). Nesting is limited to 64 levels and input to 4096
// tokens. String returns a normal form that parses back to the same tree.
//
// # Semantics (decisions where xray.md leaves room)
//
// The trace. Spans are deduplicated by id: a complete span beats its
// in-progress version (SQL: the caller reads `spans FINAL`, as
// chstore.TraceIDs does). Times are whole microseconds, rounded like
// chstore, so comparisons agree exactly between back-ends. The root (entry)
// segment is the segment whose parent is not in the trace that started
// first, ties broken by the smaller id (the rule of query/xraytrace).
//
// Classification (xray.md §6.5): explicit flags win over the HTTP status and
// fault > throttle > error > ok, so one span has exactly one class: fault if
// the fault flag is set, else throttle if the throttle flag is, else error if
// the error flag is, else by status: 5xx fault, 429 throttle, other 4xx
// error, anything else (including no status) ok. The keyword error also
// holds for throttles (4xx includes 429); ok, fault and throttle are
// exclusive.
//
// Trace-level keywords (xray.md §5.4): ok, error, throttle, fault,
// responsetime, http.status and http.url/method/useragent/clientip test the
// root segment; without a root they are false. responsetime is the root's
// duration (false while the root is in progress); duration is the latest end
// of a complete span minus the earliest start of any span (false while no
// span is complete). partial: a span is in progress, or a subsegment with
// http.request.traced has no segment answering it yet. inferred: the trace
// has an inferred node. user and resource.arn are true if any span
// satisfies them. availabilityzone and instance.id are not in the spans
// table (nor in segment.Span): they are never set, so only their negations
// match.
//
// Absent values: an empty string, HTTP status 0 or a missing duration fails
// every comparison, including != (so `user != "alice"` means "some span has
// a user other than alice"; write !(user = "alice") for "nobody is alice").
// A bare string keyword, or CONTAINS/BEGINSWITH/ENDSWITH "", tests that the
// value is set. String operators are byte-wise and case-sensitive.
//
// Annotations: true if any span has the key with a value of the literal's
// type that satisfies the operator (a number never equals a string "5");
// bare annotation.KEY tests that some span has the key with any type.
// annotation.a.b and annotation["a.b"] name the key "a.b" (the bracket form
// is an extension for keys with other characters, e.g. "aws:api_id").
// Annotations cannot be used inside service()/edge() blocks (xray.md §5.2).
//
// Nodes (xray.md §6.2). A segment belongs to the node (name, origin,
// aws.account_id). A subsegment with namespace aws or remote, or with SQL
// data, that no segment of the trace names as its parent generates an
// inferred node, named like query/xraytrace: DynamoDB with a table →
// (table, AWS::DynamoDB::Table); SQS with a queue URL → (last URL path
// element, AWS::SQS::Queue); S3 with a bucket → (bucket, AWS::S3::Bucket);
// Lambda Invoke with a function → (bare function name, AWS::Lambda); other
// aws calls → (subsegment name, AWS::<subsegment name>); SQL →
// (subsegment name, Database::SQL); other remote calls → (subsegment name,
// remote); its account is the subsegment's aws.account_id. "name" in a
// nodeRef compares the node name (all types), id() compares the parts given.
//
// service(ref) { f } holds when some segment of a matching node — or some
// subsegment generating a matching inferred node — satisfies f evaluated on
// that one span (its class, duration, status, URL, user…); without braces
// when such a node exists; service() matches any node. root in the block is
// true for a segment whose parent is not in the trace.
//
// edge(a, b) { f } holds when a call from a to b exists whose caller-side
// span satisfies f (xray.md §6.4): a subsegment of a (its Service/Origin
// columns name the node) answered by a segment of b, or generating the
// inferred node b; or a segment of b whose parent is a segment of a (then
// the callee's segment is the data). Independent subsegments whose segment
// was unknown at ingest (empty Service) start no edge. account.id is not
// accepted for the source node (a subsegment row does not carry its
// segment's account). Client→root edges are not modelled.
//
// Root causes (xray.md §6.6). Fault (error) root causes are the spans
// classified fault (error or throttle) none of whose children — subsegments
// and downstream segments — is; the response-time root cause follows, from
// the root, the child with the longest duration down to a leaf. Each cause
// is a path of services from the topmost ancestor: a segment starts a
// service (name, origin, account), subsegments add entities to it, and a
// cause that generates an inferred node ends with that node (inferred).
// rootcause.X.service enumerates the services of a cause; .entity the
// entities of its last service; .exception the exceptions (type as name,
// message) along the path; index is 0-based; a block holds when some
// element of some cause satisfies it. Entities are remote when an exception
// is remote or the namespace is aws/remote; coverage = entity duration /
// root duration. rootcause.json holds when every skeleton in the array
// matches some fault, error or response-time cause rendered like
// TraceSummary's root causes (members given must match, arrays
// element-wise with equal length, omitted members are wildcards).
// Root-cause paths need recursion that the spans table cannot express:
// SQL() then emits a necessary condition and NeedsMatch reports that
// candidates must be confirmed with Match.
//
// Groups: group.name and group.arn are bound with ResolveGroups (lookup
// returns the group's expression; an empty one matches every trace; cycles
// are errors). SQL fails and Match is false for unresolved groups.
package filter
