package filter

import (
	"errors"
	"fmt"
	"strings"
)

// GroupRef names a group referenced by `group.name = "…"` (Name set) or
// `group.arn = "…"` (ARN set).
type GroupRef struct {
	Name, ARN string
}

// Groups lists the groups the expression references, in order of
// appearance, without duplicates.
func (e *Expr) Groups() []GroupRef {
	var out []GroupRef
	seen := map[GroupRef]bool{}
	walk(e.root, func(n node) {
		if g, ok := n.(*groupPred); ok {
			r := g.ref()
			if !seen[r] {
				seen[r] = true
				out = append(out, r)
			}
		}
	})
	return out
}

func (g *groupPred) ref() GroupRef {
	if g.arn {
		return GroupRef{ARN: g.val}
	}
	return GroupRef{Name: g.val}
}

// ErrGroupCycle is returned by ResolveGroups when groups reference each other in a cycle.
var ErrGroupCycle = errors.New("group expressions reference each other in a cycle")

// maxGroupDepth bounds nested group references.
const maxGroupDepth = 8

// ResolveGroups returns a copy of e in which every group.name/group.arn
// predicate is bound to the filter expression of that group, as returned by
// lookup (xray.md §5.4: "recursively evaluate the group's stored
// expression"). An empty expression matches every trace. Errors from lookup
// are returned wrapped; a syntax error in a group's expression is reported
// with the group's name.
func (e *Expr) ResolveGroups(lookup func(GroupRef) (string, error)) (*Expr, error) {
	root, err := resolve(e.root, lookup, nil)
	if err != nil {
		return nil, err
	}
	return &Expr{root: root}, nil
}

func resolve(n node, lookup func(GroupRef) (string, error), stack []GroupRef) (node, error) {
	switch n := n.(type) {
	case *andNode:
		l, err := resolve(n.l, lookup, stack)
		if err != nil {
			return nil, err
		}
		r, err := resolve(n.r, lookup, stack)
		if err != nil {
			return nil, err
		}
		return &andNode{l: l, r: r}, nil
	case *orNode:
		l, err := resolve(n.l, lookup, stack)
		if err != nil {
			return nil, err
		}
		r, err := resolve(n.r, lookup, stack)
		if err != nil {
			return nil, err
		}
		return &orNode{l: l, r: r}, nil
	case *notNode:
		x, err := resolve(n.x, lookup, stack)
		if err != nil {
			return nil, err
		}
		return &notNode{x: x}, nil
	case *groupPred:
		ref := n.ref()
		for _, s := range stack {
			if s == ref {
				return nil, fmt.Errorf("group %s: %w", describeRefs(append(stack, ref)), ErrGroupCycle)
			}
		}
		if len(stack) >= maxGroupDepth {
			return nil, fmt.Errorf("group %s: references nest more than %d deep", describeRefs(append(stack, ref)), maxGroupDepth)
		}
		text, err := lookup(ref)
		if err != nil {
			return nil, fmt.Errorf("group %s: %w", describeRefs([]GroupRef{ref}), err)
		}
		var sub node = trueNode{}
		if strings.TrimSpace(text) != "" {
			x, err := Parse(text)
			if err != nil {
				return nil, fmt.Errorf("filter expression of group %s: %w", describeRefs([]GroupRef{ref}), err)
			}
			if sub, err = resolve(x.root, lookup, append(stack, ref)); err != nil {
				return nil, err
			}
		}
		g := *n
		g.resolved = sub
		return &g, nil
	}
	return n, nil
}

func describeRefs(refs []GroupRef) string {
	parts := make([]string, len(refs))
	for i, r := range refs {
		if r.ARN != "" {
			parts[i] = fmt.Sprintf("%q", r.ARN)
		} else {
			parts[i] = fmt.Sprintf("%q", r.Name)
		}
	}
	return strings.Join(parts, " → ")
}

// trueNode is the resolved expression of a group without a filter.
type trueNode struct{}

func (trueNode) write(b *strings.Builder) { b.WriteString("(true)") }

// walk calls f for n and every node below it, including resolved groups.
func walk(n node, f func(node)) {
	f(n)
	switch n := n.(type) {
	case *andNode:
		walk(n.l, f)
		walk(n.r, f)
	case *orNode:
		walk(n.l, f)
		walk(n.r, f)
	case *notNode:
		walk(n.x, f)
	case *groupPred:
		if n.resolved != nil {
			walk(n.resolved, f)
		}
	}
}

// NeedsMatch reports whether SQL's condition only narrows the candidates:
// rootcause.* and rootcause.json predicates depend on root-cause paths that
// the spans table cannot express, so SQL() uses a necessary condition for
// them and callers must confirm each candidate trace with Match.
func (e *Expr) NeedsMatch() bool {
	found := false
	walk(e.root, func(n node) {
		switch n.(type) {
		case *rootCauseNode, *rootCauseJSON:
			found = true
		}
	})
	return found
}
