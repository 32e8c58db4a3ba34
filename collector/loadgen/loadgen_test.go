package loadgen

import (
	"testing"
	"time"

	"github.com/fluoro/fluoro/collector/segment"
)

// TestEveryBodyDecodes checks that the generator's output is what the
// collector accepts and that Stats matches what the decoder sees.
func TestEveryBodyDecodes(t *testing.T) {
	g := New(1)
	dec := segment.NewDecoder(segment.DefaultLimits())
	var docs []segment.Document
	shapes := map[Shape]int{}
	sizes := map[Shape][2]int{}
	type key struct{ trace, id string }
	seen := map[key]bool{}
	spans := 0
	check := func(body []byte, shape Shape) {
		t.Helper()
		var err error
		docs, err = dec.Decode(body, 1, docs[:0])
		if err != nil {
			t.Fatalf("%s body rejected: %v\n%s", shape, err, body)
		}
		for _, d := range docs {
			seen[key{d.TraceID, d.ID}] = true
			spans += len(d.Spans)
		}
	}
	for range 5000 {
		body, shape := g.Next(nil)
		shapes[shape]++
		sz := sizes[shape]
		if sz[0] == 0 || len(body) < sz[0] {
			sz[0] = len(body)
		}
		sz[1] = max(sz[1], len(body))
		sizes[shape] = sz
		check(body, shape)
	}
	for _, b := range g.Flush() {
		check(b, ShapeInProgress)
	}
	for s := range numShapes {
		if shapes[s] == 0 {
			t.Errorf("shape %s never generated", s)
		}
		t.Logf("%-10s %5d bodies, %5d..%5d bytes", s, shapes[s], sizes[s][0], sizes[s][1])
	}
	st := g.Stats()
	if st.Unique != len(seen) {
		t.Errorf("Stats.Unique = %d, decoder saw %d distinct (trace_id, id)", st.Unique, len(seen))
	}
	if st.Spans != spans {
		t.Errorf("Stats.Spans = %d, decoder saw %d", st.Spans, spans)
	}
	if sizes[ShapeFault][1] > segment.DefaultMaxDocumentBytes {
		t.Errorf("fault documents up to %d bytes exceed the 64 KiB limit", sizes[ShapeFault][1])
	}
}

func TestDatagramSplits(t *testing.T) {
	g := New(2)
	dg := g.Datagram(nil)
	body, err := segment.SplitDatagram(dg)
	if err != nil || len(body) == 0 {
		t.Fatalf("SplitDatagram: %v", err)
	}
}

func TestDeterministic(t *testing.T) {
	a, b := New(7), New(7)
	clock := func() time.Time { return time.Unix(1_700_000_000, 0) }
	a.SetClock(clock)
	b.SetClock(clock)
	for range 100 {
		x, _ := a.Next(nil)
		y, _ := b.Next(nil)
		if string(x) != string(y) {
			t.Fatalf("same seed, different bodies:\n%s\n%s", x, y)
		}
	}
}
