package filter

import (
	"fmt"
	"strconv"
	"strings"
)

// SQL expressions over rows of the spans table, shared by the back-end.
// Lambda parameters end in "_" so that they cannot collide with aliases of
// the enclosing query (chstore.TraceIDs names a column t).
const (
	// sqlClass classifies a row like spanClass: 0 ok, 1 error, 2 throttle, 3 fault.
	sqlClass = "multiIf(fault = 1, 3, throttle = 1, 2, error = 1, 1, " +
		"http_status >= 500 AND http_status < 600, 3, http_status = 429, 2, " +
		"http_status >= 400 AND http_status < 500, 1, 0)"
	sqlDurRow = "if(end_us >= start_us, end_us - start_us, 0)"
	sqlAllIDs = "groupArray(id)"
	// sqlRootCands are the segments without a parent in the trace, as
	// tuples starting with (start_us, id); the smallest is the root. The
	// tuple members are read with sqlRootVal.
	sqlRootCands = "arrayFilter(ft_ -> tupleElement(ft_, 3) = '' OR NOT has(" + sqlAllIDs + ", tupleElement(ft_, 3)), " +
		"groupArrayIf((start_us, id, parent_id, " + sqlClass + ", in_progress, " + sqlDurRow + ", http_status, " +
		"http_url, http_method, http_user_agent, http_client_ip), is_segment = 1))"
	sqlHasRoot = "notEmpty(" + sqlRootCands + ")"
	// sqlInferrable mirrors inferrable().
	sqlInferrable = "(is_segment = 0 AND (namespace IN ('aws', 'remote') OR sql_url != '' OR sql_database_type != ''))"
	sqlAWSRes     = "namespace = 'aws' AND aws_resource != '' AND name = "
	sqlLambda     = sqlAWSRes + "'Lambda' AND aws_operation = 'Invoke'"
	sqlIsSQL      = "sql_url != '' OR sql_database_type != ''"
	// sqlInfName and sqlInfType mirror inferredNode().
	sqlInfName = "multiIf(" +
		sqlAWSRes + "'DynamoDB', aws_resource, " +
		sqlAWSRes + "'SQS', splitByChar('/', aws_resource)[-1], " +
		sqlAWSRes + "'S3', aws_resource, " +
		sqlLambda + ", splitByChar(':', if(position(aws_resource, ':function:') > 0, " +
		"substring(aws_resource, position(aws_resource, ':function:') + 10), aws_resource))[1], name)"
	sqlInfType = "multiIf(" +
		sqlAWSRes + "'DynamoDB', 'AWS::DynamoDB::Table', " +
		sqlAWSRes + "'SQS', 'AWS::SQS::Queue', " +
		sqlAWSRes + "'S3', 'AWS::S3::Bucket', " +
		sqlLambda + ", 'AWS::Lambda', " +
		"namespace = 'aws', concat('AWS::', name), " + sqlIsSQL + ", 'Database::SQL', 'remote')"
	sqlSegParents = "groupArrayIf(parent_id, is_segment = 1)"
	sqlDuration   = "if(maxIf(end_us, in_progress = 0) > min(start_us), maxIf(end_us, in_progress = 0) - min(start_us), 0)"
)

// Members of the sqlRootCands tuples.
const (
	rootClass = iota + 4
	rootInProgress
	rootDur
	rootStatus
	rootURL
	rootMethod
	rootUserAgent
	rootClientIP
)

// sqlRootVal is member k of the root's tuple (see sqlRootCands).
func sqlRootVal(k int) string {
	return "tupleElement(arraySort(" + sqlRootCands + ")[1], " + strconv.Itoa(k) + ")"
}

// SQL translates the expression into a HAVING condition over rows of the
// spans table grouped by trace_id (ClickHouse 18.16 and later). Every value
// taken from the expression is a bound "?" parameter in args (strings as
// string, numbers as float64). The condition expects one row per span, as
// `FROM spans FINAL` gives; see doc.go for the exact semantics.
//
// When NeedsMatch reports true the condition is necessary but not
// sufficient and candidates must be confirmed with Match. SQL fails for
// group.name/group.arn predicates that ResolveGroups has not bound.
func (e *Expr) SQL() (having string, args []any, err error) {
	q := &sqlBuilder{}
	if err := q.trace(e.root, false); err != nil {
		return "", nil, err
	}
	return q.b.String(), q.args, nil
}

