//go:build filterdev

package filter

import "testing"

func TestCorpusStats(t *testing.T) {
	corpus := genCorpus(1, 240)
	nspans := 0
	for _, c := range corpus {
		nspans += len(c.spans())
	}
	t.Logf("%d traces, %d spans", len(corpus), nspans)
	for _, s := range diffExprs {
		e, err := Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, c := range corpus {
			if e.Match(c.spans()) {
				n++
			}
		}
		t.Logf("%4d  %s", n, s)
	}
}
