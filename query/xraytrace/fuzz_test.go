package xraytrace

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/fluoro/fluoro/collector/segment"
)

// FuzzAssemble feeds two arbitrary documents (the second one an independent
// subsegment) through Assemble: it must not panic, every compiled document
// must be valid JSON unless it is an untouched invalid input, and the
// summary must marshal.
func FuzzAssemble(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	more, _ := filepath.Glob(filepath.Join("testdata", "*.txt"))
	var seeds [][]byte
	for _, p := range append(files, more...) {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	for i := range seeds {
		f.Add(seeds[i], seeds[(i+1)%len(seeds)], "17e84e76450d1777")
	}
	f.Add([]byte(`{"id":"a","subsegments":[{"id":"b"}]}`), []byte(`{"type":"subsegment","id":"c","parent_id":"b","name":"\u0000\ud800"}`), "b")
	f.Fuzz(func(t *testing.T, seg, sub []byte, parent string) {
		if len(seg)+len(sub) > 1<<16 {
			return
		}
		docs := []Doc{
			{ID: "s", Kind: segment.KindSegment, Raw: seg},
			{ID: "x", ParentID: parent, Kind: segment.KindSubsegment, Raw: sub},
		}
		a := Assemble(tid, docs)
		tr := a.Trace(0)
		for _, s := range tr.Segments {
			if !json.Valid([]byte(s.Document)) && !bytes.Equal([]byte(s.Document), seg) && !bytes.Equal([]byte(s.Document), sub) {
				t.Fatalf("compiled document is not JSON: %q", s.Document)
			}
		}
		if _, err := json.Marshal(a.Summary()); err != nil {
			t.Fatal(err)
		}
	})
}