type sqlBuilder struct {
	b    strings.Builder
	args []any
	// rowRoot is what the root keyword stands for in the block being
	// written ("1" or "0"), see service.
	rowRoot string
}

func (q *sqlBuilder) w(parts ...string) {
	for _, p := range parts {
		q.b.WriteString(p)
	}
}

func (q *sqlBuilder) arg(v any) {
	q.b.WriteByte('?')
	q.args = append(q.args, v)
}

// trace writes a trace-level condition; neg is true under an odd number of
// negations (approximations must then be under- rather than over-estimates).
func (q *sqlBuilder) trace(n node, neg bool) error {
	switch n := n.(type) {
	case *andNode, *orNode:
		l, r, op := binary(n)
		q.w("(")
		if err := q.trace(l, neg); err != nil {
			return err
		}
		q.w(op)
		if err := q.trace(r, neg); err != nil {
			return err
		}
		q.w(")")
	case *notNode:
		q.w("NOT (")
		if err := q.trace(n.x, !neg); err != nil {
			return err
		}
		q.w(")")
	case trueNode:
		q.w("1")
	case *boolPred:
		closeNot := q.boolPrefix(n)
		switch n.kw {
		case kwPartial:
			q.w("(max(in_progress) = 1 OR NOT hasAll(", sqlSegParents, ", groupArrayIf(id, is_segment = 0 AND http_traced = 1)))")
		case kwInferred:
			q.w("NOT hasAll(", sqlSegParents, ", groupArrayIf(id, ", sqlInferrable, "))")
		default:
			q.w("(", sqlHasRoot, " AND ", sqlRootVal(rootClass), classSet(n.kw), ")")
		}
		q.w(closeNot)
	case *numPred:
		switch n.kw {
		case kwDuration:
			q.w("(countIf(in_progress = 0) > 0 AND ", sqlDuration, " / 1000000 ", n.op.String(), " ")
		case kwResponseTime:
			q.w("(", sqlHasRoot, " AND ", sqlRootVal(rootInProgress), " = 0 AND ", sqlRootVal(rootDur), " / 1000000 ", n.op.String(), " ")
		case kwHTTPStatus:
			q.w("(", sqlHasRoot, " AND ", sqlRootVal(rootStatus), " != 0 AND ", sqlRootVal(rootStatus), " ", n.op.String(), " ")
		default:
			return fmt.Errorf("filter: keyword %s in trace scope", n.kw)
		}
		q.arg(n.val)
		q.w(")")
	case *strPred:
		col := strColumn(n.kw)
		switch n.kw {
		case kwHTTPURL, kwHTTPMethod, kwHTTPUserAgent, kwHTTPClientIP:
			v := sqlRootVal(rootMember(n.kw))
			q.w("(", sqlHasRoot, " AND ", v, " != '' AND ")
			q.strCond(v, n.op, n.val)
			q.w(")")
		case kwUser, kwResourceARN:
			q.w("max(", col, " != '' AND ")
			q.strCond(col, n.op, n.val)
			q.w(") = 1")
		default: // availabilityzone, instance.id: not in the spans table, never set
			q.w("0")
		}
	case *annPred:
		q.annotation(n)
	case *serviceNode:
		return q.service(n)
	case *edgeNode:
		return q.edge(n)
	case *groupPred:
		if n.resolved == nil {
			return fmt.Errorf("filter: %s must be resolved with ResolveGroups before SQL", describeRefs([]GroupRef{n.ref()}))
		}
		if n.op == opNe {
			q.w("NOT (")
			if err := q.trace(n.resolved, !neg); err != nil {
				return err
			}
			q.w(")")
			return nil
		}
		return q.trace(n.resolved, neg)
	case *rootCauseNode:
		// Necessary condition (over-estimate) when not negated, 0 (an
		// under-estimate) under negation; NeedsMatch tells callers.
		switch {
		case neg:
			q.w("0")
		case n.kind == rcFault:
			q.w("max(", sqlClass, " = 3) = 1")
		case n.kind == rcError:
			q.w("max(", sqlClass, " IN (1, 2)) = 1")
		default:
			q.w(sqlHasRoot)
		}
	case *rootCauseJSON:
		if neg {
			q.w("0")
		} else {
			q.w("1")
		}
	default:
		return fmt.Errorf("filter: unexpected node %T", n)
	}
	return nil
}

