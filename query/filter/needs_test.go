package filter

import (
	"reflect"
	"testing"

	"github.com/fluoro/fluoro/collector/segment"
)

func TestSpanNeeds(t *testing.T) {
	av := func(k, v string) AnnotationValue { return AnnotationValue{Key: k, Value: v} }
	tests := []struct {
		expr string
		want []Need
	}{
		{`fault`, []Need{{Classes: ClassFault}}},
		{`error = true`, []Need{{Classes: ClassError | ClassThrottle}}},
		{`throttle != false`, []Need{{Classes: ClassThrottle}}},
		{`fault = false`, nil},
		{`ok`, nil},
		{`!fault`, nil},
		{`responsetime > 5`, nil},
		{`service("checkout") { fault }`, []Need{{Classes: ClassFault}}},
		{`service("checkout")`, nil},
		{`edge("a", "b") { error }`, []Need{{Classes: ClassError | ClassThrottle}}},
		{`fault AND annotation.tenant = "t1"`, []Need{{Classes: ClassFault}, {Annotations: []AnnotationValue{av("tenant", "t1")}}}},
		{`fault OR throttle`, []Need{{Classes: ClassFault | ClassThrottle}}},
		{`fault OR responsetime > 5`, nil},
		{`(fault AND annotation.a = "x") OR annotation.b = "y"`, []Need{
			{Classes: ClassFault, Annotations: []AnnotationValue{av("b", "y")}},
			{Annotations: []AnnotationValue{av("a", "x"), av("b", "y")}},
		}},
		{`annotation.n = 5`, nil},
		{`annotation.s != "x"`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			e, err := Parse(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			if got := e.SpanNeeds(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("SpanNeeds() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestClassOfAndMetBy(t *testing.T) {
	tests := []struct {
		span segment.Span
		want Classes
	}{
		{segment.Span{}, 0},
		{segment.Span{HTTPStatus: 200}, 0},
		{segment.Span{Fault: true}, ClassFault},
		{segment.Span{HTTPStatus: 503}, ClassFault},
		{segment.Span{Error: true, HTTPStatus: 503}, ClassError}, // flags win
		{segment.Span{HTTPStatus: 429}, ClassThrottle},
		{segment.Span{HTTPStatus: 404}, ClassError},
	}
	for _, tt := range tests {
		if got := ClassOf(&tt.span); got != tt.want {
			t.Errorf("ClassOf(%+v) = %v, want %v", tt.span, got, tt.want)
		}
	}
	n := Need{Classes: ClassFault, Annotations: []AnnotationValue{{Key: "k", Value: "v"}}}
	has := func(v AnnotationValue) bool { return v == AnnotationValue{Key: "k", Value: "v"} }
	if !n.MetBy(ClassFault, nil) || n.MetBy(ClassError, nil) || !n.MetBy(0, has) || n.MetBy(0, func(AnnotationValue) bool { return false }) {
		t.Error("MetBy disagrees with its Need")
	}
}