func binary(n node) (l, r node, op string) {
	if a, ok := n.(*andNode); ok {
		return a.l, a.r, " AND "
	}
	o := n.(*orNode)
	return o.l, o.r, " OR "
}

// service writes service(ref) { block }: a segment of the node, or a
// subsegment generating the inferred node, satisfies block. A block that
// tests root is written twice, with root fixed to true (the segment's parent
// is not in the trace) and to false (it is).
func (q *sqlBuilder) service(n *serviceNode) error {
	ref := func(name, typ string) {
		if n.ref != nil {
			q.ref(n.ref, name, typ, "aws_account_id")
		}
	}
	q.w("(")
	if usesRoot(n.block) {
		q.w("NOT hasAll(", sqlAllIDs, ", groupArrayIf(parent_id, is_segment = 1")
		ref("name", "origin")
		q.rowRoot = "1"
		if err := q.block(n.block); err != nil {
			return err
		}
		q.w(")) OR hasAny(groupArrayIf(parent_id, is_segment = 1")
		ref("name", "origin")
		q.rowRoot = "0"
		if err := q.block(n.block); err != nil {
			return err
		}
		q.w("), ", sqlAllIDs, ")")
	} else {
		q.w("max(is_segment = 1")
		ref("name", "origin")
		if err := q.block(n.block); err != nil {
			return err
		}
		q.w(") = 1")
	}
	q.w(" OR NOT hasAll(", sqlSegParents, ", groupArrayIf(id, ", sqlInferrable)
	ref(sqlInfName, sqlInfType)
	q.rowRoot = "0" // an inferred node is never the entry point
	if err := q.block(n.block); err != nil {
		return err
	}
	q.rowRoot = ""
	q.w(")))")
	return nil
}

func usesRoot(n node) bool {
	found := false
	if n != nil {
		walk(n, func(x node) {
			if b, ok := x.(*boolPred); ok && b.kw == kwRoot {
				found = true
			}
		})
	}
	return found
}

// boolPrefix opens a NOT for `kw = false` / `kw != true` and returns what closes it.
func (q *sqlBuilder) boolPrefix(n *boolPred) string {
	if n.op != opNone && (n.val == (n.op == opNe)) {
		q.w("NOT (")
		return ")"
	}
	return ""
}

func classSet(kw keyword) string {
	switch kw {
	case kwOK:
		return " = 0"
	case kwError:
		return " IN (1, 2)"
	case kwThrottle:
		return " = 2"
	}
	return " = 3" // fault
}

func rootMember(kw keyword) int {
	switch kw {
	case kwHTTPURL:
		return rootURL
	case kwHTTPMethod:
		return rootMethod
	case kwHTTPUserAgent:
		return rootUserAgent
	}
	return rootClientIP
}

func strColumn(kw keyword) string {
	switch kw {
	case kwHTTPURL:
		return "http_url"
	case kwHTTPMethod:
		return "http_method"
	case kwHTTPUserAgent:
		return "http_user_agent"
	case kwHTTPClientIP:
		return "http_client_ip"
	case kwUser:
		return "user"
	case kwResourceARN:
		return "resource_arn"
	}
	return ""
}

// strCond writes the string operator applied to the SQL expression x.
func (q *sqlBuilder) strCond(x string, op cmpOp, val string) {
	switch {
	case op == opNone || (val == "" && (op == opContains || op == opBeginsWith || op == opEndsWith)):
		q.w("1")
	case op == opEq:
		q.w(x, " = ")
		q.arg(val)
	case op == opNe:
		q.w(x, " != ")
		q.arg(val)
	case op == opContains:
		q.w("position(", x, ", ")
		q.arg(val)
		q.w(") > 0")
	case op == opBeginsWith:
		q.w("startsWith(", x, ", ")
		q.arg(val)
		q.w(")")
	case op == opEndsWith:
		q.w("endsWith(", x, ", ")
		q.arg(val)
		q.w(")")
	}
}

func (q *sqlBuilder) annotation(n *annPred) {
	if n.op == opNone {
		q.w("max(has(ann_str.key, ")
		q.arg(n.key)
		q.w(") OR has(ann_num.key, ")
		q.arg(n.key)
		q.w(") OR has(ann_bool.key, ")
		q.arg(n.key)
		q.w(")) = 1")
		return
	}
	q.w("max(arrayExists((fk_, fv_) -> fk_ = ")
	q.arg(n.key)
	q.w(" AND ")
	switch n.val.kind {
	case litString:
		q.strCond("fv_", n.op, n.val.s)
		q.w(", ann_str.key, ann_str.value)) = 1")
	case litNumber:
		q.w("fv_ ", n.op.String(), " ")
		q.arg(n.val.n)
		q.w(", ann_num.key, ann_num.value)) = 1")
	case litBool:
		if n.val.b == (n.op == opEq) {
			q.w("fv_ = 1")
		} else {
			q.w("fv_ = 0")
		}
		q.w(", ann_bool.key, ann_bool.value)) = 1")
	}
}

// ref writes " AND name = ? AND type = ? AND account = ?" for the parts r sets.
func (q *sqlBuilder) ref(r *nodeRef, name, typ, account string) {
	if r.hasName {
		q.w(" AND ", name, " = ")
		q.arg(r.name)
	}
	if r.hasType {
		q.w(" AND ", typ, " = ")
		q.arg(r.typ)
	}
	if r.hasAccount {
		q.w(" AND ", account, " = ")
		q.arg(r.account)
	}
}

// block writes " AND (row condition)" for a service()/edge() block.
func (q *sqlBuilder) block(n node) error {
	if n == nil {
		return nil
	}
	q.w(" AND ")
	return q.row(n)
}

// edge mirrors evalEdge: caller subsegment answered by a segment, caller
// subsegment generating an inferred node, or segment under a segment.
func (q *sqlBuilder) edge(n *edgeNode) error {
	q.w("(hasAny(groupArrayIf(id, is_segment = 0 AND service != ''")
	q.ref(&n.src, "service", "origin", "")
	if err := q.block(n.block); err != nil {
		return err
	}
	q.w("), groupArrayIf(parent_id, is_segment = 1")
	q.ref(&n.dst, "name", "origin", "aws_account_id")
	q.w(")) OR NOT hasAll(", sqlSegParents, ", groupArrayIf(id, ", sqlInferrable, " AND service != ''")
	q.ref(&n.src, "service", "origin", "")
	q.ref(&n.dst, sqlInfName, sqlInfType, "aws_account_id")
	if err := q.block(n.block); err != nil {
		return err
	}
	q.w(")) OR hasAny(groupArrayIf(id, is_segment = 1")
	q.ref(&n.src, "name", "origin", "aws_account_id")
	q.w("), groupArrayIf(parent_id, is_segment = 1 AND parent_id != ''")
	q.ref(&n.dst, "name", "origin", "aws_account_id")
	if err := q.block(n.block); err != nil {
		return err
	}
	q.w(")))")
	return nil
}

// row writes a condition on one row for service()/edge() blocks; it mirrors evalSpan.
func (q *sqlBuilder) row(n node) error {
	switch n := n.(type) {
	case *andNode, *orNode:
		l, r, op := binary(n)
		q.w("(")
		if err := q.row(l); err != nil {
			return err
		}
		q.w(op)
		if err := q.row(r); err != nil {
			return err
		}
		q.w(")")
	case *notNode:
		q.w("NOT (")
		if err := q.row(n.x); err != nil {
			return err
		}
		q.w(")")
	case *boolPred:
		closeNot := q.boolPrefix(n)
		if n.kw == kwRoot {
			if q.rowRoot == "" {
				return fmt.Errorf("filter: root outside service() { }")
			}
			q.w(q.rowRoot)
		} else {
			q.w(sqlClass, classSet(n.kw))
		}
		q.w(closeNot)
	case *numPred:
		switch n.kw {
		case kwResponseTime, kwDuration:
			q.w("(in_progress = 0 AND ", sqlDurRow, " / 1000000 ", n.op.String(), " ")
		case kwHTTPStatus:
			q.w("(http_status != 0 AND http_status ", n.op.String(), " ")
		default:
			return fmt.Errorf("filter: keyword %s in a service/edge block", n.kw)
		}
		q.arg(n.val)
		q.w(")")
	case *strPred:
		col := strColumn(n.kw)
		if col == "" {
			q.w("0")
			return nil
		}
		q.w("(", col, " != '' AND ")
		q.strCond(col, n.op, n.val)
		q.w(")")
	default:
		return fmt.Errorf("filter: unexpected node %T in a service/edge block", n)
	}
	return nil
}
